// Test harness implementation (see harness.hpp).
#include "support/harness.hpp"

#include <fmt/format.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>

#include "graph/builder.hpp"
#include "ref/interpreter.hpp"
#include "runtime/state.hpp"
#include "support/coverage.hpp"
#include "util/flags.hpp"
#include "runtime/test_access.hpp"

namespace descent::testing {

namespace {
bool g_env_created = false;

/// After the last test: any validation message seen anywhere fails the run (tests that use env()
/// directly are covered even when they do not call expect_no_validation_messages).
class ValidationCheck : public ::testing::Environment {
 public:
  void TearDown() override {
    if (g_env_created) expect_no_validation_messages();
  }
};
const auto* g_validation_check = ::testing::AddGlobalTestEnvironment(new ValidationCheck);
}  // namespace

Environment& env() {
  static Environment e;
  g_env_created = true;
  return e;
}

uint32_t test_seed() {
  const char* s = std::getenv("DESCENT_TEST_SEED");
  return s ? static_cast<uint32_t>(std::strtoul(s, nullptr, 0)) : 0x5eedu;
}

std::vector<float> random_values(int64_t n, uint32_t salt, float lo, float hi) {
  std::mt19937 rng(test_seed() * 2654435761u + salt);
  std::uniform_real_distribution<float> d(lo, hi);
  std::vector<float> v(static_cast<size_t>(n));
  for (float& x : v) x = d(rng);
  return v;
}

std::vector<float> special_values(int64_t n) {
  const float inf = std::numeric_limits<float>::infinity();
  const float pool[] = {0.0f, -0.0f, 1.0f, -1.0f, 0.5f, -3.25f, 1e-30f, -1e-30f, 1e30f, -1e30f,
                        inf, -inf, std::numeric_limits<float>::quiet_NaN(), 2.0f, 100.0f, -7.0f,
                        std::numeric_limits<float>::denorm_min(), 3e38f};
  // Denormals only where the device can be told to keep them (float controls DenormPreserve);
  // elsewhere their handling is the driver's choice (NVIDIA flushes them) and 1e-30 stands in.
  bool denormals = detail::TestAccess::state(env()).ctx->info().denorm_preserve_f32;
  std::vector<float> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    v[i] = pool[(i * 7 + i / 18) % (sizeof(pool) / sizeof(float))];
    if (!denormals && std::fpclassify(v[i]) == FP_SUBNORMAL) v[i] = 1e-30f;
  }
  return v;
}

std::vector<double> abs_sums(const Input& in, int axis) {
  auto d = in.shape.dims();
  int64_t outer = 1, len = d[static_cast<size_t>(axis)], inner = 1;
  for (int j = 0; j < axis; ++j) outer *= d[static_cast<size_t>(j)];
  for (size_t j = static_cast<size_t>(axis) + 1; j < d.size(); ++j) inner *= d[j];
  std::vector<double> s(static_cast<size_t>(outer * inner), 0.0);
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t k = 0; k < len; ++k)
      for (int64_t i = 0; i < inner; ++i)
        s[o * inner + i] += std::fabs(in.values[(o * len + k) * inner + i]);
  return s;
}

double ulp_distance(float a, float b) {
  if (std::isnan(a) || std::isnan(b)) return std::isnan(a) && std::isnan(b) ? 0 : 1e30;
  if (a == b) return 0;
  auto key = [](float f) {
    int32_t i;
    std::memcpy(&i, &f, 4);
    return i < 0 ? int64_t{INT32_MIN} - i : int64_t{i};
  };
  return std::fabs(static_cast<double>(key(a) - key(b)));
}

void expect_no_validation_messages() {
  static size_t seen = 0;
  auto msgs = env().validation_messages();
  for (size_t i = seen; i < msgs.size(); ++i) ADD_FAILURE() << "validation: " << msgs[i];
  seen = msgs.size();
}

namespace {

bool same_bits(const std::vector<float>& a, const std::vector<float>& b, std::string* where) {
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::memcmp(&a[i], &b[i], 4) != 0) {
      *where = fmt::format("element {}: {} vs {}", i, a[i], b[i]);
      return false;
    }
  }
  return a.size() == b.size();
}

std::vector<float> run_variant(const std::vector<Parameter>& params, const std::vector<Input>& inputs,
                               const std::function<Array(Scope&, const std::vector<Array>&)>& fn,
                               uint32_t seed, bool fusion, Graph* keep, Parameter* out_param,
                               int runs, std::vector<std::vector<float>>* all) {
  auto& f = detail::mutable_flags();
  bool saved = f.disable_fusion;
  f.disable_fusion = !fusion || saved;
  Parameter out;
  Graph g;
  size_t from = 0, to = 0;
  try {
    g = env().build_graph([&](Scope& s) {
      std::vector<Array> xs;
      for (const Parameter& p : params) xs.push_back(s.parameter_value(p));
      from = detail::TestAccess::state(s).ir.size();
      Array r = fn(s, xs);
      to = detail::TestAccess::state(s).ir.size();
      out = env().static_parameter(r.shape(), env().unique_name("test_out"));
      s.write_parameter_value(out, r);
    });
  } catch (...) {
    f.disable_fusion = saved;
    throw;
  }
  f.disable_fusion = saved;
  record_forward_ops(detail::GraphAccess::get(g).built, from, to);
  (void)inputs;
  std::vector<float> first;
  for (int r = 0; r < runs; ++r) {
    env().write_parameter(out, std::vector<float>(static_cast<size_t>(out.shape().element_count()),
                                                  -12345.0f));  // canary: must be overwritten
    env().run(g, seed);
    auto v = env().read_parameter(out);
    if (all) all->push_back(v);
    if (r == 0) first = v;
  }
  if (keep) *keep = std::move(g);
  if (out_param) *out_param = out;
  return first;
}

}  // namespace

CheckResult check_op(const std::string& name, const std::vector<Input>& inputs,
                     const std::function<Array(Scope&, const std::vector<Array>&)>& fn,
                     const CheckOptions& o) {
  CheckResult res;
  std::string shapes;
  std::vector<Parameter> params;
  for (size_t i = 0; i < inputs.size(); ++i) {
    shapes += (i ? ", " : "") + inputs[i].shape.str();
    params.push_back(env().static_parameter_with_data(inputs[i].shape, env().unique_name(fmt::format("in{}", i)), inputs[i].values));
  }
  std::string ctx = fmt::format("op {} on {} (DESCENT_TEST_SEED={})", name, shapes, test_seed());
  Graph g;
  Parameter out;
  std::vector<std::vector<float>> runs;
  res.gpu = run_variant(params, inputs, fn, o.seed, true, &g, &out, 2, &runs);
  res.kernels = g.kernel_count();
  std::string where;
  EXPECT_TRUE(same_bits(runs[0], runs[1], &where)) << ctx << ": two runs differ at " << where;
  if (o.expected_kernels >= 0) {
    EXPECT_EQ(res.kernels, static_cast<size_t>(o.expected_kernels)) << ctx << ": kernel count";
  }
  if (o.check_unfused) {
    auto unfused = run_variant(params, inputs, fn, o.seed, false, nullptr, nullptr, 1, nullptr);
    EXPECT_TRUE(same_bits(res.gpu, unfused, &where)) << ctx << ": fused vs unfused differ at " << where;
  }
  // Reference: the graph as built, on the same float32 inputs, in float64.
  std::map<uint32_t, std::vector<double>> pv;
  for (size_t i = 0; i < inputs.size(); ++i)
    pv[params[i].id()] = std::vector<double>(inputs[i].values.begin(), inputs[i].values.end());
  detail::RefOptions ro;
  ro.seed = o.seed;
  ro.round_to_f32 = o.tolerance == Tolerance::kExact;
  auto ref = detail::reference_run(detail::GraphAccess::get(g).built, pv, ro);
  res.ref = ref.at(out.id());
  EXPECT_EQ(res.ref.size(), res.gpu.size()) << ctx;
  int failures = 0;
  for (size_t i = 0; i < res.gpu.size() && i < res.ref.size(); ++i) {
    float gv = res.gpu[i];
    double rv = res.ref[i];
    float rf = static_cast<float>(rv);
    double ulps = ulp_distance(gv, rf);
    double err = std::fabs(static_cast<double>(gv) - rv);
    if (std::isfinite(err)) res.max_abs_err = std::max(res.max_abs_err, err);
    if (ulps < 1e29) res.max_ulps = std::max(res.max_ulps, ulps);
    bool ok = true;
    switch (o.tolerance) {
      // NaN sign and payload are not specified by IEEE 754: any NaN matches any NaN.
      case Tolerance::kExact: ok = (std::isnan(gv) && std::isnan(rf)) || (ulps == 0 && std::signbit(gv) == std::signbit(rf)); break;
      case Tolerance::kUlp3: ok = ulps <= 3; break;
      case Tolerance::kTranscend:
        ok = ulps <= o.transcend_ulps || err <= o.transcend_abs ||
             (std::isinf(gv) && std::isinf(rf) && gv == rf) || (std::isnan(gv) && std::isnan(rv));
        break;
      case Tolerance::kReduction: {
        double sum = i < o.abs_sum.size() ? o.abs_sum[i] : std::fabs(rv);
        double bound = 4.0 * static_cast<double>(o.reduction_length) * std::ldexp(1.0, -24) * sum;
        ok = err <= bound || (std::isnan(gv) && std::isnan(rv)) || (std::isinf(gv) && gv == rv);
        break;
      }
    }
    if (!ok && failures++ < 5) {
      ADD_FAILURE() << ctx << ": element " << i << " gpu " << fmt::format("{:.9g}", gv) << " ref "
                    << fmt::format("{:.17g}", rv) << " (" << ulps << " ulp, abs err " << err << ")";
    }
  }
  expect_no_validation_messages();
  return res;
}

}  // namespace descent::testing
