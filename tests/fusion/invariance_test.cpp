// Fusion invariance (fused == unfused): 50 seeded random graphs (3-12 ops mixing elementwise ops, broadcasts,
// transposes, slices, pads, reshapes and reductions over 1-3 parameters, 1-3 outputs, some written
// back into an input) give the same bits fused and with fusion disabled, on two runs each, and
// match the float64 reference loosely; plus multi-output kernels and in-place updates via views.
#include <fmt/format.h>

#include <cmath>
#include <cstring>
#include <map>

#include "ref/interpreter.hpp"
#include "runtime/state.hpp"
#include "support/harness.hpp"
#include "util/flags.hpp"

namespace descent::testing {
namespace {

bool broadcastable(const Shape& a, const Shape& b) {
  for (int i = 1; i <= std::min(a.rank(), b.rank()); ++i)
    if (a[-i] != b[-i] && a[-i] != 1 && b[-i] != 1) return false;
  return true;
}

/// Records a random graph from `seed`; the same seed and inputs always record the same graph.
class RandomGraph {
 public:
  RandomGraph(uint32_t seed, std::vector<Array> inputs) : rng_(seed), pool_(std::move(inputs)) {}

  std::vector<Array> build(std::string* log) {
    int ops = 3 + static_cast<int>(rng_() % 10);
    for (int i = 0; i < ops; ++i) {
      Array a = pick();
      pool_.push_back(step(a, log));
    }
    std::vector<Array> outs{pool_.back()};
    for (int extra = static_cast<int>(rng_() % 3); extra > 0; --extra) outs.push_back(pick());
    return outs;
  }

 private:
  int64_t below(int64_t n) { return static_cast<int64_t>(rng_() % static_cast<uint32_t>(n)); }
  Array pick() {  // biased towards recent values so chains get deep
    size_t n = pool_.size();
    return pool_[n - 1 - static_cast<size_t>(below(std::min<int64_t>(static_cast<int64_t>(n), 3)))];
  }
  int axis_with_extent(const Shape& s) {  // an axis of extent >= 2, or -1
    std::vector<int> c;
    for (int i = 0; i < s.rank(); ++i)
      if (s[i] >= 2) c.push_back(i);
    return c.empty() ? -1 : c[below(static_cast<int64_t>(c.size()))];
  }

  Array step(const Array& a, std::string* log) {
    const Shape s = a.shape();
    switch (below(9)) {
      case 0: {  // unary, all bounded or slowly growing
        *log += " unary";
        switch (below(6)) {
          case 0:
            return a.abs().sqrt();
          case 1:
            return a.sigmoid() + a.tanh();
          case 2:
            return a * 0.5f + 0.25f;
          case 3:
            return (-a.abs()).exp();
          case 4:
            return (a.abs() + 1.0f).log() - a.relu();
          default:
            return a.sin() * a.cos();
        }
      }
      case 1:
      case 2: {  // binary with a broadcast-compatible partner
        std::vector<Array> partners;
        for (const Array& b : pool_)
          if (broadcastable(s, b.shape()) && b.shape().element_count() <= s.element_count())
            partners.push_back(b);
        Array b =
            partners.empty() || below(4) == 0
                ? (s.rank() ? a.reduce_max(static_cast<int>(below(s.rank())), true) : a * 0.75f)
                : partners[below(static_cast<int64_t>(partners.size()))];
        *log += fmt::format(" binary{}", b.shape().str());
        switch (below(7)) {
          case 0:
            return a + b;
          case 1:
            return a - b;
          case 2:
            return a * b.tanh();
          case 3:
            return a.min(b);
          case 4:
            return b.max(a);
          case 5:
            return a / (b.abs() + 1.0f);
          default:
            return a.gt(b).select(a, b * 0.5f);
        }
      }
      case 3: {  // broadcast: a new leading axis or a unit axis widened
        if (s.element_count() > 1500 || s.rank() >= 4) return a.copy();
        int unit = -1;
        for (int i = 0; i < s.rank(); ++i)
          if (s[i] == 1) unit = i;
        Shape to = unit >= 0 && below(2) ? s.with_axis(unit, 2 + below(4))
                                         : s.insert_axis(0, 2 + below(2));
        *log += " broadcast" + to.str();
        return a.broadcast(to);
      }
      case 4: {
        if (s.rank() < 2) break;
        *log += " transpose";
        if (s.rank() == 3 && below(2)) return a.permute({2, 0, 1});
        return a.transpose();
      }
      case 5: {
        int ax = axis_with_extent(s);
        if (ax < 0) break;
        int64_t n = s[ax], step = std::array<int64_t, 5>{1, 2, -1, -2, 3}[below(5)];
        int64_t start = step > 0 ? below(n - 1) : 1 + below(n - 1);  // always at least one element
        int64_t stop = step > 0 ? start + 1 + below(n - start) : start - 1 - below(start + 1);
        *log += fmt::format(" slice({},{},{},{})", ax, start, stop, step);
        return a.slice(ax, start, stop < 0 ? -n - 1 : stop, step);  // -n-1 clamps to "before 0"
      }
      case 6: {
        if (s.rank() == 0) break;
        int ax = static_cast<int>(below(s.rank()));
        int64_t before = below(3), after = before == 0 ? 1 + below(2) : below(3);
        *log += fmt::format(" pad({},{},{})", ax, before, after);
        return a.pad(ax, before, after, below(2) ? PadMode::kZero : PadMode::kReplicate);
      }
      case 7: {
        if (s.rank() == 0) break;
        int ax = static_cast<int>(below(s.rank()));
        bool keep = below(2);
        *log += fmt::format(" reduce({},{})", ax, keep);
        return below(2) ? a.reduce_sum(ax, keep) : a.reduce_max(ax, keep);
      }
      default: {
        *log += " reshape";
        if (s.rank() >= 2) return a.flatten();
        int64_t n = s.element_count();
        for (int64_t f = 2; f * f <= n; ++f)
          if (n % f == 0) return a.reshape({f, n / f});
        return a.reshape({n});
      }
    }
    *log += " copy";
    return a.copy();
  }

  std::mt19937 rng_;
  std::vector<Array> pool_;
};

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * 4) == 0;
}

struct Case {
  uint32_t seed;
  std::vector<Parameter> inputs;
  std::vector<std::vector<float>> values;
  std::vector<Parameter> outputs;  // filled by the first build; may include inputs[0]
  std::string log;
};

Graph build_case(Case& c, bool fusion) {
  auto& f = detail::mutable_flags();
  const bool saved = f.disable_fusion;
  f.disable_fusion = !fusion;
  bool first = c.outputs.empty();
  Graph g;
  try {
    g = env().build_graph([&](Scope& s) {
      std::vector<Array> xs;
      for (const Parameter& p : c.inputs) xs.push_back(s.parameter_value(p));
      std::string log;
      RandomGraph rg(c.seed, xs);
      auto outs = rg.build(&log);
      // One graph in three also writes input 0, from a value that depends on the whole graph:
      // a read-modify-write whose new value needs every kernel first.
      const bool in_place = c.seed % 3 == 0;
      if (in_place) {
        Array total = outs[0];
        while (total.shape().rank() > 0) total = total.reduce_sum(0);
        outs.push_back(xs[0] - total * 0.125f);
      }
      if (first) c.log = log;
      for (size_t i = 0; i < outs.size(); ++i) {
        if (first) {
          bool last = i + 1 == outs.size();
          c.outputs.push_back(in_place && last ? c.inputs[0]
                                               : env().static_parameter(outs[i].shape(), env().unique_name("rg_out")));
        }
        s.write_parameter_value(c.outputs[i], outs[i]);
      }
    });
  } catch (...) {
    f.disable_fusion = saved;
    throw;
  }
  f.disable_fusion = saved;
  return g;
}

std::vector<std::vector<float>> run_case(const Case& c, const Graph& g) {
  for (size_t i = 0; i < c.inputs.size(); ++i) env().write_parameter(c.inputs[i], c.values[i]);
  env().run(g, c.seed);
  std::vector<std::vector<float>> r;
  for (const Parameter& p : c.outputs) r.push_back(env().read_parameter(p));
  return r;
}

TEST(Invariance, RandomGraphsFusedEqualUnfused) {
  const Shape shapes[] = {Shape{7},    Shape{3, 5}, Shape{2, 3, 7}, Shape{1, 7},
                          Shape{5, 1}, Shape{33},   Shape{3, 2}};
  for (uint32_t n = 0; n < 50; ++n) {
    Case c;
    c.seed = test_seed() * 1000 + n;
    std::mt19937 rng(c.seed);
    int inputs = 1 + static_cast<int>(rng() % 3);
    for (int i = 0; i < inputs; ++i) {
      Shape s = shapes[rng() % std::size(shapes)];
      c.values.push_back(random_values(s.element_count(), c.seed * 7 + i, 0.5f, 2.0f));
      c.inputs.push_back(env().static_parameter_with_data(s, env().unique_name("rg_in"), c.values.back()));
    }
    Graph fused = build_case(c, true);
    Graph unfused = build_case(c, false);
    std::string ctx = fmt::format("graph {} (DESCENT_TEST_SEED={}, ops:{})", n, test_seed(), c.log);
    EXPECT_LE(fused.kernel_count(), unfused.kernel_count()) << ctx;
    auto a = run_case(c, fused), b = run_case(c, fused), u = run_case(c, unfused),
         v = run_case(c, unfused);
    std::map<uint32_t, std::vector<double>> pv;
    for (size_t i = 0; i < c.inputs.size(); ++i)
      pv[c.inputs[i].id()] = std::vector<double>(c.values[i].begin(), c.values[i].end());
    detail::RefOptions ro;
    ro.seed = c.seed;
    auto ref = detail::reference_run(detail::GraphAccess::get(fused).built, pv, ro);
    for (size_t o = 0; o < c.outputs.size(); ++o) {
      EXPECT_TRUE(same_bits(a[o], b[o])) << ctx << ": output " << o << " differs between runs";
      EXPECT_TRUE(same_bits(a[o], u[o])) << ctx << ": output " << o << " fused vs unfused";
      EXPECT_TRUE(same_bits(u[o], v[o])) << ctx << ": output " << o << " unfused runs differ";
      const auto& r = ref.at(c.outputs[o].id());
      ASSERT_EQ(r.size(), a[o].size()) << ctx;
      for (size_t i = 0; i < r.size(); ++i) {
        // Loose class-D-like bound: inputs in [0.5, 2] and bounded ops keep everything conditioned.
        ASSERT_LE(std::fabs(a[o][i] - r[i]), 1e-4 * (1 + std::fabs(r[i])))
            << ctx << ": output " << o << " element " << i << " gpu " << a[o][i] << " ref " << r[i];
      }
    }
  }
  expect_no_validation_messages();
}

TEST(Invariance, MultiOutputKernels) {
  // Four parameters written from one input: fused kernels carry several outputs each.
  Input in{Shape{33, 65}, random_values(33 * 65, 900, 0.5f, 2.0f)};
  auto x = env().static_parameter_with_data(in.shape, env().unique_name("mo_x"), in.values);
  std::vector<Parameter> outs = {
      env().static_parameter({33, 65}, env().unique_name("mo_a")), env().static_parameter({33, 65}, env().unique_name("mo_b")),
      env().static_parameter({33}, env().unique_name("mo_c")), env().static_parameter({65, 33}, env().unique_name("mo_d"))};
  const bool saved = detail::mutable_flags().disable_fusion;
  auto build = [&](bool fusion) {
    detail::mutable_flags().disable_fusion = !fusion;
    Graph g = env().build_graph([&](Scope& s) {
      Array v = s.parameter_value(x), y = v * 2.0f;
      s.write_parameter_value(outs[0], y);
      s.write_parameter_value(outs[1], y.exp() - v);
      s.write_parameter_value(outs[2], (y - 1.0f).reduce_sum(1));
      s.write_parameter_value(outs[3], (v - 1.0f).transpose());
    });
    detail::mutable_flags().disable_fusion = saved;
    return g;
  };
  Graph fused = build(true), unfused = build(false);
  EXPECT_LT(fused.kernel_count(), unfused.kernel_count());
  size_t multi = 0;
  for (const auto& k : detail::GraphAccess::get(fused).kernels)
    multi = std::max(multi, k.outputs.size());
  EXPECT_GE(multi, 2u) << "expected at least one kernel writing several parameters";
  auto read_all = [&](const Graph& g) {
    env().run(g);
    std::vector<float> all;
    for (const Parameter& p : outs) {
      auto v = env().read_parameter(p);
      all.insert(all.end(), v.begin(), v.end());
    }
    return all;
  };
  auto a = read_all(fused);
  EXPECT_TRUE(same_bits(a, read_all(fused)));
  EXPECT_TRUE(same_bits(a, read_all(unfused)));
  auto b = env().read_parameter(outs[3]);
  for (int i = 0; i < 33; ++i)
    for (int j = 0; j < 65; ++j) ASSERT_EQ(b[j * 33 + i], in.values[i * 65 + j] - 1.0f);
  expect_no_validation_messages();
}

TEST(Invariance, ReadAndWriteTheSameParameterThroughViews) {
  // Each update reads p through an index map and writes p: a kernel doing that in place would
  // read elements it has already overwritten, so the runtime must go through a copy.
  struct Update {
    const char* name;
    Shape shape;
    std::function<Array(const Array&)> dev;
    std::function<float(const std::vector<float>&, int64_t)> host;  // new p[i] from old p
  };
  const Update updates[] = {
      {"p = 2 p^T + p", Shape{7, 7}, [](const Array& p) { return p.transpose() * 2.0f + p; },
       [](const std::vector<float>& p, int64_t i) { return p[(i % 7) * 7 + i / 7] * 2.0f + p[i]; }},
      {"p = reshape(p^T)", Shape{4, 6},
       [](const Array& p) {
         return p.transpose().reshape({4, 6});
       },
       [](const std::vector<float>& p, int64_t i) { return p[(i % 4) * 6 + i / 4]; }},
      {"p = reverse(p)", Shape{129}, [](const Array& p) { return p.slice(0, -1, -1000, -1); },
       [](const std::vector<float>& p, int64_t i) { return p[128 - i]; }},
      {"p = shift right(p)", Shape{65},
       [](const Array& p) { return p.pad(0, 1, 0, PadMode::kReplicate).slice(0, 0, 65); },
       [](const std::vector<float>& p, int64_t i) { return p[std::max<int64_t>(i - 1, 0)]; }},
      {"p = p - max(p)", Shape{3, 31}, [](const Array& p) { return p - p.reduce_max(1, true); },
       [](const std::vector<float>& p, int64_t i) {
         float m = p[i / 31 * 31];
         for (int k = 0; k < 31; ++k) m = std::max(m, p[i / 31 * 31 + k]);
         return p[i] - m;
       }},
  };
  uint32_t salt = 950;
  const bool saved = detail::mutable_flags().disable_fusion;
  for (const Update& u : updates) {
    std::vector<float> host = random_values(u.shape.element_count(), salt++, 0.5f, 2.0f);
    auto p = env().static_parameter_with_data(u.shape, env().unique_name("rw_p"), host);
    for (bool fusion : {true, false}) {
      detail::mutable_flags().disable_fusion = !fusion;
      Graph g = env().build_graph(
          [&](Scope& s) { s.write_parameter_value(p, u.dev(s.parameter_value(p))); });
      detail::mutable_flags().disable_fusion = saved;
      for (int run = 0; run < 2; ++run) {  // the second run starts from the first one's result
        env().run(g);
        std::vector<float> next(host.size());
        for (size_t i = 0; i < host.size(); ++i) next[i] = u.host(host, static_cast<int64_t>(i));
        host = next;
        ASSERT_EQ(env().read_parameter(p), host)
            << u.name << (fusion ? " fused" : " unfused") << " run " << run;
      }
    }
  }
  expect_no_validation_messages();
}

}  // namespace
}  // namespace descent::testing
