// Without a device: the pack_half2 reference (float16 rounding and packing) and the
// tensor-core operand-packing pass, checked by running the float64 reference interpreter on the
// graph before and after the pass.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "codegen/generate.hpp"
#include "fuse/cluster.hpp"
#include "graph/op.hpp"
#include "graph/passes/passes.hpp"
#include "ref/interpreter.hpp"
#include "vulkan/shader_compiler.hpp"
#include "vulkan/spirv_coopmat.hpp"

namespace descent::detail {
namespace {

uint32_t packed(double lo, double hi) { return static_cast<uint32_t>(eval_elementwise(Op::PackHalf2, lo, hi, 0)); }

TEST(PackHalf2, RoundsToNearestEvenAndPacksLowFirst) {
  EXPECT_EQ(packed(1.0, -2.0), 0x3c00u | (0xc000u << 16));
  EXPECT_EQ(packed(1.0 + std::ldexp(1.0, -11), 0), 0x3c00u);      // tie -> even
  EXPECT_EQ(packed(1.0 + 3 * std::ldexp(1.0, -11), 0), 0x3c02u);  // tie -> even (up)
  EXPECT_EQ(packed(1.0 + std::ldexp(1.0, -11) + std::ldexp(1.0, -20), 0), 0x3c01u);
  EXPECT_EQ(packed(65504.0, 0), 0x7bffu);                         // largest finite
  EXPECT_EQ(packed(65520.0, 0), 0x7c00u);                         // rounds to infinity
  EXPECT_EQ(packed(std::ldexp(1.0, -24), 0), 0x0001u);            // smallest subnormal
  EXPECT_EQ(packed(std::ldexp(1.0, -25), 0), 0x0000u);            // tie -> even (zero)
  EXPECT_EQ(packed(3 * std::ldexp(1.0, -26), 0), 0x0001u);
  EXPECT_EQ(packed(std::ldexp(1.0, -14), 0), 0x0400u);            // smallest normal
  EXPECT_EQ(packed(-0.0, 0), 0x8000u);
  EXPECT_EQ(packed(std::numeric_limits<double>::quiet_NaN(), 0) & 0x7fffu, 0x7e00u);
  EXPECT_EQ(packed(-std::numeric_limits<double>::infinity(), 0), 0xfc00u);
}

struct Product {
  IrGraph g;
  NodeId mm = kNoNode;
};

/// p0 [batch.., M, K] (or stored [.., K, M] and read transposed when ta) times p1 likewise,
/// float16 inputs, written to p2.
Product product(std::vector<int64_t> batch, int64_t m, int64_t k, int64_t n, bool ta, bool tb) {
  Product p;
  auto shape = [&](int64_t r, int64_t c) {
    std::vector<int64_t> d = batch;
    d.push_back(r);
    d.push_back(c);
    return Shape(d);
  };
  auto input = [&](uint32_t param, const Shape& s) {
    Node in;
    in.op = Op::Input;
    in.shape = s;
    in.param = param;
    return p.g.add(in);
  };
  const int r = static_cast<int>(batch.size()) + 2;
  std::vector<int> swap;
  for (int j = 0; j < r; ++j) swap.push_back(j);
  std::swap(swap[static_cast<size_t>(r - 2)], swap[static_cast<size_t>(r - 1)]);
  Shape sa = ta ? shape(k, m) : shape(m, k), sb = tb ? shape(n, k) : shape(k, n);
  NodeId a = input(0, sa), b = input(1, sb);
  Node mm;
  mm.op = Op::MatMul;
  mm.axis = 1;
  mm.shape = shape(m, n);
  mm.args = {Arg{a, ta ? View::identity(sa).permuted(swap) : View::identity(sa)},
             Arg{b, tb ? View::identity(sb).permuted(swap) : View::identity(sb)}};
  p.mm = p.g.add(mm);
  Node out;
  out.op = Op::Output;
  out.shape = mm.shape;
  out.param = 2;
  out.args = {Arg{p.mm, View::identity(mm.shape)}};
  p.g.add(out);
  p.g.validate();
  return p;
}

/// Values k / 64 for small integers k are exact in float16, so the packed product must equal the
/// unpacked one exactly (float64 sums of such products are exact too).
std::vector<double> exact_half_values(int64_t count, int salt) {
  std::vector<double> v(static_cast<size_t>(count));
  for (int64_t i = 0; i < count; ++i) v[static_cast<size_t>(i)] = static_cast<double>((i * 37 + salt) % 129 - 64) / 64.0;
  return v;
}

void expect_packed_equals_plain(std::vector<int64_t> batch, int64_t m, int64_t k, int64_t n, bool ta, bool tb) {
  Product p = product(batch, m, k, n, ta, tb);
  int64_t bs = 1;
  for (int64_t x : batch) bs *= x;
  std::map<uint32_t, std::vector<double>> params{{0, exact_half_values(bs * m * k, 1)}, {1, exact_half_values(bs * k * n, 5)}};
  auto plain = reference_run(p.g, params, {});
  IrGraph g = p.g;
  ASSERT_TRUE(pack_float16_matmul_operands(g));
  g.compact();
  g.validate();
  int packs = 0, packed_products = 0;
  const int64_t kp = (k + 63) / 64 * 64;  // K padded to 64
  for (const Node& x : g.nodes()) {
    if (x.op == Op::PackHalf2) {
      ++packs;
      EXPECT_EQ(x.dtype, DType::kU32);
      // Pairs along each operand's contiguous axis: A [M, Kp/2] or (transposed) [Kp, M/2];
      // B [Kp, N/2] or (transposed) [N, Kp/2].
      EXPECT_TRUE(x.shape[-1] == kp / 2 || x.shape[-2] == kp) << x.shape.str();
    }
    if (x.op == Op::MatMul && is_packed_matmul(x.axis)) {
      ++packed_products;
      EXPECT_EQ(x.axis, kPackedMatMul + (ta ? kPackedAlongM : 0) + (tb ? 0 : kPackedAlongN));
    }
  }
  EXPECT_EQ(packs, 2);
  EXPECT_EQ(packed_products, 1);
  auto packed = reference_run(g, params, {});
  EXPECT_EQ(packed.at(2), plain.at(2));
}

TEST(PackOperands, PackedProductEqualsPlainProduct) {
  expect_packed_equals_plain({}, 128, 200, 256, false, false);  // K padded 200 -> 256
  expect_packed_equals_plain({}, 256, 64, 128, true, true);     // transposed views of both
  expect_packed_equals_plain({2}, 128, 70, 128, false, true);   // batched, odd K
}

TEST(PackOperands, LeavesOtherProductsAlone) {
  Product ragged = product({}, 130, 64, 128, false, false);  // M not a multiple of 128
  EXPECT_FALSE(pack_float16_matmul_operands(ragged.g));
  Product fp32 = product({}, 128, 64, 128, false, false);
  fp32.g[fp32.mm].axis = 0;  // float32 product
  EXPECT_FALSE(pack_float16_matmul_operands(fp32.g));
}

TEST(PackOperands, BroadcastOperandIsCopiedPerBatch) {
  Product p = product({2}, 128, 64, 128, false, false);
  Node& mm = p.g[p.mm];
  p.g[mm.args[1].node].shape = Shape{64, 128};  // B [64, 128] broadcast over the batch of 2
  mm.args[1].view = View::broadcast(Shape{64, 128}, Shape{2, 64, 128});
  p.g.validate();
  std::map<uint32_t, std::vector<double>> params{{0, exact_half_values(2 * 128 * 64, 3)}, {1, exact_half_values(64 * 128, 4)}};
  auto plain = reference_run(p.g, params, {});
  ASSERT_TRUE(pack_float16_matmul_operands(p.g));
  p.g.compact();
  p.g.validate();
  EXPECT_EQ(reference_run(p.g, params, {}).at(2), plain.at(2));
}

TEST(PackOperands, KernelsAndWorkgroupScopeGlslThatCompiles) {
  // The fused schedule of a packed product with a consumer: the accumulator is stored whole, so
  // the consumer (relu) gets a kernel of its own; the product's GLSL compiles with glslang 12 and
  // rewrites to KHR workgroup-scope matrices, for every packing layout (no device needed; the GPU
  // run executes it).
  for (int layout = 0; layout < 4; ++layout) {
    const bool ta = layout & 1, tb = layout & 2;
    SCOPED_TRACE(layout);
    Product p = product({2}, 256, 150, 128, ta, tb);  // Kp 192: one double step and the odd one
    Node relu;
    relu.op = Op::Relu;
    relu.shape = p.g[p.mm].shape;
    relu.args = {Arg{p.mm, View::identity(relu.shape)}};
    NodeId r = p.g.add(relu);
    for (Node& x : p.g.nodes())
      if (x.op == Op::Output) x.args[0].node = r;
    p.g.compact();
    p.g.validate();
    ASSERT_TRUE(pack_float16_matmul_operands(p.g));
    p.g.compact();
    p.g.validate();
    auto kernels = build_kernels(p.g, FusionOptions{});
    ASSERT_EQ(kernels.size(), 4u);  // pack A, pack B, product, relu
    codegen::Target t;
    t.coopmat_nv = t.coopmat2 = true;
    t.max_shared_memory = 49152;
    int products = 0;
    vk::ShaderCompiler compiler("unit-test");
    for (const KernelSpec& k : kernels) {
      if (k.type != KernelSpec::Type::MatMul) continue;
      ++products;
      ASSERT_TRUE(k.packed_halves);
      EXPECT_EQ(k.packed_a_along_m, ta);
      EXPECT_EQ(k.packed_b_along_n, !tb);
      codegen::GeneratedKernel gen = codegen::generate(k, t);
      EXPECT_TRUE(gen.khr_coopmat);
      EXPECT_EQ(gen.groups_x, 2u);  // (256 / 128) x (128 / 128) tiles
      EXPECT_EQ(gen.groups_z, 2u);  // batches
      EXPECT_NE(gen.source.find("gl_ScopeWorkgroup"), std::string::npos);
      auto khr = vk::nv_coopmat_to_khr(compiler.compile(gen.source, "packed product"));
      int workgroup_types = 0;
      for (size_t i = 5; i < khr.size(); i += khr[i] >> 16)
        if ((khr[i] & 0xffff) == 4456) ++workgroup_types;
      EXPECT_EQ(workgroup_types, 3);
    }
    EXPECT_EQ(products, 1);
  }
}

}  // namespace
}  // namespace descent::detail
