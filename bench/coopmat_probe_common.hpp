// Shared by bench_coopmat_probe's kernel writers: the GLSL head (NV cooperative-matrix types
// over float16 operands in uvec4 buffers, float32 output), one probe configuration and printf
// formatting into a string. Bench code only.
#pragma once
#include <cstdio>
#include <string>

namespace descent::bench::probe {

inline constexpr const char* kHead = R"(#version 460
#extension GL_EXT_buffer_reference : require
#extension GL_EXT_shader_explicit_arithmetic_types_int64 : require
#extension GL_NV_cooperative_matrix : require
#extension GL_KHR_memory_scope_semantics : require
#extension GL_EXT_shader_explicit_arithmetic_types_float16 : require
#extension GL_KHR_shader_subgroup_basic : require
layout(buffer_reference, std430, buffer_reference_align = 16) buffer H { uvec4 v[]; };
layout(buffer_reference, std430, buffer_reference_align = 16) buffer F { float v[]; };
layout(push_constant) uniform P { H a; H b; F c; } pc;
#define FRAG fcoopmatNV<16, gl_ScopeSubgroup, 16, 16>
#define ACC fcoopmatNV<32, gl_ScopeSubgroup, 16, 16>
)";

struct Cfg {
  std::string path;  // "direct" or "smem"
  int bm, bn, wm, wn;
  int ku;            // direct: 16-wide K slices loaded before their products; smem: bk / 16
  bool bcol;         // B stored as [N, K] (K contiguous) instead of [K, N]
  std::string name() const {
    return path + "_" + std::to_string(bm) + "x" + std::to_string(bn) + "_sg" + std::to_string(wm) + "x" +
           std::to_string(wn) + "_k" + std::to_string(16 * ku) + (bcol ? "_bT" : "");
  }
};

inline std::string fmt_s(const char* f, long long a = 0, long long b = 0, long long c = 0, long long d = 0) {
  char buf[512];
  std::snprintf(buf, sizeof buf, f, a, b, c, d);
  return buf;
}


}  // namespace descent::bench::probe
