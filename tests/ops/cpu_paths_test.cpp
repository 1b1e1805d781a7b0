// Runs the code shapes descent generates for CPU devices (loop-free elementwise and reduction
// kernels, four elements per invocation with 64-bit pairs, lanes sharing index math and
// contiguous loads, branch-free padded reads, exact and guarded grids) on whatever device runs the
// tests, by switching the codegen target to `cpu` for a while; the mirror of gpu_paths_test.cpp.
#include <cmath>

#include "runtime/state.hpp"
#include "support/harness.hpp"
#include "runtime/test_access.hpp"

namespace descent::testing {
namespace {

class CpuCodePaths : public ::testing::Test {
 protected:
  void SetUp() override {
    saved_ = detail::TestAccess::state(env()).target;
    detail::TestAccess::state(env()).target.cpu = true;
  }
  void TearDown() override { detail::TestAccess::state(env()).target = saved_; }
  codegen::Target saved_;
};

using Fn = std::function<Array(Scope&, const std::vector<Array>&)>;

/// GLSL of the first kernel of `fn` on `inputs` (to check which code path a case reaches).
std::string first_kernel_source(const std::vector<Input>& inputs, const Fn& fn) {
  std::vector<Parameter> ps;
  for (const Input& i : inputs) ps.push_back(env().static_parameter_with_data(i.shape, env().unique_name("cpu_path_in"), i.values));
  Parameter out;
  Graph g = env().build_graph([&](Scope& s) {
    std::vector<Array> xs;
    for (const Parameter& p : ps) xs.push_back(s.parameter_value(p));
    Array r = fn(s, xs);
    out = env().static_parameter(r.shape(), env().unique_name("cpu_path_out"));
    s.write_parameter_value(out, r);
  });
  return g.kernel_source(0);
}

/// The reference evaluates chains in float64 (no rounding between ops), so allow the roundings
/// of a few float32 ops (as gpu_paths_test.cpp does).
CheckOptions ulps() {
  CheckOptions o;
  o.tolerance = Tolerance::kTranscend;
  o.transcend_ulps = 64;
  o.transcend_abs = 1e-5;
  o.expected_kernels = 1;
  return o;
}

TEST_F(CpuCodePaths, ElementwiseGrids) {
  // 4096: four per invocation, exact grid. 52: four per invocation, 13 steps (guarded). 1001: one
  // per invocation (guarded). With at most 7 workgroups per row the exact grid needs 2-D.
  for (uint32_t max_x : {65535u, 7u}) {
    detail::TestAccess::state(env()).target.max_groups_x = max_x;
    for (int64_t n : {int64_t{4096}, int64_t{52}, int64_t{1001}, int64_t{64 * 4 * 21}}) {
      std::vector<Input> in{{Shape{n}, random_values(n, 80)}, {Shape{n}, random_values(n, 81)}};
      Fn fn = [](Scope&, auto& x) { return x[0] * x[1] + x[0]; };
      std::string src = first_kernel_source(in, fn);
      const bool guarded = n == 52 || n == 1001;
      EXPECT_EQ(src.find("if (s < ") != std::string::npos, guarded) << n;
      EXPECT_EQ(src.find("pc.out0.v[l_3]") != std::string::npos, n % 4 == 0) << n;
      check_op("x * y + x", in, fn, ulps());
    }
  }
}

TEST_F(CpuCodePaths, ElementwiseViewsAcrossLanes) {
  Input a{Shape{6, 10, 8}, random_values(480, 82)};
  Input b{Shape{6, 5, 12}, random_values(360, 83)};
  Input c{Shape{5, 12}, random_values(60, 84)};
  struct Case {
    const char* name;
    Fn fn;
    const char* marker;  // in the generated GLSL
  };
  const Case cases[] = {
      // Innermost axis contiguous, even index: one index per step, 64-bit pairs.
      {"permuted", [](Scope&, auto& x) { return x[0].permute({1, 0, 2}) * 2.0f; }, "_idx >> 1"},
      // Contiguous but starting at an odd element: one index per step, four 32-bit loads.
      {"odd offset", [](Scope&, auto& x) { return x[1].slice(2, 1, 9) + 1.0f; }, "_idx + 3]"},
      // Zero padding on an outer axis (one shared bounds test) and on the innermost axis.
      {"padded rows", [](Scope&, auto& x) { return x[2].pad(0, 1, 2) * 3.0f; }, "_ok"},
      {"padded columns", [](Scope&, auto& x) { return x[2].pad(1, 2, 2) - 1.0f; }, "float r0_0 = "},
      // Broadcast along the lanes' axis and a strided innermost axis.
      {"broadcast + strided", [](Scope&, auto& x) { return x[0].slice(2, 0, 8, 2).broadcast({3, 6, 10, 4}) * 2.0f; },
       "l_0"},
  };
  for (const Case& k : cases) {
    EXPECT_NE(first_kernel_source({a, b, c}, k.fn).find(k.marker), std::string::npos) << k.name;
    check_op(k.name, {a, b, c}, k.fn, ulps());
  }
}

TEST_F(CpuCodePaths, Reductions) {
  struct Case {
    Shape shape;
    int axis;
  };
  // inner % 4 == 0: four outputs per invocation (len 3 unrolled, len 40 looped); otherwise one.
  const Case cases[] = {{Shape{7, 3, 8}, 1}, {Shape{4, 40, 8}, 1}, {Shape{5, 9, 3}, 1}, {Shape{300, 129}, 1},
                        {Shape{12, 16}, 0}};
  uint32_t salt = 90;
  for (const Case& c : cases) {
    Input in{c.shape, random_values(c.shape.element_count(), salt++)};
    CheckOptions o;
    o.tolerance = Tolerance::kReduction;
    o.reduction_length = c.shape[c.axis];
    o.abs_sum = abs_sums(in, c.axis);
    const int axis = c.axis;
    std::string src = first_kernel_source({in}, [axis](Scope&, auto& x) { return x[0].reduce_sum(axis); });
    int64_t inner = c.shape.element_count() / (c.shape[0] * (c.axis == 0 ? 1 : c.shape[1]));
    if (c.axis == 0) inner = c.shape[1];
    EXPECT_EQ(src.find("acc_3") != std::string::npos, inner % 4 == 0) << c.shape.str();
    EXPECT_EQ(src.find("for (int r = 0;") != std::string::npos, c.shape[c.axis] > 32) << c.shape.str();
    check_op("sum", {in}, [axis](Scope&, auto& x) { return x[0].reduce_sum(axis); }, o);
    check_op("max", {in}, [axis](Scope&, auto& x) { return x[0].reduce_max(axis); });
  }
  // An epilogue reading another input at the output index (lane mode: preloaded pairs).
  Input x{Shape{6, 10, 8}, random_values(480, 95)};
  Input y{Shape{6, 1, 8}, random_values(48, 96)};
  check_op("max + y", {x, y}, [](Scope&, auto& v) { return v[0].reduce_max(1) + v[1]; });
}

}  // namespace
}  // namespace descent::testing
