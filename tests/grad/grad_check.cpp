// check_grad: see grad_check.hpp. Class F bound: |gpu - ref| <= 8 n 2^-24 max|ref| + 1e-7 per
// element, with n the largest input's element count (an upper bound on any reduction length in
// these small graphs); tighter per-term bounds would need the backward graph's |terms|.
#include "grad/grad_check.hpp"

#include <fmt/format.h>

#include <cmath>
#include <cstring>

#include "graph/ir.hpp"
#include "support/coverage.hpp"
#include "graph/builder.hpp"
#include "ref/interpreter.hpp"
#include "runtime/state.hpp"
#include "util/flags.hpp"
#include "runtime/test_access.hpp"

namespace descent::testing {

std::vector<float> away_from_zero(int64_t n, uint32_t salt, float lo, float hi, float min_abs) {
  std::vector<float> v = random_values(n, salt, lo, hi);
  for (float& x : v)
    if (std::fabs(x) < min_abs) x = x < 0 ? x - min_abs : x + min_abs;
  return v;
}

namespace {
struct Built {
  Graph graph;
  Parameter loss;
  std::vector<Parameter> grads;
};

Built build(const std::vector<Parameter>& params, const DualFn& fn, bool fusion) {
  auto& f = detail::mutable_flags();
  bool saved = f.disable_fusion;
  f.disable_fusion = !fusion || saved;
  Built b;
  size_t from = 0, to = 0;
  try {
    b.graph = env().build_graph([&](Scope& s) {
      std::vector<DualArray> xs;
      for (const Parameter& p : params) xs.push_back(s.parameter(p));
      from = detail::TestAccess::state(s).ir.size();
      DualArray y = fn(s, xs);
      to = detail::TestAccess::state(s).ir.size();
      Array w = s.rand(y.shape()) - 0.5f;
      std::vector<int> axes(static_cast<size_t>(y.shape().rank()));
      for (int i = 0; i < y.shape().rank(); ++i) axes[static_cast<size_t>(i)] = i;
      DualArray l = y * DualArray(w);
      if (!axes.empty()) l = l.reduce_sum(axes);
      l = l.reshape(Shape{1});
      b.loss = env().static_parameter(Shape{1}, env().unique_name("grad_loss"));
      s.write_parameter_value(b.loss, l.set_loss());
      for (size_t i = 0; i < params.size(); ++i) {
        b.grads.push_back(env().static_parameter(params[i].shape(), env().unique_name(fmt::format("grad{}", i))));
        s.write_parameter_value(b.grads.back(), xs[i].grad());
      }
    });
  } catch (...) {
    f.disable_fusion = saved;
    throw;
  }
  f.disable_fusion = saved;
  record_gradient_ops(detail::GraphAccess::get(b.graph).built, from, to);
  return b;
}

std::vector<float> run_grads(Built& b, uint32_t seed) {
  env().run(b.graph, seed);
  std::vector<float> all;
  for (const Parameter& p : b.grads) {
    auto v = env().read_parameter(p);
    all.insert(all.end(), v.begin(), v.end());
  }
  return all;
}
}  // namespace

void check_grad(const std::string& name, const std::vector<Input>& inputs, const DualFn& fn,
                const GradOptions& o) {
  std::vector<Parameter> params;
  for (size_t i = 0; i < inputs.size(); ++i) {
    params.push_back(env().static_parameter_with_data(inputs[i].shape, env().unique_name(fmt::format("gin{}", i)),
                                                      inputs[i].values));
  }
  check_grad_params(name, params, fn, o);
}

void check_grad_params(const std::string& name, const std::vector<Parameter>& params,
                       const DualFn& fn, const GradOptions& o) {
  std::string shapes;
  std::vector<Input> inputs;
  int64_t n_max = 1;
  for (size_t i = 0; i < params.size(); ++i) {
    shapes += (i ? ", " : "") + params[i].shape().str();
    inputs.push_back(Input{params[i].shape(), env().read_parameter(params[i])});
    n_max = std::max(n_max, params[i].shape().element_count());
  }
  std::string ctx = fmt::format("gradient of {} on {} (DESCENT_TEST_SEED={})", name, shapes, test_seed());
  Built b = build(params, fn, true);
  const detail::IrGraph& built = detail::GraphAccess::get(b.graph).built;

  // Class E: float64 backward vs central differences of the float64 forward.
  std::map<uint32_t, std::vector<double>> pv;
  for (size_t i = 0; i < inputs.size(); ++i)
    pv[params[i].id()] = std::vector<double>(inputs[i].values.begin(), inputs[i].values.end());
  detail::RefOptions ro;
  ro.seed = o.seed;
  auto ref = detail::reference_run(built, pv, ro);
  for (size_t i = 0; i < inputs.size(); ++i) {
    const std::vector<double>& g = ref.at(b.grads[i].id());
    int64_t n = inputs[i].shape.element_count();
    int64_t step = std::max<int64_t>(1, n / o.max_fd_elements);
    for (int64_t e = 0; e < n; e += step) {
      auto p = pv;
      double x = p[params[i].id()][static_cast<size_t>(e)];
      p[params[i].id()][static_cast<size_t>(e)] = x + o.eps;
      double lp = detail::reference_run(built, p, ro).at(b.loss.id())[0];
      p[params[i].id()][static_cast<size_t>(e)] = x - o.eps;
      double lm = detail::reference_run(built, p, ro).at(b.loss.id())[0];
      double fd = (lp - lm) / (2 * o.eps);
      double an = g[static_cast<size_t>(e)];
      EXPECT_LE(std::fabs(fd - an), o.atol + o.rtol * std::fabs(fd))
          << ctx << ": input " << i << " element " << e << ": backward " << an
          << " vs central difference " << fd << " (class E)";
    }
  }
  if (!o.gpu) return;

  // Class F: the device backward vs the float64 backward; run twice and unfused: bit-identical.
  std::vector<float> gpu = run_grads(b, o.seed);
  std::vector<float> again = run_grads(b, o.seed);
  EXPECT_EQ(0, std::memcmp(gpu.data(), again.data(), gpu.size() * 4)) << ctx << ": two runs differ";
  Built unfused = build(params, fn, false);
  std::vector<float> u = run_grads(unfused, o.seed);
  for (size_t k = 0; k < gpu.size(); ++k) {
    if (std::memcmp(&gpu[k], &u[k], 4) != 0) {
      ADD_FAILURE() << ctx << ": fused vs unfused differ at flat gradient element " << k << ": "
                    << gpu[k] << " vs " << u[k];
      break;
    }
  }
  size_t off = 0;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const std::vector<double>& g = ref.at(b.grads[i].id());
    double mx = 0;
    for (double v : g) mx = std::max(mx, std::fabs(v));
    double tol = 8.0 * static_cast<double>(n_max) * std::ldexp(1.0, -24) * mx + 1e-7;
    int failures = 0;
    for (size_t e = 0; e < g.size(); ++e) {
      double err = std::fabs(static_cast<double>(gpu[off + e]) - g[e]);
      if (!(err <= tol) && failures++ < 3) {
        ADD_FAILURE() << ctx << ": input " << i << " element " << e << ": device " << gpu[off + e]
                      << " vs float64 " << g[e] << " (class F tolerance " << tol << ")";
      }
    }
    off += g.size();
  }
}

}  // namespace descent::testing
