// scatter_add's two strategies (dense contribution reduction, sort) forced in turn: both against
// the float64 reference (class D) on awkward shapes and views, the sort also against the dense
// graph's one-hot sum; the sort bit-identical to a CPU float32 sum in its documented tree order
// (10,007 colliding updates, fused and unfused; a hash-grid level of 65,536 updates, run twice);
// out-of-range indices; the size rule.
#include <cmath>
#include <cstring>
#include <random>

#include "graph/scatter.hpp"
#include "support/harness.hpp"
#include "util/flags.hpp"

namespace descent::testing {
namespace {

using detail::ScatterStrategy;

/// Forces a strategy while alive (graphs are built inside its lifetime).
struct Force {
  explicit Force(ScatterStrategy s) { detail::scatter_strategy_override() = s; }
  ~Force() { detail::scatter_strategy_override() = ScatterStrategy::kAuto; }
};

const ScatterStrategy kAll[] = {ScatterStrategy::kDense, ScatterStrategy::kSort,
                                ScatterStrategy::kSortPairs};
const char* name(ScatterStrategy s) {
  return s == ScatterStrategy::kDense  ? "dense"
         : s == ScatterStrategy::kSort ? "sort"
                                       : "sort pairs";
}

/// The documented order of the sort strategy for one target: its contributions c (increasing k)
/// right-aligned in a power-of-two row padded with empty slots on the left, adjacent pairs added
/// level by level (earlier + later), an empty half passing the other through; then acc + that sum
/// (acc + 0 when nothing lands). Written from the description, not from the implementation.
float documented_sort_sum(float acc, const std::vector<float>& c) {
  if (c.empty()) return acc + 0.0f;
  size_t width = 1;
  while (width < c.size()) width *= 2;
  std::vector<float> row(width);
  std::vector<bool> full(width, false);
  for (size_t i = 0; i < c.size(); ++i) {
    row[width - c.size() + i] = c[i];
    full[width - c.size() + i] = true;
  }
  for (; width > 1; width /= 2) {
    for (size_t p = 0; p < width / 2; ++p) {
      size_t a = 2 * p, b = 2 * p + 1;
      row[p] = full[a] && full[b] ? row[a] + row[b] : (full[a] ? row[a] : row[b]);
      full[p] = full[a] || full[b];
    }
  }
  return acc + row[0];
}

/// acc [m, inner] + values [n, inner] scattered along axis 0, in the documented sort order.
std::vector<float> sort_reference(const std::vector<float>& acc, const std::vector<float>& vals,
                                  const std::vector<uint32_t>& idx, int64_t m, int64_t inner) {
  std::vector<std::vector<int64_t>> by_target(static_cast<size_t>(m));
  for (size_t k = 0; k < idx.size(); ++k) by_target[idx[k]].push_back(static_cast<int64_t>(k));
  std::vector<float> out(acc.size());
  for (int64_t j = 0; j < m; ++j)
    for (int64_t i = 0; i < inner; ++i) {
      std::vector<float> c;
      for (int64_t k : by_target[j]) c.push_back(vals[k * inner + i]);
      out[j * inner + i] = documented_sort_sum(acc[j * inner + i], c);
    }
  return out;
}

/// Runs `fn` fused twice and (if asked) unfused once; all must agree bit for bit.
std::vector<float> run_all(const std::function<Array(Scope&)>& fn, const std::string& what,
                           bool unfused) {
  std::vector<std::vector<float>> r;
  for (bool fusion : {true, true, false}) {
    if (!fusion && !unfused) break;
    detail::mutable_flags().disable_fusion = !fusion;
    Parameter out;
    Graph g = env().build_graph([&](Scope& s) {
      Array v = fn(s);
      out = env().static_parameter(v.shape(), env().unique_name("sort_out"));
      s.write_parameter_value(out, v);
    });
    detail::mutable_flags().disable_fusion = false;
    env().run(g);
    r.push_back(env().read_parameter(out));
  }
  for (size_t i = 1; i < r.size(); ++i)
    EXPECT_EQ(0, std::memcmp(r[0].data(), r[i].data(), 4 * r[0].size()))
        << what << (i == 1 ? ": runs differ" : ": fused vs unfused");
  expect_no_validation_messages();
  return r[0];
}

void expect_bits(const std::vector<float>& got, const std::vector<float>& want, const char* what) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t e = 0; e < got.size(); ++e)
    ASSERT_EQ(0, std::memcmp(&got[e], &want[e], 4))
        << what << " element " << e << ": " << got[e] << " vs documented order " << want[e];
}

struct Case {
  std::string what;
  Shape acc;  // accumulator
  int axis;
  std::vector<uint32_t> idx;                // indices (all in range)
  Shape values_param;                       // stored shape of the values parameter
  std::function<Array(const Array&)> view;  // values parameter -> values view
  bool pairs = false;                       // also run the sort on (target, k) pairs
  bool unfused = false;                     // also compare the sort's fused and unfused graphs
};

/// One case under every strategy against the float64 reference: class D with n = contributions
/// + 1 and sum|terms| = |acc| + sum of |contributions| per element. check_op compares with the
/// reference run of the same graph, which would share an algorithmic bug of the sort; so the
/// sort results are also held to the dense graph's reference (a direct one-hot sum).
void check_case(const Case& c) {
  Input acc{c.acc, random_values(c.acc.element_count(), 51)};
  Input vals{c.values_param, random_values(c.values_param.element_count(), 52)};
  Input idx{Shape{static_cast<int64_t>(c.idx.size())}, {}};
  for (uint32_t i : c.idx) idx.values.push_back(static_cast<float>(i));
  auto fn = [&](Scope&, const std::vector<Array>& x) {
    return x[0].scatter_add(c.view(x[1]), c.axis, x[2].to_u32());
  };
  CheckOptions o;
  o.tolerance = Tolerance::kReduction;
  o.reduction_length = static_cast<int64_t>(c.idx.size()) + 1;
  Force dense(ScatterStrategy::kDense);
  CheckOptions fused_only = o;
  fused_only.check_unfused = false;
  o.abs_sum = check_op(
                  c.what + " |terms|", {acc, vals, idx},
                  [&](Scope&, const std::vector<Array>& x) {
                    return x[0].abs().scatter_add(c.view(x[1]).abs(), c.axis, x[2].to_u32());
                  },
                  fused_only)
                  .ref;
  std::vector<double> truth = check_op("scatter_add dense " + c.what, {acc, vals, idx}, fn, o).ref;
  // Unfused sort graphs have ~55 kernels per sort kernel, most of them new shaders: compared
  // with the fused graph where asked (and in the documented-order tests below), to keep the
  // suite's cold-cache time on lavapipe small (each new shader costs 50-300 ms of LLVM there).
  for (ScatterStrategy s : {ScatterStrategy::kSort, ScatterStrategy::kSortPairs}) {
    if (s == ScatterStrategy::kSortPairs && !c.pairs) continue;
    o.check_unfused = c.unfused && s == ScatterStrategy::kSort;
    Force f(s);
    SCOPED_TRACE(c.what + " / " + name(s));
    auto r = check_op("scatter_add " + c.what, {acc, vals, idx}, fn, o);
    for (size_t e = 0; e < truth.size(); ++e) {
      double bound =
          4.0 * static_cast<double>(o.reduction_length) * std::ldexp(1.0, -24) * o.abs_sum[e];
      ASSERT_LE(std::fabs(r.gpu[e] - truth[e]), bound)
          << "element " << e << ": " << r.gpu[e] << " vs one-hot sum " << truth[e];
    }
  }
}

std::vector<uint32_t> random_indices(size_t n, uint32_t m, uint32_t salt) {
  std::mt19937 rng(test_seed() + salt);
  std::uniform_int_distribution<uint32_t> d(0, m - 1);
  std::vector<uint32_t> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

Array same(const Array& a) { return a; }

TEST(ScatterAddStrategies, HeavyCollisionsInnerFeatures) {
  check_case(
      {"collisions [5,3] <- [37,3]", {5, 3}, 0, random_indices(37, 5, 1), {37, 3}, same, true});
}

TEST(ScatterAddStrategies, MiddleAxisFromATransposedView) {
  // values [2, 20, 3] read through a permuted view of a [3, 20, 2] parameter.
  check_case({"axis 1 transposed",
              {2, 6, 3},
              1,
              random_indices(20, 6, 2),
              {3, 20, 2},
              [](const Array& v) {
                return v.permute({2, 1, 0});
              },
              false,
              true});
}

TEST(ScatterAddStrategies, LastAxisFromABroadcastView) {
  check_case({"axis -1 broadcast", {4, 7}, -1, random_indices(9, 7, 3), {1, 9}, [](const Array& v) {
                return v.broadcast({4, 9});
              }});
}

TEST(ScatterAddStrategies, StridedSliceOfValues) {
  check_case({"strided slice", {6, 2}, 0, random_indices(13, 6, 4), {26, 2}, [](const Array& v) {
                return v.slice(0, 25, -27, -2);
              }});
}

TEST(ScatterAddStrategies, NoCollisions) {
  std::vector<uint32_t> idx(50);
  for (uint32_t k = 0; k < 50; ++k) idx[k] = (k * 37 + 11) % 64;  // distinct, unordered
  check_case({"no collisions", {64, 2}, 0, idx, {50, 2}, same});
}

TEST(ScatterAddStrategies, LengthOneAndOneTarget) {
  check_case({"one index", {3, 2}, 0, {2}, {1, 2}, same});
  check_case({"one target", {1, 3}, 0, std::vector<uint32_t>(33, 0), {33, 3}, same});
  check_case({"one of one", {1}, 0, {0}, {1}, same});
}

TEST(ScatterAddStrategies, PowerOfTwoLengthAndDescendingIndices) {
  std::vector<uint32_t> idx(64);
  for (uint32_t k = 0; k < 64; ++k) idx[k] = (63 - k) / 5;  // sorted descending, runs of 5
  check_case({"64 descending", {13}, 0, idx, {64}, same, true});
}

TEST(ScatterAddStrategies, EmptyTargetsKeepNegativeZeroLikeDense) {
  // Targets nothing lands on: acc + 0 in both strategies (-0 becomes +0), bit for bit.
  std::vector<float> acc{-0.0f, 1.5f, -0.0f, 2.0f};
  auto pa = env().static_parameter_with_data({4}, env().unique_name("ez_acc"), acc);
  auto pv = env().static_parameter_with_data({3}, env().unique_name("ez_v"), std::vector<float>{1.0f, -2.0f, 0.25f});
  auto pi = env().static_parameter({3}, env().unique_name("ez_i"), DType::kU32);
  env().write_parameter(pi, std::vector<uint32_t>{1, 3, 1});
  std::vector<std::vector<float>> r;
  for (ScatterStrategy s : kAll) {
    Force f(s);
    r.push_back(run_all(
        [&](Scope& sc) {
          return sc.parameter_value(pa).scatter_add(sc.parameter_value(pv), 0,
                                                    sc.parameter_value(pi));
        },
        name(s), s == ScatterStrategy::kSort));
  }
  expect_bits(r[0], (std::vector<float>{0.0f, 2.75f, 0.0f, 0.0f}), "dense");
  expect_bits(r[1], r[0], "sort");
  expect_bits(r[2], r[0], "sort pairs");
}

TEST(ScatterAddSort, TenThousandCollisionsMatchTheDocumentedOrder) {
  const int64_t m = 7, n = 10007, inner = 3;
  auto idx = random_indices(n, m, 5);
  auto acc = random_values(m * inner, 40);
  auto vals = random_values(n * inner, 41);
  auto pa = env().static_parameter_with_data({m, inner}, env().unique_name("ss_acc"), acc);
  auto pv = env().static_parameter_with_data({n, inner}, env().unique_name("ss_vals"), vals);
  auto pi = env().static_parameter({n}, env().unique_name("ss_i"), DType::kU32);
  env().write_parameter(pi, idx);
  auto want = sort_reference(acc, vals, idx, m, inner);
  // One key mode is enough here: both sort to the same order, so they sum identically (pairs
  // are checked against the one-hot sum above).
  Force f(ScatterStrategy::kSort);
  auto r = run_all(
      [&](Scope& sc) {
        return sc.parameter_value(pa).scatter_add(sc.parameter_value(pv), 0,
                                                  sc.parameter_value(pi));
      },
      "sort", true);
  expect_bits(r, want, "sort");
}

TEST(ScatterAddSort, HashGridLevelTwiceBitIdentical) {
  // One Instant-NGP-style level: table [4096, 2], 65,536 updates at (x ^ y * 1526263) % 4096
  // over random grid points. The size rule must pick the sort by itself.
  const int64_t m = 4096, n = 65536, f = 2;
  ASSERT_TRUE(detail::scatter_uses_sort(m, n));
  std::mt19937 rng(test_seed() + 6);
  std::uniform_int_distribution<uint32_t> coord(0, 511);
  std::vector<uint32_t> idx(n);
  for (auto& i : idx) i = (coord(rng) ^ (coord(rng) * 1526263u)) % 4096u;
  auto acc = random_values(m * f, 60);
  auto vals = random_values(n * f, 61);
  auto pa = env().static_parameter_with_data({m, f}, env().unique_name("hg_table"), acc);
  auto pv = env().static_parameter_with_data({n, f}, env().unique_name("hg_vals"), vals);
  auto pi = env().static_parameter({n}, env().unique_name("hg_idx"), DType::kU32);
  env().write_parameter(pi, idx);
  auto out = env().static_parameter({m, f}, env().unique_name("hg_out"));
  Graph g = env().build_graph([&](Scope& s) {
    s.write_parameter_value(
        out, s.parameter_value(pa).scatter_add(s.parameter_value(pv), 0, s.parameter_value(pi)));
  });
  env().run(g);
  auto first = env().read_parameter(out);
  env().run(g);
  auto second = env().read_parameter(out);
  expect_bits(second, first, "second run");
  expect_bits(first, sort_reference(acc, vals, idx, m, f), "hash grid");
  expect_no_validation_messages();
}

TEST(ScatterAddSort, OutOfRangeIndicesRaiseAndAreDropped) {
  auto pv = env().static_parameter_with_data({4, 2}, env().unique_name("so_v"), std::vector<float>(8, 1.0f));
  auto pi = env().static_parameter({4}, env().unique_name("so_i"), DType::kU32);
  auto out = env().static_parameter({4, 2}, env().unique_name("so_out"));
  for (ScatterStrategy s : {ScatterStrategy::kSort, ScatterStrategy::kSortPairs}) {
    Force f(s);
    Graph g = env().build_graph([&](Scope& sc) {
      sc.write_parameter_value(out, sc.literal(0.0f).broadcast({4, 2}).scatter_add(
                                        sc.parameter_value(pv), 0, sc.parameter_value(pi)));
    });
    for (uint32_t bad : {4u, 1000u, 0xffffffffu}) {
      env().write_parameter(pi, std::vector<uint32_t>{0, bad, 1, 0});
      env().run(g);
      EXPECT_THROW(env().read_parameter(out), IndexError) << name(s) << " index " << bad;
      // The next synchronisation is clean; the good indices were summed, the bad one dropped.
      EXPECT_EQ(env().read_parameter(out), (std::vector<float>{2, 2, 1, 1, 0, 0, 0, 0})) << name(s);
    }
    env().write_parameter(pi, std::vector<uint32_t>{3, 3, 0, 3});
    env().run(g);
    EXPECT_EQ(env().read_parameter(out), (std::vector<float>{1, 1, 0, 0, 0, 0, 3, 3})) << name(s);
  }
  expect_no_validation_messages();
}

TEST(ScatterAddSort, SizeRule) {
  using detail::scatter_uses_sort;
  EXPECT_FALSE(scatter_uses_sort(7, 10007));  // the dense strategy's own tests
  EXPECT_FALSE(scatter_uses_sort(50, 3000));
  EXPECT_FALSE(scatter_uses_sort(64, 16384));   // dense 2.4x faster on lavapipe
  EXPECT_FALSE(scatter_uses_sort(128, 65536));  // targets below log2(updates)^2 = 256
  EXPECT_TRUE(scatter_uses_sort(256, 65536));
  EXPECT_TRUE(scatter_uses_sort(256, 4096));
  EXPECT_FALSE(scatter_uses_sort(200, 200));    // below the minimum work
  EXPECT_TRUE(scatter_uses_sort(4096, 65536));  // a hash-grid level
  Force f(ScatterStrategy::kDense);
  EXPECT_FALSE(scatter_uses_sort(4096, 65536));
}

}  // namespace
}  // namespace descent::testing
