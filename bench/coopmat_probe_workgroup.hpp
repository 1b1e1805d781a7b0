// bench_coopmat_probe's workgroup-scope kernels (VK_NV_cooperative_matrix2): GLSL written with
// the NV extension at gl_ScopeWorkgroup, rewritten to KHR SPIR-V (optionally with tensor-addressed
// loads) by the caller. Bench code only; some paths are diagnostics with wrong values.
#pragma once
#include <cctype>
#include <string>

#include "coopmat_probe_common.hpp"

namespace descent::bench::probe {

/// VK_NV_cooperative_matrix2 path: one workgroup-scope accumulator per workgroup (bm x bn), A and
/// B loaded as workgroup-scope matrices straight from the buffers each K step of bk; staging,
/// pipelining and the mapping to tensor-core instructions are the driver's. Written with the NV
/// GLSL extension at gl_ScopeWorkgroup and rewritten to KHR SPIR-V (vk::nv_coopmat_to_khr).
inline std::string workgroup_kernel(const Cfg& c0, int64_t M, int64_t N, int64_t K) {
  // "<path>g<G>": G tile rows per launch group instead of 8; "<path>d": [[dont_unroll]] K loop.
  Cfg c = c0;
  int group = 8;
  bool dont_unroll = false;
  if (size_t g = c.path.find('g', 2); g != std::string::npos && g + 1 < c.path.size() && std::isdigit(c.path[g + 1])) {
    group = std::stoi(c.path.substr(g + 1));
    c.path.resize(g);
  }
  if (c.path.size() > 4 && c.path.back() == 'd') dont_unroll = true, c.path.pop_back();
  const int bk = 16 * c.ku;
  if (c.path.rfind("wgs", 0) == 0) {
    const bool unroll2 = c.path == "wgs2", nogroup = c.path == "wgsng", two = c.path == "wgs2n";
    // Swapped roles over row-major A [M, K] and B [K, N]: acc = B^T A^T (both operands loaded
    // column-major), stored column-major so C comes out row-major.
    std::string s = "#version 460\n#pragma use_vulkan_memory_model\n" + std::string(kHead).substr(13);
    if (dont_unroll) s += "#extension GL_EXT_control_flow_attributes : enable\n";
    s += fmt_s("#define MA fcoopmatNV<16, gl_ScopeWorkgroup, %lld, %lld>\n", c.bn, bk);
    s += fmt_s("#define MB fcoopmatNV<16, gl_ScopeWorkgroup, %lld, %lld>\n", bk, c.bm);
    s += fmt_s("#define MC fcoopmatNV<32, gl_ScopeWorkgroup, %lld, %lld>\n", c.bn, c.bm);
    s += "layout(local_size_x = " + std::to_string(32 * c.wm * c.wn) + ") in;\nvoid main() {\n";
    s += fmt_s("  int pid = int(gl_WorkGroupID.x), gm = %lld, gn = %lld;\n", M / c.bm, N / c.bn / (two ? 2 : 1));
    if (two) {
      s += "  int first = pid / (8 * gn) * 8, q = pid % (8 * gn), rows = min(gm - first, 8);\n";
      s += fmt_s("  int m0 = (first + q %% rows) * %lld, n0 = (q / rows) * %lld;\n", c.bm, 2 * c.bn);
      s += "  MC acc0 = MC(0.0), acc1 = MC(0.0);\n";
      s += fmt_s("  for (int k = 0; k < %lld; k += %lld) {\n", K, bk);
      s += fmt_s("    MA a0; coopMatLoadNV(a0, pc.b.v, uint((k * %lld + n0) >> 3), %lldu, true);\n", N, N / 8);
      s += fmt_s("    MA a1; coopMatLoadNV(a1, pc.b.v, uint((k * %lld + n0 + %lld) >> 3), ", N, c.bn) + fmt_s("%lldu, true);\n", N / 8);
      s += fmt_s("    MB b; coopMatLoadNV(b, pc.a.v, uint((m0 * %lld + k) >> 3), %lldu, true);\n", K, K / 8);
      s += "    acc0 = coopMatMulAddNV(a0, b, acc0);\n    acc1 = coopMatMulAddNV(a1, b, acc1);\n  }\n";
      s += fmt_s("  coopMatStoreNV(acc0, pc.c.v, uint(m0 * %lld + n0), %lldu, true);\n", N, N);
      s += fmt_s("  coopMatStoreNV(acc1, pc.c.v, uint(m0 * %lld + n0 + %lld), ", N, c.bn) + fmt_s("%lldu, true);\n}\n", N);
      return s;
    }
    if (nogroup) {
      s += "  int m0 = (pid / gn) * " + std::to_string(c.bm) + ", n0 = (pid % gn) * " + std::to_string(c.bn) + ";\n";
    } else {
      s += fmt_s("  int first = pid / (%lld * gn) * %lld, q = pid %% (%lld * gn), ", group, group, group) +
           fmt_s("rows = min(gm - first, %lld);\n", group);
      s += fmt_s("  int m0 = (first + q %% rows) * %lld, n0 = (q / rows) * %lld;\n", c.bm, c.bn);
    }
    s += "  MC acc = MC(0.0);\n";
    if (c.path == "wgsfo" || c.path == "wgssame") {
      // Diagnostics (wrong values): "wgsfo" loads the operands once before the K loop (only the
      // products run in it); "wgssame" loads them every step but always from K index 0 (cached).
      const bool once = c.path == "wgsfo";
      std::string k = once ? "0" : "(k >> 20)";  // 0, but not provably to the compiler
      if (!once) s += fmt_s("  for (int k = 0; k < %lld; k += %lld) {\n", K, 2 * bk);
      s += "    MA a0; coopMatLoadNV(a0, pc.b.v, uint((" + k + fmt_s(" + n0) >> 3), %lldu, true);\n", N / 8);
      s += "    MB b0; coopMatLoadNV(b0, pc.a.v, uint((m0 * " + std::to_string(K) + " + " + k + fmt_s(") >> 3), %lldu, true);\n", K / 8);
      s += "    MA a1; coopMatLoadNV(a1, pc.b.v, uint((" + k + fmt_s(" + %lld + n0) >> 3), %lldu, true);\n", 64 * N, N / 8);
      s += "    MB b1; coopMatLoadNV(b1, pc.a.v, uint((m0 * " + std::to_string(K) + " + " + k + fmt_s(" + 64) >> 3), %lldu, true);\n", K / 8);
      if (once) s += fmt_s("  for (int k = 0; k < %lld; k += %lld) {\n", K, 2 * bk);
      s += "    acc = coopMatMulAddNV(a0, b0, acc);\n    acc = coopMatMulAddNV(a1, b1, acc);\n  }\n";
      s += fmt_s("  coopMatStoreNV(acc, pc.c.v, uint(m0 * %lld + n0), %lldu, true);\n}\n", N, N);
      return s;
    }
    if (dont_unroll) s += "  [[dont_unroll]]\n";
    s += fmt_s("  for (int k = 0; k < %lld; k += %lld) {\n", K, unroll2 ? 2 * bk : bk);
    for (int u = 0; u < (unroll2 ? 2 : 1); ++u) {
      s += fmt_s("    MA a%lld; coopMatLoadNV(a%lld, pc.b.v, uint(((k + %lld) * ", u, u, u * bk) + fmt_s("%lld + n0) >> 3), %lldu, true);\n", N, N / 8);
      s += fmt_s("    MB b%lld; coopMatLoadNV(b%lld, pc.a.v, uint((m0 * %lld + k + ", u, u, K) + fmt_s("%lld) >> 3), %lldu, true);\n", u * bk, K / 8);
    }
    for (int u = 0; u < (unroll2 ? 2 : 1); ++u) s += fmt_s("    acc = coopMatMulAddNV(a%lld, b%lld, acc);\n", u, u);
    s += "  }\n";
    s += fmt_s("  coopMatStoreNV(acc, pc.c.v, uint(m0 * %lld + n0), %lldu, true);\n}\n", N, N);
    return s;
  }
  std::string s = "#version 460\n#pragma use_vulkan_memory_model\n" + std::string(kHead).substr(13);
  s += fmt_s("#define MA fcoopmatNV<16, gl_ScopeWorkgroup, %lld, %lld>\n", c.bm, bk);
  s += fmt_s("#define MB fcoopmatNV<16, gl_ScopeWorkgroup, %lld, %lld>\n", bk, c.bn);
  s += fmt_s("#define MC fcoopmatNV<32, gl_ScopeWorkgroup, %lld, %lld>\n", c.bm, c.bn);
  s += "layout(local_size_x = " + std::to_string(32 * c.wm * c.wn) + ") in;\nvoid main() {\n";
  s += fmt_s("  int pid = int(gl_WorkGroupID.x), gm = %lld, gn = %lld;\n", M / c.bm, N / c.bn);
  s += "  int first = pid / (8 * gn) * 8, q = pid % (8 * gn), rows = min(gm - first, 8);\n";
  s += fmt_s("  int m0 = (first + q %% rows) * %lld, n0 = (q / rows) * %lld;\n", c.bm, c.bn);
  s += "  MC acc = MC(0.0);\n";
  s += fmt_s("  for (int k = 0; k < %lld; k += %lld) {\n", K, bk);
  s += fmt_s("    MA a; coopMatLoadNV(a, pc.a.v, uint((m0 * %lld + k) >> 3), %lldu, false);\n", K, K / 8);
  if (c.bcol)
    s += fmt_s("    MB b; coopMatLoadNV(b, pc.b.v, uint((n0 * %lld + k) >> 3), %lldu, true);\n", K, K / 8);
  else
    s += fmt_s("    MB b; coopMatLoadNV(b, pc.b.v, uint((k * %lld + n0) >> 3), %lldu, false);\n", N, N / 8);
  s += "    acc = coopMatMulAddNV(a, b, acc);\n  }\n";
  s += fmt_s("  coopMatStoreNV(acc, pc.c.v, uint(m0 * %lld + n0), %lldu, false);\n}\n", N, N);
  return s;
}

/// More workgroup-scope variants, all in the swapped form (acc = B^T A^T over row-major A and B,
/// operands loaded column-major, accumulator stored column-major):
///  "wgu<U>": U K steps per iteration, all U steps' operands loaded before the U products;
///  "wgp": software-pipelined: the next step's operands are loaded before the current product;
///  "wgm": operands staged through shared memory by the kernel itself (global -> registers one
///         step ahead -> shared, two buffers, one barrier per step), workgroup-scope matrices
///         loaded from shared memory.
inline std::string workgroup_more_kernel(const Cfg& c, int64_t M, int64_t N, int64_t K) {
  const int bk = 16 * c.ku, threads = 32 * c.wm * c.wn;
  std::string s = "#version 460\n#pragma use_vulkan_memory_model\n" + std::string(kHead).substr(13);
  s += fmt_s("#define MA fcoopmatNV<16, gl_ScopeWorkgroup, %lld, %lld>\n", c.bn, bk);
  s += fmt_s("#define MB fcoopmatNV<16, gl_ScopeWorkgroup, %lld, %lld>\n", bk, c.bm);
  s += fmt_s("#define MC fcoopmatNV<32, gl_ScopeWorkgroup, %lld, %lld>\n", c.bn, c.bm);
  const int a_pitch = (bk + 8) / 8, b_pitch = (c.bn + 8) / 8;  // uvec4 per shared row (A: bm x bk, B: bk x bn)
  const int a_words = c.bm * a_pitch, stage = a_words + bk * b_pitch;
  if (c.path == "wgm") s += fmt_s("shared uvec4 smem[%lld];\n", 2 * stage);
  s += "layout(local_size_x = " + std::to_string(threads) + ") in;\nvoid main() {\n";
  s += fmt_s("  int pid = int(gl_WorkGroupID.x), gm = %lld, gn = %lld;\n", M / c.bm, N / c.bn);
  s += "  int first = pid / (8 * gn) * 8, q = pid % (8 * gn), rows = min(gm - first, 8);\n";
  s += fmt_s("  int m0 = (first + q %% rows) * %lld, n0 = (q / rows) * %lld;\n", c.bm, c.bn);
  s += "  MC acc = MC(0.0);\n";
  auto ga = [&](const std::string& k) { return fmt_s("uint((m0 * %lld + ", K) + k + fmt_s(") >> 3), %lldu, true", K / 8); };
  auto gb = [&](const std::string& k) { return "uint(((" + k + fmt_s(") * %lld + n0) >> 3), %lldu, true", N, N / 8); };
  if (c.path.rfind("wgu", 0) == 0) {
    const int u = std::stoi(c.path.substr(3));
    s += fmt_s("  for (int k = 0; k < %lld; k += %lld) {\n", K, u * bk);
    for (int i = 0; i < u; ++i) {
      std::string k = fmt_s("k + %lld", i * bk);
      s += fmt_s("    MA x%lld; coopMatLoadNV(x%lld, pc.b.v, ", i, i) + gb(k) + ");\n";
      s += fmt_s("    MB y%lld; coopMatLoadNV(y%lld, pc.a.v, ", i, i) + ga(k) + ");\n";
    }
    for (int i = 0; i < u; ++i) s += fmt_s("    acc = coopMatMulAddNV(x%lld, y%lld, acc);\n", i, i);
    s += "  }\n";
  } else if (c.path == "wgp") {
    s += "  MA x0; coopMatLoadNV(x0, pc.b.v, " + gb("0") + ");\n  MB y0; coopMatLoadNV(y0, pc.a.v, " + ga("0") + ");\n";
    s += fmt_s("  for (int k = 0; k < %lld; k += %lld) {\n", K, 2 * bk);
    s += "    MA x1; coopMatLoadNV(x1, pc.b.v, " + gb(fmt_s("k + %lld", bk)) + ");\n";
    s += "    MB y1; coopMatLoadNV(y1, pc.a.v, " + ga(fmt_s("k + %lld", bk)) + ");\n";
    s += "    acc = coopMatMulAddNV(x0, y0, acc);\n";
    s += fmt_s("    int kn = min(k + %lld, %lld);\n", 2 * bk, K - bk);
    s += "    coopMatLoadNV(x0, pc.b.v, " + gb("kn") + ");\n    coopMatLoadNV(y0, pc.a.v, " + ga("kn") + ");\n";
    s += "    acc = coopMatMulAddNV(x1, y1, acc);\n  }\n";
  } else {  // wgm
    const int a_loads = c.bm * bk / 8 / threads, b_loads = bk * c.bn / 8 / threads;
    s += "  int t = int(gl_LocalInvocationID.x);\n";
    for (int i = 0; i < a_loads; ++i) s += fmt_s("  uvec4 ra%lld;\n", i);
    for (int i = 0; i < b_loads; ++i) s += fmt_s("  uvec4 rb%lld;\n", i);
    auto fetch = [&](const std::string& k) {
      std::string f;
      for (int i = 0; i < a_loads; ++i) {
        int e0 = i * threads;  // element e = t + e0: row e / (bk/8), col8 e % (bk/8)
        f += fmt_s("    ra%lld = pc.a.v[((m0 + (t + %lld) / %lld) * %lld + ", i, e0, bk / 8, K) + k +
             fmt_s(") / 8 + (t + %lld) %% %lld];\n", e0, bk / 8);
      }
      for (int i = 0; i < b_loads; ++i) {
        int e0 = i * threads;
        f += fmt_s("    rb%lld = pc.b.v[((", i) + k + fmt_s(" + (t + %lld) / %lld) * %lld + n0) / 8 + ", e0, c.bn / 8, N) +
             fmt_s("(t + %lld) %% %lld];\n", e0, c.bn / 8);
      }
      return f;
    };
    auto put = [&](const std::string& base) {
      std::string f;
      for (int i = 0; i < a_loads; ++i) {
        int e0 = i * threads;
        f += "    smem[" + base + fmt_s(" + (t + %lld) / %lld * %lld + (t + %lld) %% ", e0, bk / 8, a_pitch, e0) +
             fmt_s("%lld] = ra%lld;\n", bk / 8, i);
      }
      for (int i = 0; i < b_loads; ++i) {
        int e0 = i * threads;
        f += "    smem[" + base + fmt_s(" + %lld + (t + %lld) / %lld * ", a_words, e0, c.bn / 8) +
             fmt_s("%lld + (t + %lld) %% ", b_pitch, e0) + fmt_s("%lld] = rb%lld;\n", c.bn / 8, i);
      }
      return f;
    };
    s += "  {\n" + fetch("0") + put("0") + "  }\n  barrier();\n";
    const int64_t steps = K / bk;
    s += fmt_s("  for (int kt = 0; kt < %lld; ++kt) {\n    int cur = (kt & 1) * %lld;\n", steps, stage);
    s += fmt_s("    bool more = kt + 1 < %lld;\n    if (more) {\n", steps) + fetch(fmt_s("(kt + 1) * %lld", bk)) + "    }\n";
    // MA = B^T (bn x bk): B tile is bk rows x bn halves, so column-major with stride b_pitch.
    s += fmt_s("    MA x; coopMatLoadNV(x, smem, uint(cur + %lld), %lldu, true);\n", a_words, b_pitch);
    s += fmt_s("    MB y; coopMatLoadNV(y, smem, uint(cur), %lldu, true);\n", a_pitch);
    s += "    acc = coopMatMulAddNV(x, y, acc);\n";
    s += fmt_s("    if (more) {\n", 0) + put(fmt_s("(%lld - cur)", stage)) + "    }\n    barrier();\n  }\n";
  }
  s += fmt_s("  coopMatStoreNV(acc, pc.c.v, uint(m0 * %lld + n0), %lldu, true);\n}\n", N, N);
  return s;
}

}  // namespace descent::bench::probe
