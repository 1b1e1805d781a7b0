// Runs the code shapes descent generates for GPUs (2-D grid without loops, multi-thread reductions
// with subgroup butterflies) on whatever device CI has, by switching the codegen target for a
// while. On lavapipe this covers what otherwise only the GPU run (T13) would exercise.
#include <cmath>

#include "runtime/state.hpp"
#include "support/harness.hpp"

namespace descent::testing {
namespace {

class GpuCodePaths : public ::testing::Test {
 protected:
  void SetUp() override {
    saved_ = env().state().target;
    env().state().target.cpu = false;
    if (env().state().target.subgroup_size == 0) env().state().target.subgroup_size = 1;
  }
  void TearDown() override { env().state().target = saved_; }
  codegen::Target saved_;
};

TEST_F(GpuCodePaths, ElementwiseScalarAndVec4) {
  for (int64_t n : {int64_t{1}, int64_t{7}, int64_t{64}, int64_t{65}, int64_t{4100}, int64_t{70001}}) {
    CheckOptions o;
    o.tolerance = Tolerance::kTranscend;
    o.transcend_ulps = 64;
    o.transcend_abs = 1e-5;
    o.expected_kernels = 1;
    check_op("chain", {{Shape{n}, random_values(n, 40)}, {Shape{n}, random_values(n, 41)}},
             [](Scope&, auto& x) { return (x[0] * x[1] + 1.0f).sin() - x[1].abs().sqrt(); }, o);
  }
}

TEST_F(GpuCodePaths, ReductionsWithThreadsPerRow) {
  const Shape shapes[] = {Shape{5, 4096}, Shape{3, 1000}, Shape{17, 36}, Shape{2, 8, 300}};
  uint32_t salt = 50;
  for (const Shape& s : shapes) {
    Input in{s, random_values(s.element_count(), salt++)};
    const int64_t len = s.dims().back();
    CheckOptions o;
    o.tolerance = Tolerance::kReduction;
    o.reduction_length = len;
    std::vector<double> abs(static_cast<size_t>(s.element_count() / len), 0.0);
    for (int64_t i = 0; i < s.element_count(); ++i) abs[i / len] += std::fabs(in.values[i]);
    o.abs_sum = abs;
    check_op("row sum", {in}, [&](Scope&, auto& x) { return x[0].reduce_sum(-1); }, o);
    check_op("row max", {in}, [&](Scope&, auto& x) { return x[0].reduce_max(-1); });
    std::vector<double> abs2(abs.size(), 0.0);
    for (int64_t i = 0; i < s.element_count(); ++i) abs2[i / len] += in.values[i] * in.values[i] + 1.0;
    o.abs_sum = abs2;
    check_op("row sum prologue", {in}, [&](Scope&, auto& x) { return (x[0] * x[0] + 1.0f).reduce_sum(-1); }, o);
  }
}

TEST_F(GpuCodePaths, ForcedThreadCounts) {
  Input in{Shape{6, 520}, random_values(3120, 60)};
  for (int th : {2, 8, 64, 256}) {
    env().state().target.reduce_threads = th;
    CheckOptions o;
    o.tolerance = Tolerance::kReduction;
    o.reduction_length = 520;
    std::vector<double> abs(6, 0.0);
    for (int i = 0; i < 3120; ++i) abs[i / 520] += std::fabs(in.values[i]);
    o.abs_sum = abs;
    check_op("sum th=" + std::to_string(th), {in}, [](Scope&, auto& x) { return x[0].reduce_sum(1); }, o);
    check_op("max th=" + std::to_string(th), {in}, [](Scope&, auto& x) { return x[0].reduce_max(1); });
  }
}

}  // namespace
}  // namespace descent::testing

namespace descent::testing {
namespace {

class GpuMatMul : public GpuCodePaths {};

TEST_F(GpuMatMul, TiledKernelAllLoadOrders) {
  // The 128x128 shared-memory kernel and the narrow-tile kernel (<= 32 rows or columns: every
  // tile shape 64x16, 64x32, 32x64, 16x64, 16x16 is hit below), with operands contiguous along
  // k, m or n (each picks a different cooperative load order), ragged sizes, a fused epilogue.
  struct Case {
    int64_t m, k, n;
    bool ta, tb;
  };
  const Case cases[] = {{130, 17, 129, false, false}, {33, 40, 7, true, false},
                        {5, 129, 140, false, true}, {129, 31, 130, true, true},
                        {9, 300, 16, true, false},  {200, 9, 16, false, false},
                        {72, 50, 16, true, true},   {70, 33, 20, false, true},
                        {20, 21, 70, true, false},  {10, 17, 100, false, false},
                        {9, 40, 14, false, true}};
  uint32_t salt = 500;
  for (const Case& c : cases) {
    Input a{c.ta ? Shape{c.k, c.m} : Shape{c.m, c.k}, random_values(c.m * c.k, salt++)};
    Input b{c.tb ? Shape{c.n, c.k} : Shape{c.k, c.n}, random_values(c.k * c.n, salt++)};
    Input bias{Shape{c.n}, random_values(c.n, salt++)};
    auto fn = [&](Scope&, const std::vector<Array>& x) {
      Array av = c.ta ? x[0].transpose() : x[0];
      Array bv = c.tb ? x[1].transpose() : x[1];
      return av.matmul(bv) * 0.5f + x[2];
    };
    std::vector<Input> abs_in{a, b, bias};
    for (Input& in : abs_in)
      for (float& v : in.values) v = std::fabs(v);
    CheckOptions plain;
    plain.tolerance = Tolerance::kReduction;
    plain.reduction_length = c.k + 1;
    plain.check_unfused = false;
    auto bound = check_op("tiled |x|", abs_in, fn, plain).ref;
    CheckOptions o = plain;
    o.abs_sum = bound;
    o.check_unfused = true;
    o.expected_kernels = 1;
    check_op("tiled matmul", {a, b, bias}, fn, o);
  }
}

}  // namespace
}  // namespace descent::testing

namespace descent::testing {
namespace {

TEST(CoopMat, KernelCompilesEverywhere) {
  // lavapipe cannot run cooperative matrices, but the generated GLSL must always compile, so
  // a codegen change that breaks the tensor-core path fails CI, not only the GPU run.
  auto a = env().static_parameter({70, 40}, "cm_a");
  auto b = env().static_parameter({40, 33}, "cm_b");
  auto c = env().static_parameter({70, 33}, "cm_c");
  Graph g = env().build_graph([&](Scope& s) {
    s.write_parameter_value(c, s.parameter_value(a).matmul(s.parameter_value(b), MatMulPrecision::kFloat16Inputs).relu());
  });
  const auto& cg = detail::GraphAccess::get(g);
  ASSERT_EQ(cg.kernels.size(), 1u);
  codegen::Target t = env().state().target;
  t.cpu = false;
  t.coopmat_nv = true;
  auto gen = codegen::generate(cg.kernels[0], t);
  ASSERT_NE(gen.source.find("coopMatMulAddNV"), std::string::npos);
  EXPECT_NO_THROW(env().state().compiler->compile(gen.source, "coopmat check"));
}

TEST(CoopMat, Float16InputsWithinTolerance) {
  // On devices with cooperative matrices this runs the tensor-core kernel; elsewhere the float32
  // kernel. Tolerance for float16 inputs: each product carries <= 2^-10 relative rounding, so
  // |err| <= (2^-10 + 4 K 2^-24) sum|a b|.
  const int64_t m = 130, k = 77, n = 65;
  Input a{Shape{m, k}, random_values(m * k, 900)};
  Input b{Shape{k, n}, random_values(k * n, 901)};
  auto fn = [](Scope&, const std::vector<Array>& x) {
    return x[0].matmul(x[1], MatMulPrecision::kFloat16Inputs) * 2.0f;
  };
  std::vector<Input> abs_in{a, b};
  for (Input& in : abs_in)
    for (float& v : in.values) v = std::fabs(v);
  CheckOptions plain;
  plain.tolerance = Tolerance::kReduction;
  plain.reduction_length = k + 4096;
  plain.check_unfused = false;
  auto mag = check_op("coopmat |x|", abs_in, fn, plain).ref;
  // Class D with the length stretched so that 4 L 2^-24 = 2^-10 + 4 K 2^-24.
  CheckOptions o;
  o.tolerance = Tolerance::kReduction;
  o.reduction_length = k + 4096;
  o.abs_sum = mag;
  o.expected_kernels = 1;
  check_op("coopmat", {a, b}, fn, o);
}

}  // namespace
}  // namespace descent::testing

namespace descent::testing {
namespace {

TEST(TinyLimits, FewWorkgroupsStillCoverEverything) {
  // T7: with the dispatch grid capped at 1 and 3 workgroups, the grid-stride loops of
  // elementwise and reduction kernels must still reach every element (CPU and GPU code shapes).
  codegen::Target saved = env().state().target;
  for (bool cpu : {true, false})
    for (uint32_t groups : {1u, 3u}) {
      env().state().target.cpu = cpu;
      env().state().target.max_groups_x = groups;
      if (env().state().target.subgroup_size == 0) env().state().target.subgroup_size = 1;
      CheckOptions o;
      o.tolerance = Tolerance::kTranscend;
      o.transcend_ulps = 64;
      o.transcend_abs = 1e-5;
      check_op("elementwise", {{Shape{1001}, random_values(1001, 70)}, {Shape{1001}, random_values(1001, 71)}},
               [](Scope&, auto& x) { return (x[0] * x[1]).sin() + x[1]; }, o);
      check_op("elementwise vec4", {{Shape{4096}, random_values(4096, 72)}},
               [](Scope&, auto& x) { return x[0].abs().sqrt() * 3.0f; }, o);
      Input in{Shape{300, 129}, random_values(300 * 129, 73)};
      CheckOptions r;
      r.tolerance = Tolerance::kReduction;
      r.reduction_length = 129;
      r.abs_sum = abs_sums(in, 1);
      check_op("row sums", {in}, [](Scope&, auto& x) { return x[0].reduce_sum(1); }, r);
    }
  env().state().target = saved;
}

}  // namespace
}  // namespace descent::testing

namespace descent::testing {
namespace {

TEST_F(GpuCodePaths, ReductionEpilogues) {
  Input in{Shape{9, 1000}, random_values(9000, 90)};
  CheckOptions o;
  o.tolerance = Tolerance::kReduction;
  o.reduction_length = 1000;
  o.abs_sum = abs_sums(in, 1);
  for (double& v : o.abs_sum) v = v * 0.5 + 3.0;
  o.expected_kernels = 1;
  check_op("sum * 0.5 + 3", {in}, [](Scope&, auto& x) { return x[0].reduce_sum(1) * 0.5f + 3.0f; }, o);
  CheckOptions m;
  m.expected_kernels = 1;
  check_op("relu(max)", {in}, [](Scope&, auto& x) { return x[0].reduce_max(1).relu(); }, m);
}

}  // namespace
}  // namespace descent::testing
