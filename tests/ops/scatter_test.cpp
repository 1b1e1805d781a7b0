// scatter_add, dense strategy (both strategies and the sort: scatter_sort_test.cpp): the
// original's test, >= 10,000 colliding updates bit-identical to a CPU float32 reference that sums
// in the documented order (and across fused/unfused runs and repeats), out-of-range indices,
// shape errors.
#include <cmath>
#include <cstring>
#include <random>

#include "graph/scatter.hpp"
#include "support/harness.hpp"
#include "util/flags.hpp"

namespace descent::testing {
namespace {

/// Runs `fn` fused twice and unfused once; all must agree bit for bit; returns the values.
std::vector<float> run3(const std::function<Array(Scope&)>& fn, const std::string& what) {
  std::vector<std::vector<float>> r;
  for (bool fusion : {true, true, false}) {
    detail::mutable_flags().disable_fusion = !fusion;
    Parameter out;
    Graph g = env().build_graph([&](Scope& s) {
      Array v = fn(s);
      out = env().static_parameter(v.shape(), env().unique_name("scatter_out"));
      s.write_parameter_value(out, v);
    });
    detail::mutable_flags().disable_fusion = false;
    env().run(g);
    r.push_back(env().read_parameter(out));
  }
  EXPECT_EQ(0, std::memcmp(r[0].data(), r[1].data(), 4 * r[0].size())) << what << ": runs differ";
  EXPECT_EQ(0, std::memcmp(r[0].data(), r[2].data(), 4 * r[0].size())) << what << ": fused vs unfused";
  expect_no_validation_messages();
  return r[0];
}

TEST(ScatterAdd, OriginalTest) {
  // literal(0) broadcast to [1, 10, 1], scatter_add of 100 ones at i % 10 along axis -2: all 10.
  std::vector<uint32_t> idx(100);
  for (uint32_t i = 0; i < 100; ++i) idx[i] = i % 10;
  auto ip = env().static_parameter({100}, env().unique_name("sa_idx"), DType::kU32);
  env().write_parameter(ip, idx);
  auto ones = env().static_parameter_with_data({1, 100, 1}, env().unique_name("sa_ones"), std::vector<float>(100, 1.0f));
  auto r = run3([&](Scope& s) {
    return s.literal(0.0f).broadcast({1, 10, 1}).scatter_add(s.parameter_value(ones), -2, s.parameter_value(ip));
  }, "original");
  EXPECT_EQ(r, std::vector<float>(10, 10.0f));
}

TEST(ScatterAdd, TenThousandCollisionsMatchTheDocumentedOrder) {
  const int64_t m = 7, n = 10007, inner = 3;
  std::mt19937 rng(test_seed());
  std::uniform_int_distribution<uint32_t> pick(0, m - 1);
  std::vector<uint32_t> idx(n);
  for (auto& i : idx) i = pick(rng);
  auto acc = random_values(m * inner, 40);
  auto vals = random_values(n * inner, 41);
  auto pa = env().static_parameter_with_data({m, inner}, env().unique_name("sa_acc"), acc);
  auto pv = env().static_parameter_with_data({n, inner}, env().unique_name("sa_vals"), vals);
  auto pi = env().static_parameter({n}, env().unique_name("sa_i"), DType::kU32);
  env().write_parameter(pi, idx);
  // The dense strategy's order (the size rule picks it here too; scatter_sort_test.cpp has the
  // sort strategy's version of this test).
  detail::scatter_strategy_override() = detail::ScatterStrategy::kDense;
  auto r = run3([&](Scope& s) {
    return s.parameter_value(pa).scatter_add(s.parameter_value(pv), 0, s.parameter_value(pi));
  }, "collisions");
  detail::scatter_strategy_override() = detail::ScatterStrategy::kAuto;
  // The documented order for this shape (long axis, few outputs: split_long_reductions): chunks
  // of 128 positions summed serially from +0 (the tail reads zero padding), then the 79 chunk
  // sums serially, then added to the accumulator. Every contribution is an exact select.
  const int64_t chunk = 128, chunks = (n + chunk - 1) / chunk;
  for (int64_t j = 0; j < m; ++j)
    for (int64_t i = 0; i < inner; ++i) {
      float total = 0.0f;
      for (int64_t c = 0; c < chunks; ++c) {
        float part = 0.0f;
        for (int64_t e = 0; e < chunk; ++e) {
          int64_t k = c * chunk + e;
          part += (k < n && idx[k] == j) ? vals[k * inner + i] : 0.0f;
        }
        total += part;
      }
      float expect = acc[j * inner + i] + total;
      ASSERT_EQ(0, std::memcmp(&expect, &r[j * inner + i], 4))
          << "target " << j << "," << i << ": " << r[j * inner + i] << " vs " << expect;
    }
}

TEST(ScatterAdd, VectorTargetsAgainstReference) {
  // 1-D targets (a row reduction on GPUs): checked against float64 with the class D bound.
  const int64_t m = 50, n = 3000;
  std::vector<uint32_t> idx(n);
  for (int64_t k = 0; k < n; ++k) idx[k] = static_cast<uint32_t>((k * 7919) % m);
  auto vals = random_values(n, 42);
  auto pv = env().static_parameter_with_data({n}, env().unique_name("sv_vals"), vals);
  auto pi = env().static_parameter({n}, env().unique_name("sv_i"), DType::kU32);
  env().write_parameter(pi, idx);
  auto r = run3([&](Scope& s) {
    return s.literal(0.0f).broadcast({m}).scatter_add(s.parameter_value(pv), 0, s.parameter_value(pi));
  }, "vector");
  std::vector<double> ref(m, 0.0), mag(m, 0.0);
  for (int64_t k = 0; k < n; ++k) {
    ref[idx[k]] += vals[k];
    mag[idx[k]] += std::fabs(vals[k]);
  }
  for (int64_t j = 0; j < m; ++j)
    EXPECT_LE(std::fabs(r[j] - ref[j]), 4.0 * n * std::ldexp(1.0, -24) * mag[j]) << j;
}

TEST(ScatterAdd, OutOfRangeAndShapeErrors) {
  auto pv = env().static_parameter_with_data({3, 2}, env().unique_name("se_v"), std::vector<float>(6, 1.0f));
  auto pi = env().static_parameter({3}, env().unique_name("se_i"), DType::kU32);
  env().write_parameter(pi, std::vector<uint32_t>{0, 4, 1});
  auto out = env().static_parameter({4, 2}, env().unique_name("se_out"));
  Graph g = env().build_graph([&](Scope& s) {
    s.write_parameter_value(out, s.literal(0.0f).broadcast({4, 2}).scatter_add(s.parameter_value(pv), 0, s.parameter_value(pi)));
  });
  env().run(g);
  EXPECT_THROW(env().read_parameter(out), IndexError);  // index 4 of 4 targets
  env().write_parameter(pi, std::vector<uint32_t>{0, 3, 0});
  env().run(g);
  EXPECT_EQ(env().read_parameter(out), (std::vector<float>{2, 2, 0, 0, 0, 0, 1, 1}));
  try {
    env().build_graph([&](Scope& s) {
      (void)s.literal(0.0f).broadcast({4, 3}).scatter_add(s.parameter_value(pv), 0, s.parameter_value(pi));
    });
    ADD_FAILURE() << "no ShapeError for mismatched values";
  } catch (const ShapeError& e) {
    EXPECT_NE(std::string(e.what()).find("scatter_add"), std::string::npos) << e.what();
  }
  expect_no_validation_messages();
}

}  // namespace
}  // namespace descent::testing
