// Diagnostic benchmark for CPU Vulkan drivers (lavapipe): hand-written kernels that isolate the
// cost of one memory-access shape (uniform, contiguous across lanes, gathered; 32 or 64 bits;
// inside or outside control flow), of FMAs from registers and of matmul inner loops, so codegen
// choices for `Target::cpu` rest on measurements. Usage: bench_cpu_probe [reps] [name filter].
// Prints "variant,ms,Gop/s". Uses descent's Vulkan layer directly; no graphs involved.
// Findings on lavapipe (Mesa 22.3, AVX2), which the CPU kernels in src/codegen rely on:
// - a load or store whose address differs between lanes is a scalar loop over the 8 lanes;
//   its cost per element dwarfs an FMA, and it is about 4x dearer inside a loop or branch;
// - a 64-bit access costs about as much as a 32-bit one; a vec4 costs four;
// - a load whose address comes only from push constants and constants, outside any control
//   flow, is one scalar load for all lanes (load_unrolled_const);
// - register-blocked matmul inner loops with subgroupBroadcast reach the FMA rate (mm_bcast_*).
#include <descent/descent.hpp>

#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "dispatch_timing.hpp"

using namespace descent;

namespace {

struct Push {
  uint64_t a, b, c;
};

double time_kernel(Environment& env, const std::string& glsl, const Push& push, uint32_t gx,
                   uint32_t gy, int reps) {
  auto& s = env.state();
  auto spirv = s.compiler->compile(glsl, "probe");
  descent::vk::ComputePipeline pipe(*s.ctx, spirv, sizeof(Push), "probe");
  return bench::time_dispatches(s, pipe, &push, sizeof(Push), gx, gy, reps, 1);
}

const char* kHead = R"(#version 460
#extension GL_EXT_buffer_reference : require
#extension GL_EXT_shader_explicit_arithmetic_types_int64 : require
layout(buffer_reference, std430, buffer_reference_align = 4) readonly buffer In { float v[]; };
layout(buffer_reference, std430, buffer_reference_align = 16) readonly buffer In4 { vec4 v[]; };
layout(buffer_reference, std430, buffer_reference_align = 4) writeonly buffer Out { float v[]; };
layout(push_constant) uniform P { In a; In b; Out c; } pc;
)";

std::string with_local(int local, const std::string& body) {
  return std::string(kHead) + "layout(local_size_x = " + std::to_string(local) + ") in;\n" + body;
}

}  // namespace

int main(int argc, char** argv) {
  int reps = argc > 1 ? std::stoi(argv[1]) : 5;
  std::string only = argc > 2 ? argv[2] : "";
  Environment env;
  auto& s = env.state();
  std::fprintf(stderr, "device: %s\n", env.device_name().c_str());
  const int64_t n = int64_t{1} << 24;
  std::vector<float> data(static_cast<size_t>(n));
  uint32_t h = 12345;
  for (auto& v : data) v = static_cast<float>((h = h * 1664525u + 1013904223u) >> 8) * (1.0f / 16777216.0f);
  auto pa = env.static_parameter_with_data({n}, env.unique_name("a"), data);
  auto pb = env.static_parameter_with_data({n}, env.unique_name("b"), data);
  auto pc = env.static_parameter({n}, env.unique_name("c"));
  Push p{s.params[pa.id()].alloc.address, s.params[pb.id()].alloc.address, s.params[pc.id()].alloc.address};
  std::printf("variant,ms,Gop/s\n");
  auto row = [&](const std::string& name, const std::string& glsl, uint32_t gx, uint32_t gy, double ops) {
    if (!only.empty() && name.find(only) == std::string::npos) return;
    double ms = time_kernel(env, glsl, p, gx, gy, reps);
    std::printf("%s,%.3f,%.3f\n", name.c_str(), ms, ops / (ms * 1e-3) / 1e9);
    std::fflush(stdout);
  };
  // 64-bit scalar loads/stores: two floats per memory operation.
  {
    std::string h64 = "layout(buffer_reference, std430, buffer_reference_align = 8) readonly buffer In8 { uint64_t v[]; };\n"
                      "layout(buffer_reference, std430, buffer_reference_align = 8) writeonly buffer Out8 { uint64_t v[]; };\n";
    for (int per : {1, 4}) {
      int64_t inv = n / 2 / per;
      uint32_t groups = static_cast<uint32_t>(inv / 64), gy = groups / 4096 > 0 ? groups / 4096 : 1, gx = groups / gy;
      std::string b = h64 + "void main() { int i = (int(gl_WorkGroupID.y) * " + std::to_string(gx) + " + int(gl_WorkGroupID.x)) * 64 + int(gl_LocalInvocationID.x);\n";
      for (int u = 0; u < per; ++u) b += "  Out8(uint64_t(pc.c)).v[i * " + std::to_string(per) + " + " + std::to_string(u) + "] = In8(uint64_t(pc.a)).v[i * " + std::to_string(per) + " + " + std::to_string(u) + "];\n";
      row("copy64_flat_per" + std::to_string(per), with_local(64, b + "}\n"), gx, gy, double(n));
      // Same, but unpacked to floats, +1, repacked (an elementwise op on both halves).
      std::string c = h64 + "void main() { int i = (int(gl_WorkGroupID.y) * " + std::to_string(gx) + " + int(gl_WorkGroupID.x)) * 64 + int(gl_LocalInvocationID.x);\n";
      for (int u = 0; u < per; ++u) {
        std::string idx = "i * " + std::to_string(per) + " + " + std::to_string(u);
        c += "  { uvec2 w = unpackUint2x32(In8(uint64_t(pc.a)).v[" + idx + "]); vec2 x = uintBitsToFloat(w) + 1.0; Out8(uint64_t(pc.c)).v[" + idx + "] = packUint2x32(floatBitsToUint(x)); }\n";
      }
      row("add64_flat_per" + std::to_string(per), with_local(64, c + "}\n"), gx, gy, double(n));
      // 64-bit loads, 32-bit stores.
      std::string e = h64 + "void main() { int i = (int(gl_WorkGroupID.y) * " + std::to_string(gx) + " + int(gl_WorkGroupID.x)) * 64 + int(gl_LocalInvocationID.x);\n";
      for (int u = 0; u < per; ++u) {
        std::string idx = "i * " + std::to_string(per) + " + " + std::to_string(u);
        e += "  { vec2 x = uintBitsToFloat(unpackUint2x32(In8(uint64_t(pc.a)).v[" + idx + "])) + 1.0; pc.c.v[(" + idx + ") * 2] = x.x; pc.c.v[(" + idx + ") * 2 + 1] = x.y; }\n";
      }
      row("add64_st32_flat_per" + std::to_string(per), with_local(64, e + "}\n"), gx, gy, double(n));
    }
    row("copy64_loop", with_local(64, h64 + "void main() { for (int i = int(gl_GlobalInvocationID.x); i < (1 << 23); i += 65536) Out8(uint64_t(pc.c)).v[i] = In8(uint64_t(pc.a)).v[i]; }\n"), 1024, 1, double(n));
  }
  // Small footprint (2^20 floats = 4 MiB each way), top level vs grid-stride loop.
  for (int per : {1, 16}) {
    std::string b = "void main() { int i = int(gl_GlobalInvocationID.x);\n";
    for (int u = 0; u < per; ++u) b += "  pc.c.v[i * " + std::to_string(per) + " + " + std::to_string(u) + "] = pc.a.v[i * " + std::to_string(per) + " + " + std::to_string(u) + "];\n";
    row("copy_small_flat_per" + std::to_string(per), with_local(64, b + "}\n"), (1u << 20) / per / 64, 1, double(1 << 20));
  }
  row("copy_small_loop", with_local(64, "void main() { for (int i = int(gl_GlobalInvocationID.x); i < (1 << 20); i += 16384) pc.c.v[i] = pc.a.v[i]; }\n"), 256, 1, double(1 << 20));
  // Copies of 2^24 floats without any loop: `per` consecutive elements per invocation, 2-D grid.
  for (int local : {64, 256}) {
    for (int per : {1, 4, 16}) {
      int64_t inv = n / per;
      uint32_t groups = static_cast<uint32_t>(inv / local), gy = groups / 4096 > 0 ? groups / 4096 : 1, gx = groups / gy;
      std::string b = "void main() { int i = (int(gl_WorkGroupID.y) * " + std::to_string(gx) + " + int(gl_WorkGroupID.x)) * " + std::to_string(local) + " + int(gl_LocalInvocationID.x);\n";
      for (int u = 0; u < per; ++u) b += "  pc.c.v[i * " + std::to_string(per) + " + " + std::to_string(u) + "] = pc.a.v[i * " + std::to_string(per) + " + " + std::to_string(u) + "];\n";
      b += "}\n";
      row("copy_flat_l" + std::to_string(local) + "_per" + std::to_string(per), with_local(local, b), gx, gy, double(n));
      // Strided across lanes: lane-consecutive elements (i + u * inv)
      std::string c = "void main() { int i = (int(gl_WorkGroupID.y) * " + std::to_string(gx) + " + int(gl_WorkGroupID.x)) * " + std::to_string(local) + " + int(gl_LocalInvocationID.x);\n";
      for (int u = 0; u < per; ++u) c += "  pc.c.v[i + " + std::to_string(u * inv) + "] = pc.a.v[i + " + std::to_string(u * inv) + "];\n";
      c += "}\n";
      if (per > 1) row("copy_flat_lanes_l" + std::to_string(local) + "_per" + std::to_string(per), with_local(local, c), gx, gy, double(n));
    }
  }
  // Load shapes: 64 threads x 1024 groups, K = 256 loads each: 16.8M loads.
  const int K = 256;
  const double loads = 64.0 * 1024 * K;
  row("load_uniform", with_local(64, "void main() { precise float acc = 0.0; for (int k = 0; k < 256; ++k) acc += pc.a.v[int(gl_WorkGroupID.x) * 256 + k];"
      " pc.c.v[gl_GlobalInvocationID.x] = acc; }\n"), 1024, 1, loads);
  row("load_contiguous", with_local(64, "void main() { precise float acc = 0.0; for (int k = 0; k < 256; ++k) acc += pc.a.v[(int(gl_WorkGroupID.x) % 64) * 16384 + k * 64 + int(gl_LocalInvocationID.x)];"
      " pc.c.v[gl_GlobalInvocationID.x] = acc; }\n"), 1024, 1, loads);
  row("load_strided9", with_local(64, "void main() { precise float acc = 0.0; for (int k = 0; k < 256; ++k) acc += pc.a.v[(int(gl_WorkGroupID.x) % 16) * 65536 + k + int(gl_LocalInvocationID.x) * 9];"
      " pc.c.v[gl_GlobalInvocationID.x] = acc; }\n"), 1024, 1, loads);
  row("load_contiguous_vec4", with_local(64, "void main() { precise vec4 acc = vec4(0.0); for (int k = 0; k < 64; ++k) acc += In4(uint64_t(pc.a)).v[(int(gl_WorkGroupID.x) % 64) * 4096 + k * 64 + int(gl_LocalInvocationID.x)];"
      " pc.c.v[gl_GlobalInvocationID.x] = acc.x + acc.y + acc.z + acc.w; }\n"), 1024, 1, loads);
  row("load_shared", with_local(64, "shared float sh[256]; void main() { int lid = int(gl_LocalInvocationID.x); for (int i = lid; i < 256; i += 64) sh[i] = pc.a.v[i]; barrier();"
      " precise float acc = 0.0; for (int k = 0; k < 256; ++k) acc += sh[(k + lid) & 255];"
      " pc.c.v[gl_GlobalInvocationID.x] = acc; }\n"), 1024, 1, loads);
  row("load_shared_uniform", with_local(64, "shared float sh[256]; void main() { int lid = int(gl_LocalInvocationID.x); for (int i = lid; i < 256; i += 64) sh[i] = pc.a.v[i]; barrier();"
      " precise float acc = 0.0; for (int k = 0; k < 256; ++k) acc += sh[k];"
      " pc.c.v[gl_GlobalInvocationID.x] = acc; }\n"), 1024, 1, loads);
  {
    std::string u = "void main() { precise float acc = 0.0;\n", ui = u + " if (gl_LocalInvocationID.x < 1000) {\n", uc = u;
    for (int k = 0; k < K; ++k) {
      u += "  acc += pc.a.v[" + std::to_string(k) + "];\n";
      uc += "  acc += pc.a.v[(int(gl_WorkGroupID.x) % 64) * 16384 + " + std::to_string(k * 64) + " + int(gl_LocalInvocationID.x)];\n";
    }
    ui = u.substr(0, u.size()) ;
    u += " pc.c.v[gl_GlobalInvocationID.x] = acc; }\n";
    uc += " pc.c.v[gl_GlobalInvocationID.x] = acc; }\n";
    std::string body_if = "void main() { precise float acc = 0.0;\n if (gl_LocalInvocationID.x < 1000) {\n";
    for (int k = 0; k < K; ++k) body_if += "  acc += pc.a.v[" + std::to_string(k) + "];\n";
    body_if += " }\n pc.c.v[gl_GlobalInvocationID.x] = acc; }\n";
    row("load_unrolled_const", with_local(64, u), 1024, 1, loads);
    row("load_unrolled_const_in_if", with_local(64, body_if), 1024, 1, loads);
    row("load_unrolled_contiguous", with_local(64, uc), 1024, 1, loads);
  }
  {
    // Loop of 16 iterations with 16 loads each (contiguous across lanes), and the same as vec4.
    std::string l16 = "void main() { precise float acc = 0.0; int base = (int(gl_WorkGroupID.x) % 64) * 16384 + int(gl_LocalInvocationID.x);\n for (int k = 0; k < 256; k += 16) {\n";
    for (int u = 0; u < 16; ++u) l16 += "  acc += pc.a.v[base + (k + " + std::to_string(u) + ") * 64];\n";
    l16 += " }\n pc.c.v[gl_GlobalInvocationID.x] = acc; }\n";
    row("load_loop16_contiguous", with_local(64, l16), 1024, 1, loads);
    std::string v4 = "void main() { precise vec4 acc = vec4(0.0); int base = (int(gl_WorkGroupID.x) % 64) * 4096 + int(gl_LocalInvocationID.x);\n";
    for (int u = 0; u < 64; ++u) v4 += "  acc += In4(uint64_t(pc.a)).v[base + " + std::to_string(u * 64) + "];\n";
    v4 += " pc.c.v[gl_GlobalInvocationID.x] = acc.x + acc.y + acc.z + acc.w; }\n";
    row("load_unrolled_vec4", with_local(64, v4), 1024, 1, loads);
    // Stores: 16 per invocation, top level vs inside a (always true) if.
    std::string st = "void main() { float x = pc.a.v[gl_GlobalInvocationID.x]; int base = int(gl_GlobalInvocationID.x) * 16;\n";
    std::string sti = st + " if (x < 2.0) {\n";
    for (int u = 0; u < 16; ++u) { st += "  pc.c.v[base + " + std::to_string(u) + "] = x + " + std::to_string(u) + ".0;\n"; sti += "  pc.c.v[base + " + std::to_string(u) + "] = x + " + std::to_string(u) + ".0;\n"; }
    st += "}\n"; sti += " }\n}\n";
    row("store_unrolled", with_local(64, st), 1024, 1, 64.0 * 1024 * 16);
    std::string st64 = "layout(buffer_reference, std430, buffer_reference_align = 8) writeonly buffer Out8 { uint64_t v[]; };\n"
                       "void main() { float x = pc.a.v[gl_GlobalInvocationID.x]; int base = int(gl_GlobalInvocationID.x) * 8;\n";
    for (int u = 0; u < 8; ++u)
      st64 += "  Out8(uint64_t(pc.c)).v[base + " + std::to_string(u) + "] = packUint2x32(floatBitsToUint(vec2(x + " + std::to_string(2 * u) + ".0, x + " + std::to_string(2 * u + 1) + ".0)));\n";
    row("store_unrolled_64", with_local(64, st64 + "}\n"), 1024, 1, 64.0 * 1024 * 16);
    std::string ld = "void main() { int base = int(gl_GlobalInvocationID.x) * 16; precise float acc = 0.0;\n";
    std::string ld64 = "layout(buffer_reference, std430, buffer_reference_align = 8) readonly buffer In8 { uint64_t v[]; };\n"
                       "void main() { int base = int(gl_GlobalInvocationID.x) * 8; precise float acc = 0.0;\n";
    for (int u = 0; u < 16; ++u) ld += "  acc += pc.a.v[base + " + std::to_string(u) + "];\n";
    for (int u = 0; u < 8; ++u) ld64 += "  { vec2 p = uintBitsToFloat(unpackUint2x32(In8(uint64_t(pc.a)).v[base + " + std::to_string(u) + "])); acc += p.x; acc += p.y; }\n";
    row("load_flat16", with_local(64, ld + " pc.c.v[gl_GlobalInvocationID.x] = acc; }\n"), 1024, 1, 64.0 * 1024 * 16);
    row("load_flat16_64", with_local(64, ld64 + " pc.c.v[gl_GlobalInvocationID.x] = acc; }\n"), 1024, 1, 64.0 * 1024 * 16);
    row("store_unrolled_in_if", with_local(64, sti), 1024, 1, 64.0 * 1024 * 16);
    // 16 stores per invocation into 16M floats: lanes 16 floats apart (each invocation owns a
    // run of 16, like a matmul row with N = 16) or lanes adjacent (each invocation strides).
    for (int big = 0; big < 2; ++big) {
      std::string own = "void main() { float x = pc.a.v[gl_GlobalInvocationID.x]; int i = int(gl_WorkGroupID.y) * 65536 + int(gl_WorkGroupID.x) * 64 + int(gl_LocalInvocationID.x);\n";
      std::string adj = own;
      for (int u = 0; u < 16; ++u) {
        own += "  pc.c.v[i * 16 + " + std::to_string(u) + "] = x + " + std::to_string(u) + ".0;\n";
        adj += "  pc.c.v[(i / 64) * 1024 + " + std::to_string(u * 64) + " + i % 64] = x + " + std::to_string(u) + ".0;\n";
      }
      uint32_t gy = big ? 16 : 1;
      row(std::string("store_rows16") + (big ? "_big" : ""), with_local(64, own + "}\n"), 1024, gy, 64.0 * 1024 * 16 * gy);
      row(std::string("store_lanes_adjacent") + (big ? "_big" : ""), with_local(64, adj + "}\n"), 1024, gy, 64.0 * 1024 * 16 * gy);
    }
  }
  // FMA from registers: 8 independent chains, 256 steps: 64*1024*2048 FMAs.
  {
    // Straight-line FMAs: 8 independent chains of 128 steps, scalar variables, no loop.
    std::string f = "void main() { float x = pc.a.v[gl_GlobalInvocationID.x];\n";
    for (int i = 0; i < 8; ++i) f += "  precise float a" + std::to_string(i) + " = float(" + std::to_string(i) + ");\n";
    for (int k = 0; k < 128; ++k)
      for (int i = 0; i < 8; ++i) f += "  a" + std::to_string(i) + " = fma(a" + std::to_string(i) + ", x, 0.5);\n";
    f += "  pc.c.v[gl_GlobalInvocationID.x] = a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7; }\n";
    row("fma_straight", with_local(64, f), 1024, 1, 64.0 * 1024 * 1024);
    std::string g = "void main() { float x = pc.a.v[gl_GlobalInvocationID.x];\n";
    for (int i = 0; i < 8; ++i) g += "  float a" + std::to_string(i) + " = float(" + std::to_string(i) + ");\n";
    for (int k = 0; k < 128; ++k)
      for (int i = 0; i < 8; ++i) g += "  a" + std::to_string(i) + " = fma(a" + std::to_string(i) + ", x, 0.5);\n";
    g += "  pc.c.v[gl_GlobalInvocationID.x] = a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7; }\n";
    row("fma_straight_not_precise", with_local(64, g), 1024, 1, 64.0 * 1024 * 1024);
  }
  row("fma_registers", with_local(64, "void main() { float x = pc.a.v[gl_GlobalInvocationID.x]; precise float acc[8]; for (int i = 0; i < 8; ++i) acc[i] = float(i);"
      " for (int k = 0; k < 256; ++k) for (int i = 0; i < 8; ++i) acc[i] = fma(acc[i], x, 0.5);"
      " float t = 0.0; for (int i = 0; i < 8; ++i) t += acc[i]; pc.c.v[gl_GlobalInvocationID.x] = t; }\n"), 1024, 1, 64.0 * 1024 * 2048);
  row("copy_scalar", with_local(64, "void main() { for (int i = int(gl_GlobalInvocationID.x); i < (1 << 24); i += 65536) pc.c.v[i] = pc.a.v[i]; }\n"), 1024, 1, double(n));
  row("copy_vec4", with_local(64, "layout(buffer_reference, std430, buffer_reference_align = 16) writeonly buffer Out4 { vec4 v[]; };\n"
      "void main() { for (int i = int(gl_GlobalInvocationID.x); i < (1 << 22); i += 65536) Out4(uint64_t(pc.c)).v[i] = In4(uint64_t(pc.a)).v[i]; }\n"), 1024, 1, double(n));
  // ---- matmul inner-loop shapes: C[M,N] = A[M,K] B[K,N], all row-major, rows of A on lanes ----
  struct Mm { int64_t M, K, N; };
  for (Mm d : {Mm{72, 65536, 16}, Mm{1000, 128, 1568}, Mm{1568, 1000, 128}, Mm{65536, 9, 16}, Mm{65536, 72, 16}, Mm{1024, 1568, 128}}) {
    std::string tag = std::to_string(d.M) + "x" + std::to_string(d.K) + "x" + std::to_string(d.N);
    double fl = double(d.M) * d.K * d.N;  // FMAs
    auto S = [](int64_t v) { return std::to_string(v); };
    // Current codegen: 64 threads, 8x8 per thread (rows ty*8+i, cols tx+8j), K loop.
    {
      std::string b = "void main() { int lid = int(gl_LocalInvocationID.x); int tx = lid % 8, ty = lid / 8;\n"
        " int n0 = int(gl_WorkGroupID.x) * 64, m0 = int(gl_WorkGroupID.y) * 64;\n"
        " precise float acc[8][8]; for (int i = 0; i < 8; ++i) for (int j = 0; j < 8; ++j) acc[i][j] = 0.0;\n"
        " for (int kq = 0; kq < " + S(d.K) + "; ++kq) { float av[8], bv[8];\n"
        "  for (int i = 0; i < 8; ++i) { int m = m0 + ty * 8 + i; av[i] = m < " + S(d.M) + " ? pc.a.v[m * " + S(d.K) + " + kq] : 0.0; }\n"
        "  for (int j = 0; j < 8; ++j) { int n = n0 + tx + 8 * j; bv[j] = n < " + S(d.N) + " ? pc.b.v[kq * " + S(d.N) + " + n] : 0.0; }\n"
        "  for (int i = 0; i < 8; ++i) for (int j = 0; j < 8; ++j) acc[i][j] = fma(av[i], bv[j], acc[i][j]); }\n"
        " for (int i = 0; i < 8; ++i) for (int j = 0; j < 8; ++j) { int m = m0 + ty * 8 + i, n = n0 + tx + 8 * j;\n"
        "  if (m < " + S(d.M) + " && n < " + S(d.N) + ") pc.c.v[m * " + S(d.N) + " + n] = acc[i][j]; } }\n";
      row("mm_current_" + tag, with_local(64, b), uint32_t((d.N + 63) / 64), uint32_t((d.M + 63) / 64), fl);
    }
    // Row per lane, all N columns, K fully unrolled, B read at constant indices (uniform loads).
    if (d.K * d.N <= 4096 && d.M % 64 == 0) {
      std::string b = "void main() { int m = int(gl_GlobalInvocationID.x);\n precise float acc[" + S(d.N) + "];\n";
      for (int64_t n = 0; n < d.N; ++n) b += " acc[" + S(n) + "] = 0.0;\n";
      for (int64_t k = 0; k < d.K; ++k) {
        b += " { float a = pc.a.v[m * " + S(d.K) + " + " + S(k) + "];\n";
        for (int64_t n = 0; n < d.N; ++n) b += "  acc[" + S(n) + "] = fma(a, pc.b.v[" + S(k * d.N + n) + "], acc[" + S(n) + "]);\n";
        b += " }\n";
      }
      for (int64_t n = 0; n < d.N; ++n) b += " pc.c.v[m * " + S(d.N) + " + " + S(n) + "] = acc[" + S(n) + "];\n";
      row("mm_rowconst_" + tag, with_local(64, b + "}\n"), uint32_t(d.M / 64), 1, fl);
    }
    // Row(s) per lane, C columns per invocation, K loop; B: lane i loads B[k][c0 + 8j + i] and
    // subgroupBroadcast hands column c0 + 8j + i to every lane. A^T variant reads A[m][k] at k*M+m.
    for (bool at : {false, true}) for (int G : {1, 8}) for (int R : {1, 4, 8, 9}) for (int C : {16, 32}) for (int U : {1}) {
      if (C > d.N || d.K % U || d.N % C) continue;
      int64_t rows_per_group = int64_t{8} * G * R;
      if (d.M % rows_per_group) continue;
      if (R * C > 256 || (R * C > 128 && U > 1)) continue;
      std::string aidx = at ? "k * " + S(d.M) + " + m" : "m * " + S(d.K) + " + k";
      std::string b = "#extension GL_KHR_shader_subgroup_ballot : require\n"
        "void main() { int lane = int(gl_SubgroupInvocationID); int m0 = int(gl_WorkGroupID.y) * " + S(rows_per_group) + " + int(gl_LocalInvocationID.x) / 8 * " + S(8 * R) + " + lane; int c0 = int(gl_WorkGroupID.x) * " + S(C) + ";\n"
        " precise float acc[" + S(R) + "][" + S(C) + "];\n for (int r = 0; r < " + S(R) + "; ++r) for (int c = 0; c < " + S(C) + "; ++c) acc[r][c] = 0.0;\n"
        " for (int k0 = 0; k0 < " + S(d.K) + "; k0 += " + S(U) + ") {\n";
      for (int u = 0; u < U; ++u) {
        b += "  { int k = k0 + " + S(u) + "; float a[" + S(R) + "];\n";
        for (int r = 0; r < R; ++r) b += "   { int m = m0 + " + S(r * 8) + "; a[" + S(r) + "] = pc.a.v[" + aidx + "]; }\n";
        for (int j = 0; j < C / 8; ++j) {
          b += "   { float bl = pc.b.v[k * " + S(d.N) + " + c0 + " + S(j * 8) + " + lane];\n";
          for (int i = 0; i < 8; ++i) {
            b += "    { float bb = subgroupBroadcast(bl, " + S(i) + "u);";
            for (int r = 0; r < R; ++r) b += " acc[" + S(r) + "][" + S(j * 8 + i) + "] = fma(a[" + S(r) + "], bb, acc[" + S(r) + "][" + S(j * 8 + i) + "]);";
            b += " }\n";
          }
          b += "   }\n";
        }
        b += "  }\n";
      }
      b += " }\n";
      for (int r = 0; r < R; ++r) for (int c = 0; c < C; ++c) b += " pc.c.v[(m0 + " + S(r * 8) + ") * " + S(d.N) + " + c0 + " + S(c) + "] = acc[" + S(r) + "][" + S(c) + "];\n";
      b += "}\n";
      row(std::string(at ? "mm_bcastT" : "mm_bcast") + "_G" + S(G) + "_R" + S(R) + "_C" + S(C) + "_U" + S(U) + "_" + tag, with_local(8 * G, b), uint32_t(d.N / C), uint32_t(d.M / rows_per_group), fl);
    }
  }
  return 0;
}
