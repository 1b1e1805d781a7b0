// Runs the code shapes descent generates for GPUs (2-D grid without loops, multi-thread reductions
// with subgroup butterflies) on whatever device CI has, by switching the codegen target for a
// while. On lavapipe this covers what otherwise only a GPU run would exercise.
#include <fmt/format.h>

#include <cmath>
#include <functional>

#include "runtime/state.hpp"
#include "support/harness.hpp"
#include "runtime/test_access.hpp"

namespace descent::testing {
namespace {

class GpuCodePaths : public ::testing::Test {
 protected:
  void SetUp() override {
    saved_ = detail::TestAccess::state(env()).target;
    detail::TestAccess::state(env()).target.cpu = false;
    if (detail::TestAccess::state(env()).target.subgroup_size == 0) detail::TestAccess::state(env()).target.subgroup_size = 1;
  }
  void TearDown() override { detail::TestAccess::state(env()).target = saved_; }
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
    detail::TestAccess::state(env()).target.reduce_threads = th;
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
  for (int tile : {128, 0, 16, 32, 48, 64, 80}) {  // forced big, automatic, forced narrow sizes
  detail::TestAccess::state(env()).target.matmul_tile = tile;
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
    check_op(fmt::format("tiled matmul (tile {})", tile), {a, b, bias}, fn, o);
  }
  }
  detail::TestAccess::state(env()).target.matmul_tile = 0;
}

// Operands computed inside the matmul's loads (an elementwise producer used only by matmuls, e.g.
// the im2col copy of a convolution): values vs the float64 reference, for every tile shape, with
// the producer read through a transpose, zero padding and windows, and a split long K.
TEST_F(GpuCodePaths, MatMulOperandsComputedInLoads) {
  struct Case {
    const char* name;
    std::vector<Shape> shapes;
    std::function<Array(const std::vector<Array>&)> fn;
    int64_t k;
    int kernels;
  };
  auto patches = [](const Array& img) {  // [N, H, W, C] -> [N*H*W, 9*C], zero-padded 3x3 windows
    const Shape s = img.shape();
    return img.pad(1, 1, 1).pad(2, 1, 1).windows(1, 3).windows(3, 3).permute({0, 1, 3, 2, 4, 5})
        .reshape(Shape{s[0] * s[1] * s[2], 9 * s[3]});
  };
  const Case cases[] = {
      {"square then matmul", {Shape{37, 21}, Shape{21, 19}}, [](auto& x) { return (x[0] * x[0]).matmul(x[1]); }, 21, 1},
      {"transposed producer", {Shape{23, 40}, Shape{23, 9}},
       [](auto& x) { return x[0].abs().transpose().matmul(x[1] * x[1]); }, 23, 1},
      {"conv forward", {Shape{2, 6, 5, 3}, Shape{27, 4}}, [&](auto& x) { return patches(x[0]).matmul(x[1]); }, 27, 1},
      {"conv weight gradient, split K", {Shape{4, 14, 14, 2}, Shape{784, 5}},
       [&](auto& x) { return patches(x[0]).transpose().matmul(x[1]); }, 784, 2},
  };
  uint32_t salt = 900;
  detail::TestAccess::state(env()).target.matmul_prologue = 1;  // restored by TearDown
  for (int tile : {128, 0, 16}) {
    detail::TestAccess::state(env()).target.matmul_tile = tile;
    for (const Case& c : cases) {
      std::vector<Input> in, abs_in;
      for (const Shape& sh : c.shapes) in.push_back(Input{sh, random_values(sh.element_count(), salt++)});
      abs_in = in;
      for (Input& i : abs_in)
        for (float& v : i.values) v = std::fabs(v);
      auto fn = [&](Scope&, const std::vector<Array>& x) { return c.fn(x); };
      CheckOptions plain;
      plain.tolerance = Tolerance::kReduction;
      plain.reduction_length = c.k;
      plain.check_unfused = false;
      auto bound = check_op(fmt::format("{} |x|", c.name), abs_in, fn, plain).ref;
      CheckOptions o = plain;
      o.abs_sum = bound;
      o.check_unfused = true;
      o.expected_kernels = c.kernels;
      check_op(fmt::format("{} (tile {})", c.name, tile), in, fn, o);
    }
  }
  detail::TestAccess::state(env()).target.matmul_tile = 0;
}

// A producer that something other than a matmul reads is stored once, not computed in the loads.
TEST_F(GpuCodePaths, MatMulOperandWithOtherUsersIsStored) {
  detail::TestAccess::state(env()).target.matmul_prologue = 1;  // restored by TearDown
  auto a = env().static_parameter({8, 8}, env().unique_name("prologue_a"));
  auto out = env().static_parameter({8, 8}, env().unique_name("prologue_out"));
  auto sq = env().static_parameter({8, 8}, env().unique_name("prologue_sq"));
  Graph g = env().build_graph([&](Scope& s) {
    Array r = s.parameter_value(a).sin();
    s.write_parameter_value(out, r.matmul(s.parameter_value(a)));
    s.write_parameter_value(sq, r);
  });
  for (const std::string& l : g.kernel_labels()) EXPECT_EQ(l.find("computed in loads"), std::string::npos) << l;
  Graph h = env().build_graph([&](Scope& s) {
    s.write_parameter_value(out, s.parameter_value(a).sin().matmul(s.parameter_value(a)));
  });
  ASSERT_EQ(h.kernel_count(), 1u);
  EXPECT_NE(h.kernel_labels()[0].find("(A computed in loads)"), std::string::npos) << h.kernel_labels()[0];
}

}  // namespace
}  // namespace descent::testing

namespace descent::testing {
namespace {

/// One float16-input product a[m,k] (transposed: stored [k,m]) x b[k,n] (stored [n,k]) with a
/// relu epilogue, built into a graph; returns its single kernel spec.
detail::KernelSpec coopmat_spec(int64_t m, int64_t k, int64_t n, bool ta, bool tb) {
  // The subgroup kernel: no packed operands, even where the device has workgroup-scope matrices.
  const bool coopmat2 = detail::TestAccess::state(env()).target.coopmat2;
  detail::TestAccess::state(env()).target.coopmat2 = false;
  auto a = env().static_parameter(ta ? Shape{k, m} : Shape{m, k}, env().unique_name("cm_a"));
  auto b = env().static_parameter(tb ? Shape{n, k} : Shape{k, n}, env().unique_name("cm_b"));
  auto c = env().static_parameter({m, n}, env().unique_name("cm_c"));
  Graph g = env().build_graph([&](Scope& s) {
    Array av = ta ? s.parameter_value(a).transpose() : s.parameter_value(a);
    Array bv = tb ? s.parameter_value(b).transpose() : s.parameter_value(b);
    s.write_parameter_value(c, av.matmul(bv, MatMulPrecision::kFloat16Inputs).relu());
  });
  detail::TestAccess::state(env()).target.coopmat2 = coopmat2;
  const auto& cg = detail::GraphAccess::get(g);
  EXPECT_EQ(cg.kernels.size(), 1u);
  return cg.kernels.at(0);
}

TEST(CoopMat, KernelCompilesEverywhere) {
  // lavapipe cannot run cooperative matrices, but the generated GLSL must always compile, so
  // a codegen change that breaks the tensor-core path fails CI, not only the GPU run: every tile
  // variant, both spellings (NV and emulated), every operand layout, scalar and vec4 loads.
  codegen::Target t = detail::TestAccess::state(env()).target;
  t.cpu = false;
  t.max_shared_memory = 48 * 1024;  // what the NVIDIA driver reports
  struct Case {
    int64_t m, k, n;
  };
  for (Case c : {Case{70, 40, 33}, Case{256, 64, 128}})
    for (int layout = 0; layout < 4; ++layout) {
      detail::KernelSpec spec = coopmat_spec(c.m, c.k, c.n, layout & 1, layout & 2);
      for (int v = 1; v <= codegen::coopmat_variant_count(); ++v)
        for (bool emulate : {false, true}) {
          t.coopmat_variant = v;
          t.coopmat_nv = !emulate;
          t.coopmat_emulate = emulate;
          auto gen = codegen::generate(spec, t);
          std::string what = fmt::format("coopmat variant {} layout {} {}x{}x{}{}", v, layout, c.m, c.k,
                                         c.n, emulate ? " emulated" : "");
          SCOPED_TRACE(what);
          EXPECT_NE(gen.source.find(fmt::format("coopmat variant {}:", v)), std::string::npos);
          EXPECT_EQ(gen.source.find("coopMatMulAddNV") != std::string::npos, !emulate);
          EXPECT_NO_THROW(detail::TestAccess::state(env()).compiler->compile(gen.source, what));
        }
    }
}

class CoopMatKernel : public GpuCodePaths {};

/// Checks `fn` = relu(2 a b + bias) with float16-input tolerance: each product carries <= 2^-10
/// relative rounding, so |err| <= (2^-10 + 4 K 2^-24) (2 sum|a b| + |bias|); as in
/// Float16InputsWithinTolerance, the class D length is stretched by 4096 to cover 2^-10.
void check_fp16_product(const std::string& name, int64_t m, int64_t k, int64_t n, bool ta, bool tb, uint32_t salt,
                        int kernels = 1) {
  Input a{ta ? Shape{k, m} : Shape{m, k}, random_values(m * k, salt)};
  Input b{tb ? Shape{n, k} : Shape{k, n}, random_values(k * n, salt + 1)};
  Input bias{Shape{n}, random_values(n, salt + 2)};
  std::vector<double> mag(static_cast<size_t>(m * n));
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) {
      double sum = std::fabs(bias.values[j]);
      for (int64_t q = 0; q < k; ++q)
        sum += 2.0 * std::fabs(a.values[ta ? q * m + i : i * k + q]) * std::fabs(b.values[tb ? j * k + q : q * n + j]);
      mag[i * n + j] = sum;
    }
  auto fn = [&](Scope&, const std::vector<Array>& x) {
    Array av = ta ? x[0].transpose() : x[0];
    Array bv = tb ? x[1].transpose() : x[1];
    return (av.matmul(bv, MatMulPrecision::kFloat16Inputs) * 2.0f + x[2]).relu();
  };
  CheckOptions o;
  o.tolerance = Tolerance::kReduction;
  o.reduction_length = k + 4096;
  o.abs_sum = mag;
  o.check_unfused = false;  // the unfused graph runs the same product kernel; fusion tests cover it
  o.expected_kernels = kernels;
  check_op(name, {a, b, bias}, fn, o);
}

TEST_F(CoopMatKernel, EveryVariantThatFitsMatchesReference) {
  // Every tile variant of the tensor-core kernel against the reference. On devices with
  // VK_NV_cooperative_matrix this is the real kernel. Elsewhere (lavapipe) Target::coopmat_emulate
  // spells its fragment operations in plain GLSL: staging, guards, layouts, double buffering,
  // launch order and epilogue are still the real kernel's; only the three NV built-ins are
  // replaced. Variants needing more shared memory than the device has fall back to one that fits
  // and are skipped here (lavapipe, 32 KiB: variants 2, 4, 6 and 7 run; NVIDIA, 48 KiB: all).
  struct Case {
    int64_t m, k, n;
    bool ta, tb;
  };
  // Ragged scalar loads; transposed vec4 loads over several K steps; mixed; many tile rows.
  const Case cases[] = {{130, 77, 65, false, false}, {100, 72, 36, true, true}, {36, 100, 132, false, true},
                        {600, 16, 40, true, false}};
  int ran = 0;
  uint32_t salt = 1300;
  detail::TestAccess::state(env()).target.coopmat_emulate = true;
  for (int v = 1; v <= codegen::coopmat_variant_count(); ++v) {
    detail::TestAccess::state(env()).target.coopmat_variant = v;
    std::string src = codegen::generate(coopmat_spec(130, 77, 65, false, false), detail::TestAccess::state(env()).target).source;
    if (src.find(fmt::format("coopmat variant {}:", v)) == std::string::npos) continue;  // does not fit
    ++ran;
    for (const Case& c : cases) {
      check_fp16_product(fmt::format("coopmat variant {} {}x{}x{} ta {} tb {}", v, c.m, c.k, c.n, c.ta,
                                     c.tb),
                         c.m, c.k, c.n, c.ta, c.tb, salt);
      salt += 3;
    }
  }
  EXPECT_GE(ran, 3) << "too few tile variants fit this device's shared memory";
}

TEST_F(CoopMatKernel, BatchedAndBroadcast) {
  // Batched A with B broadcast over the batch, vec4 loads, plain store epilogue (fused and not);
  // emulated where the device lacks cooperative matrices, as above.
  detail::TestAccess::state(env()).target.coopmat_emulate = true;
  detail::TestAccess::state(env()).target.coopmat_variant = 7;
  Input a{Shape{2, 3, 40, 24}, random_values(2 * 3 * 40 * 24, 1400)};
  Input b{Shape{24, 36}, random_values(24 * 36, 1401)};
  std::vector<double> mag(2 * 3 * 40 * 36);
  for (int64_t r = 0; r < 2 * 3 * 40; ++r)
    for (int64_t j = 0; j < 36; ++j)
      for (int64_t q = 0; q < 24; ++q) mag[r * 36 + j] += std::fabs(a.values[r * 24 + q] * b.values[q * 36 + j]);
  CheckOptions o;
  o.tolerance = Tolerance::kReduction;
  o.reduction_length = 24 + 4096;
  o.abs_sum = mag;
  o.expected_kernels = 1;
  check_op("coopmat batched", {a, b},
           [](Scope&, const std::vector<Array>& x) { return x[0].matmul(x[1], MatMulPrecision::kFloat16Inputs); },
           o);
}

TEST(CoopMat2, PackedOperandsOnWorkgroupMatrices) {
  // Devices with VK_NV_cooperative_matrix2 workgroup scope (the H100 run): float16 products with
  // M and N multiples of 128 read packed float16 copies of their operands (passes/pack_operands.cpp)
  // and run on workgroup-scope matrices. Kernels: pack A, pack B, product, epilogue (x 2 + bias,
  // relu). Same tolerance as the subgroup kernel. Elsewhere skipped: the unit tests compile the
  // kernel and check the pass against the reference interpreter.
  if (!detail::TestAccess::state(env()).target.coopmat2) GTEST_SKIP() << "no workgroup-scope cooperative matrices";
  check_fp16_product("coopmat2 256x200x384", 256, 200, 384, false, false, 2000, 4);
  check_fp16_product("coopmat2 128x64x128 ta tb", 128, 64, 128, true, true, 2010, 4);
  check_fp16_product("coopmat2 384x1000x768 tb", 384, 1000, 768, false, true, 2020, 4);  // not split
  // Batched, no epilogue: three kernels, the product's is the workgroup-scope one; two runs give
  // identical bits.
  Environment& e = env();
  auto pa = e.static_parameter_with_data({2, 128, 160}, e.unique_name("a"), random_values(2 * 128 * 160, 2030));
  auto pb = e.static_parameter_with_data({2, 160, 256}, e.unique_name("b"), random_values(2 * 160 * 256, 2031));
  auto pc = e.static_parameter({2, 128, 256}, e.unique_name("c"));
  Graph g = e.build_graph([&](Scope& s) {
    s.write_parameter_value(pc, s.parameter_value(pa).matmul(s.parameter_value(pb), MatMulPrecision::kFloat16Inputs));
  });
  ASSERT_EQ(g.kernel_count(), 3u);
  int workgroup = 0;
  for (size_t i = 0; i < g.kernel_count(); ++i) workgroup += g.kernel_source(i).find("gl_ScopeWorkgroup") != std::string::npos;
  EXPECT_EQ(workgroup, 1);
  e.run(g);
  auto first = e.read_parameter(pc);
  e.run(g);
  EXPECT_EQ(e.read_parameter(pc), first);
  auto av = e.read_parameter(pa), bv = e.read_parameter(pb);
  double worst = 0;
  for (int64_t bi = 0; bi < 2; ++bi)
    for (int64_t i = 0; i < 128; i += 7)
      for (int64_t j = 0; j < 256; j += 5) {
        double ref = 0, mag = 0;
        for (int64_t q = 0; q < 160; ++q) {  // K 160 -> 192: a double step and the odd one
          double t = static_cast<double>(av[(bi * 128 + i) * 160 + q]) * bv[(bi * 160 + q) * 256 + j];
          ref += t;
          mag += std::fabs(t);
        }
        worst = std::max(worst, std::fabs(first[(bi * 128 + i) * 256 + j] - ref) / mag);
      }
  EXPECT_LT(worst, 2.0 * std::ldexp(1.0, -10)) << "relative to sum |a b|";
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
  // Device limits: with the dispatch grid capped at 1 and 3 workgroups, the grid-stride loops of
  // elementwise, reduction and matmul kernels must still reach every element (CPU and GPU code
  // shapes).
  codegen::Target saved = detail::TestAccess::state(env()).target;
  for (bool cpu : {true, false})
    for (uint32_t groups : {1u, 3u}) {
      detail::TestAccess::state(env()).target.cpu = cpu;
      detail::TestAccess::state(env()).target.max_groups_x = groups;
      if (detail::TestAccess::state(env()).target.subgroup_size == 0) detail::TestAccess::state(env()).target.subgroup_size = 1;
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
      // Matrix products: CPU kernels for small and large B (row blocks then need their loop).
      for (int64_t n : {int64_t{6}, int64_t{70}}) {
        Input a{Shape{2, 150, 60}, random_values(2 * 150 * 60, 74)};
        Input b{Shape{60, n}, random_values(60 * n, 75)};
        CheckOptions m;
        m.tolerance = Tolerance::kReduction;
        m.reduction_length = 60;
        m.abs_sum.assign(static_cast<size_t>(2 * 150 * n), 0.0);
        for (int64_t i = 0; i < 300; ++i)
          for (int64_t j = 0; j < n; ++j)
            for (int64_t q = 0; q < 60; ++q)
              m.abs_sum[static_cast<size_t>(i * n + j)] += std::fabs(a.values[i * 60 + q] * b.values[q * n + j]);
        check_op("matmul", {a, b}, [](Scope&, auto& x) { return x[0].matmul(x[1]); }, m);
      }
    }
  detail::TestAccess::state(env()).target = saved;
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
