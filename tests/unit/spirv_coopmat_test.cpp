// Unit tests (no GPU) of the NV -> KHR cooperative-matrix SPIR-V rewrite: modules compiled here
// with glslang's NV extension are decoded word by word after the rewrite.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include "vulkan/shader_compiler.hpp"
#include "vulkan/spirv_coopmat.hpp"

namespace descent::vk {
namespace {

std::string kernel(const std::string& a, const std::string& b, bool b_col_major) {
  return std::string(R"(#version 460
#pragma use_vulkan_memory_model
#extension GL_EXT_buffer_reference : require
#extension GL_EXT_shader_explicit_arithmetic_types_int64 : require
#extension GL_NV_cooperative_matrix : require
#extension GL_KHR_memory_scope_semantics : require
#extension GL_EXT_shader_explicit_arithmetic_types_float16 : require
layout(buffer_reference, std430, buffer_reference_align = 16) buffer H { uvec4 v[]; };
layout(buffer_reference, std430, buffer_reference_align = 16) buffer F { float v[]; };
layout(push_constant) uniform P { H a; H b; F c; } pc;
layout(local_size_x = 128) in;
)") + "#define MA " + a + "\n#define MB " + b + R"(
#define MC fcoopmatNV<32, gl_ScopeWorkgroup, 64, 32>
void main() {
  MC acc = MC(0.0);
  for (int k = 0; k < 256; k += 16) {
    MA x; coopMatLoadNV(x, pc.a.v, uint(k >> 3), 32u, false);
    MB y; coopMatLoadNV(y, pc.b.v, uint(k >> 3), 32u, )" + (b_col_major ? "true" : "false") + R"();
    acc = coopMatMulAddNV(x, y, acc);
  }
  coopMatStoreNV(acc, pc.c.v, 0u, 32u, false);
}
)";
}

struct Decoded {
  uint32_t version = 0, bound = 0;
  std::map<uint32_t, int> opcode_count;
  std::vector<std::string> extensions;
  std::vector<uint32_t> capabilities;
  std::map<uint32_t, uint32_t> uint_constant;                 // id -> value
  std::map<std::pair<uint32_t, uint32_t>, uint32_t> use_of;  // (rows, cols) -> use of that type
  std::vector<uint32_t> load_layouts;                         // constant values, in order
};

Decoded decode(const std::vector<uint32_t>& w) {
  Decoded d;
  d.version = w[1];
  d.bound = w[3];
  for (size_t i = 5; i < w.size();) {
    uint32_t op = w[i] & 0xffff, wc = w[i] >> 16;
    d.opcode_count[op]++;
    if (op == 17) d.capabilities.push_back(w[i + 1]);
    if (op == 10) {
      std::string s;
      for (uint32_t j = 1; j < wc; ++j)
        for (int b = 0; b < 4; ++b)
          if (char c = static_cast<char>((w[i + j] >> (8 * b)) & 0xff)) s += c;
      d.extensions.push_back(s);
    }
    if (op == 43 && wc == 4) d.uint_constant[w[i + 2]] = w[i + 3];
    if (op == 4456)
      d.use_of[{d.uint_constant.at(w[i + 4]), d.uint_constant.at(w[i + 5])}] = d.uint_constant.at(w[i + 6]);
    if (op == 4457) d.load_layouts.push_back(d.uint_constant.at(w[i + 4]));
    i += wc;
  }
  return d;
}

TEST(SpirvCoopMat, WorkgroupNvModuleBecomesKhrWithUsesLayoutsAndCoopMat2) {
  ShaderCompiler compiler("unit-test");
  auto nv = compiler.compile(kernel("fcoopmatNV<16, gl_ScopeWorkgroup, 64, 16>",
                                    "fcoopmatNV<16, gl_ScopeWorkgroup, 16, 32>", true),
                             "coopmat_rewrite");
  ASSERT_GT(decode(nv).opcode_count[5358], 0);  // NV types before the rewrite
  auto out = vk::nv_coopmat_to_khr(nv);
  Decoded d = decode(out);
  for (uint32_t nv_op : {5358u, 5359u, 5360u, 5361u, 5362u}) EXPECT_EQ(d.opcode_count[nv_op], 0) << nv_op;
  EXPECT_EQ(d.opcode_count[4456], 3);  // A, B and accumulator types
  EXPECT_EQ(d.opcode_count[4457], 2);
  EXPECT_EQ(d.opcode_count[4458], 1);
  EXPECT_EQ(d.opcode_count[4459], 1);
  EXPECT_EQ((d.use_of[{64, 16}]), 0u);  // MatrixAKHR
  EXPECT_EQ((d.use_of[{16, 32}]), 1u);  // MatrixBKHR
  EXPECT_EQ((d.use_of[{64, 32}]), 2u);  // MatrixAccumulatorKHR
  EXPECT_EQ(d.load_layouts, (std::vector<uint32_t>{0, 1}));  // row-major A, column-major B
  EXPECT_NE(std::find(d.capabilities.begin(), d.capabilities.end(), 6022u), d.capabilities.end());
  EXPECT_EQ(std::find(d.capabilities.begin(), d.capabilities.end(), 5357u), d.capabilities.end());
  EXPECT_NE(std::find(d.extensions.begin(), d.extensions.end(), "SPV_KHR_cooperative_matrix"), d.extensions.end());
  EXPECT_NE(std::find(d.extensions.begin(), d.extensions.end(), "SPV_NV_cooperative_matrix2"), d.extensions.end());
  EXPECT_EQ(std::find(d.extensions.begin(), d.extensions.end(), "SPV_NV_cooperative_matrix"), d.extensions.end());
  EXPECT_EQ(d.version, 0x00010600u);
  EXPECT_EQ(d.bound, decode(nv).bound + 3);  // three new constants
}

TEST(SpirvCoopMat, OneTypeAsBothOperandsIsRejected) {
  ShaderCompiler compiler("unit-test");
  // A 64x16 and B 16x32 differ; a square 16x16 A and B would be one NV type with two uses.
  auto nv = compiler.compile(
      std::string(R"(#version 460
#extension GL_NV_cooperative_matrix : require
#extension GL_KHR_memory_scope_semantics : require
#extension GL_EXT_shader_explicit_arithmetic_types_float16 : require
layout(local_size_x = 32) in;
shared uvec4 s[512];
void main() {
  fcoopmatNV<32, gl_ScopeSubgroup, 16, 16> c = fcoopmatNV<32, gl_ScopeSubgroup, 16, 16>(0.0);
  fcoopmatNV<16, gl_ScopeSubgroup, 16, 16> a, b;
  coopMatLoadNV(a, s, 0u, 2u, false);
  coopMatLoadNV(b, s, 64u, 2u, false);
  c = coopMatMulAddNV(a, b, c);
  coopMatStoreNV(c, s, 0u, 4u, false);
}
)"),
      "coopmat_square");
  EXPECT_THROW(vk::nv_coopmat_to_khr(nv), std::runtime_error);
}

TEST(SpirvCoopMat, ModuleWithoutMatricesIsUnchanged) {
  ShaderCompiler compiler("unit-test");
  auto spv = compiler.compile("#version 460\nlayout(local_size_x = 1) in;\nvoid main() {}\n", "empty");
  EXPECT_EQ(vk::nv_coopmat_to_khr(spv), spv);
}

}  // namespace
}  // namespace descent::vk
