// Diagnostic benchmark for the tensor-core path: hand-written float16 x float16 -> float32
// products over operands that are ALREADY float16 in device memory. Paths: subgroup fragments
// (VK_NV_cooperative_matrix) loaded straight from the buffers ("direct") or staged in shared
// memory ("smem", "smem1", "smemd2", "smemp"; "fragonly"/"fl-*" are diagnostics with wrong
// values), and workgroup-scope matrices (VK_NV_cooperative_matrix2, "wg*" in
// coopmat_probe_workgroup.hpp, SPIR-V rewritten to KHR; a trailing "t" uses tensor-addressed
// loads; "wgsfo"/"wgssame" are diagnostics with wrong values). Values are checked against a
// float64 host product; prints "kernel,n,ms,TFLOP/s,max_rel_err" and the device's
// cooperative-matrix shapes (stderr). Edit `cfgs` in main() to pick the kernels to time.
#include <descent/descent.hpp>

#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "coopmat_probe_common.hpp"
#include "coopmat_probe_workgroup.hpp"
#include "dispatch_timing.hpp"
#include "vulkan/spirv_coopmat.hpp"

using namespace descent;
using namespace descent::bench::probe;

namespace {

struct Push {
  uint64_t a, b, c;
};

/// Per-thread tile origin in grouped launch order (8 tile rows sweep the columns together).
std::string origin(const Cfg& c, int64_t M, int64_t N) {
  std::string s;
  s += "  int sg = int(gl_SubgroupID), wmi = sg / " + std::to_string(c.wn) + ", wni = sg % " + std::to_string(c.wn) + ";\n";
  s += fmt_s("  int pid = int(gl_WorkGroupID.x), gm = %lld, gn = %lld;\n", M / c.bm, N / c.bn);
  s += "  int first = pid / (8 * gn) * 8, q = pid % (8 * gn), rows = min(gm - first, 8);\n";
  s += fmt_s("  int m0 = (first + q %% rows) * %lld, n0 = (q / rows) * %lld;\n", c.bm, c.bn);
  return s;
}

std::string store_results(const Cfg& c, int64_t N, const std::string& mrow, const std::string& ncol) {
  int fm = c.bm / c.wm / 16, fn = c.bn / c.wn / 16;
  std::string s;
  for (int i = 0; i < fm; ++i)
    for (int j = 0; j < fn; ++j)
      s += fmt_s("  coopMatStoreNV(c%lld_%lld, pc.c.v, uint((", i, j) + mrow + fmt_s(" + %lld) * %lld + ", 16 * i, N) +
           ncol + fmt_s(" + %lld), %lldu, false);\n", 16 * j, N);
  return s;
}

std::string direct_kernel(const Cfg& c, int64_t M, int64_t N, int64_t K) {
  int fm = c.bm / c.wm / 16, fn = c.bn / c.wn / 16;
  std::string s = kHead;
  s += "layout(local_size_x = " + std::to_string(32 * c.wm * c.wn) + ") in;\nvoid main() {\n" + origin(c, M, N);
  s += fmt_s("  int mr = m0 + wmi * %lld, nc = n0 + wni * %lld;\n", c.bm / c.wm, c.bn / c.wn);
  for (int i = 0; i < fm; ++i)
    for (int j = 0; j < fn; ++j) s += fmt_s("  ACC c%lld_%lld = ACC(0.0);\n", i, j);
  s += fmt_s("  for (int k = 0; k < %lld; k += %lld) {\n", K, 16 * c.ku);
  for (int kk = 0; kk < c.ku; ++kk) {
    for (int i = 0; i < fm; ++i)
      s += fmt_s("    FRAG a%lld_%lld; coopMatLoadNV(a%lld_%lld, pc.a.v, ", kk, i, kk, i) +
           fmt_s("uint(((mr + %lld) * %lld + k + %lld) >> 3), %lldu, false);\n", 16 * i, K, 16 * kk, K / 8);
    for (int j = 0; j < fn; ++j) {
      if (c.bcol)
        s += fmt_s("    FRAG b%lld_%lld; coopMatLoadNV(b%lld_%lld, pc.b.v, ", kk, j, kk, j) +
             fmt_s("uint(((nc + %lld) * %lld + k + %lld) >> 3), %lldu, true);\n", 16 * j, K, 16 * kk, K / 8);
      else
        s += fmt_s("    FRAG b%lld_%lld; coopMatLoadNV(b%lld_%lld, pc.b.v, ", kk, j, kk, j) +
             fmt_s("uint(((k + %lld) * %lld + nc + %lld) >> 3), %lldu, false);\n", 16 * kk, N, 16 * j, N / 8);
    }
  }
  for (int kk = 0; kk < c.ku; ++kk)
    for (int j = 0; j < fn; ++j)
      for (int i = 0; i < fm; ++i)
        s += fmt_s("    c%lld_%lld = coopMatMulAddNV(a%lld_%lld, ", i, j, kk, i) + fmt_s("b%lld_%lld, c%lld_%lld);\n", kk, j, i, j);
  s += "  }\n" + store_results(c, N, "mr", "nc") + "}\n";
  return s;
}

/// Shared-memory staging of float16 operands: uvec4 (8 halves) runs copied global -> registers ->
/// shared (rows padded by 16 bytes). Paths: "smem" two buffers, one barrier per K step, the next
/// step's loads in flight during this step's products; "smem1" one buffer, two barriers per step
/// (same prefetch distance, half the shared memory, so bk can double); "smemd2" two buffers and two
/// register sets: loads are issued two steps ahead, so two steps of products cover their latency.
std::string smem_kernel(const Cfg& c, int64_t M, int64_t N, int64_t K) {
  const int threads = 32 * c.wm * c.wn, bk = 16 * c.ku, fm = c.bm / c.wm / 16, fn = c.bn / c.wn / 16;
  const bool one = c.path == "smem1", d2 = c.path == "smemd2", pipe = c.path == "smemp";
  // A panel: bm rows x bk halves. B panel: bk rows x bn halves, or (bcol) bn rows x bk halves.
  const int a_rows = c.bm, a_cols = bk, b_rows = c.bcol ? c.bn : bk, b_cols = c.bcol ? bk : c.bn;
  const int a_st = a_cols / 8 + 1, b_st = b_cols / 8 + 1, a_sz = a_rows * a_st, stage = a_sz + b_rows * b_st;
  const int a_n = a_rows * a_cols / 8 / threads, b_n = b_rows * b_cols / 8 / threads;
  const int64_t steps = K / bk;
  std::string s = kHead;
  s += "layout(local_size_x = " + std::to_string(threads) + ") in;\n";
  s += "shared uvec4 smem[" + std::to_string((one ? 1 : 2) * stage) + "];\nvoid main() {\n" + origin(c, M, N);
  s += "  int lid = int(gl_LocalInvocationID.x);\n";
  s += fmt_s("  int ar = lid / %lld, ac = lid %% %lld;\n", a_cols / 8, a_cols / 8);
  s += fmt_s("  int br = lid / %lld, bc = lid %% %lld;\n", b_cols / 8, b_cols / 8);
  for (int i = 0; i < fm; ++i)
    for (int j = 0; j < fn; ++j) s += fmt_s("  ACC c%lld_%lld = ACC(0.0);\n", i, j);
  auto loads = [&](const std::string& k0, int set) {
    std::string t;
    for (int i = 0; i < a_n; ++i)
      t += fmt_s("    ra%lld_%lld = pc.a.v[((m0 + ar + %lld) * %lld + ", set, i, i * threads / (a_cols / 8), K) + k0 + " >> 3) + ac];\n";
    for (int i = 0; i < b_n; ++i) {
      if (c.bcol)
        t += fmt_s("    rb%lld_%lld = pc.b.v[((n0 + br + %lld) * %lld + ", set, i, i * threads / (b_cols / 8), K) + k0 + " >> 3) + bc];\n";
      else
        t += fmt_s("    rb%lld_%lld = pc.b.v[((", set, i) + k0 + fmt_s(" + br + %lld) * %lld + n0 >> 3) + bc];\n", i * threads / (b_cols / 8), N);
    }
    return t;
  };
  auto stores = [&](const std::string& sb, int set) {
    std::string t;
    for (int i = 0; i < a_n; ++i)
      t += "    smem[" + sb + fmt_s(" + (ar + %lld) * %lld + ac] = ra%lld_", i * threads / (a_cols / 8), a_st, set) + std::to_string(i) + ";\n";
    for (int i = 0; i < b_n; ++i)
      t += "    smem[" + sb + fmt_s(" + %lld + (br + %lld) * %lld + bc] = ", a_sz, i * threads / (b_cols / 8), b_st) +
           fmt_s("rb%lld_%lld;\n", set, i);
    return t;
  };
  const int tm = c.bm / c.wm, tn = c.bn / c.wn;
  auto products = [&](const std::string& sb) {
    std::string t;
    for (int kk = 0; kk < c.ku; ++kk) {
      for (int i = 0; i < fm; ++i)
        t += fmt_s("    FRAG a%lld_%lld; coopMatLoadNV(a%lld_%lld, smem, ", kk, i, kk, i) + "uint(" + sb +
             fmt_s(" + fa + %lld), %lldu, false);\n", i * 16 * a_st + kk * 2, a_st);
      for (int j = 0; j < fn; ++j) {
        int off = c.bcol ? j * 16 * b_st + kk * 2 : kk * 16 * b_st + j * 2;
        t += fmt_s("    FRAG b%lld_%lld; coopMatLoadNV(b%lld_%lld, smem, ", kk, j, kk, j) + "uint(" + sb +
             fmt_s(" + fb + %lld), %lldu, ", off, b_st) + (c.bcol ? "true" : "false") + ");\n";
      }
      for (int j = 0; j < fn; ++j)
        for (int i = 0; i < fm; ++i)
          t += fmt_s("    c%lld_%lld = coopMatMulAddNV(a%lld_%lld, ", i, j, kk, i) + fmt_s("b%lld_%lld, c%lld_%lld);\n", kk, j, i, j);
    }
    return "    {\n" + t + "    }\n";
  };
  for (int set = 0; set < (d2 ? 2 : 1); ++set) {
    for (int i = 0; i < a_n; ++i) s += fmt_s("  uvec4 ra%lld_%lld;\n", set, i);
    for (int i = 0; i < b_n; ++i) s += fmt_s("  uvec4 rb%lld_%lld;\n", set, i);
  }
  s += fmt_s("  int fa = wmi * %lld, fb = %lld + ", tm * a_st, a_sz) +
       (c.bcol ? fmt_s("wni * %lld;\n", tn * b_st) : fmt_s("wni * %lld;\n", tn / 8));
  auto kof = [&](const std::string& e) { return "(" + e + ") * " + std::to_string(bk); };
  // "smemp": fragment loads software-pipelined across the barrier. Step k's products are split by
  // B column: the first half before the stores and the barrier, the second half after step k + 1's
  // fragments were loaded, so those loads overlap products. Two fragment sets (step parity).
  auto frag_loads = [&](int set, const std::string& sb) {
    std::string t;
    for (int kk = 0; kk < c.ku; ++kk) {
      for (int i = 0; i < fm; ++i)
        t += fmt_s("    coopMatLoadNV(fa%lld_%lld_%lld, smem, ", set, kk, i) +
             "uint(" + sb + fmt_s(" + fa + %lld), %lldu, false);\n", i * 16 * a_st + kk * 2, a_st);
      for (int j = 0; j < fn; ++j) {
        int off = c.bcol ? j * 16 * b_st + kk * 2 : kk * 16 * b_st + j * 2;
        t += fmt_s("    coopMatLoadNV(fb%lld_%lld_%lld, smem, ", set, kk, j) + "uint(" + sb +
             fmt_s(" + fb + %lld), %lldu, ", off, b_st) + (c.bcol ? "true" : "false") + ");\n";
      }
    }
    return t;
  };
  auto half_products = [&](int set, int j0, int j1) {
    std::string t;
    for (int kk = 0; kk < c.ku; ++kk)
      for (int j = j0; j < j1; ++j)
        for (int i = 0; i < fm; ++i)
          t += fmt_s("    c%lld_%lld = coopMatMulAddNV(", i, j) + fmt_s("fa%lld_%lld_%lld, ", set, kk, i) +
               fmt_s("fb%lld_%lld_%lld, ", set, kk, j) + fmt_s("c%lld_%lld);\n", i, j);
    return t;
  };
  if (c.path == "fragonly") {
    // Diagnostic (wrong values): only the fragment loads from shared memory and the products.
    s += fmt_s("  for (int kt = 0; kt < %lld; ++kt) {\n", steps) + products(fmt_s("(kt & 1) * %lld", stage)) + "  }\n";
  } else if (pipe) {
    for (int set = 0; set < 2; ++set)
      for (int kk = 0; kk < c.ku; ++kk) {
        for (int i = 0; i < fm; ++i) s += fmt_s("  FRAG fa%lld_%lld_%lld;\n", set, kk, i);
        for (int j = 0; j < fn; ++j) s += fmt_s("  FRAG fb%lld_%lld_%lld;\n", set, kk, j);
      }
    s += "  {\n" + loads("0", 0) + stores("0", 0) + "  }\n  barrier();\n" + frag_loads(0, "0");
    s += fmt_s("  for (int kt = 0; kt < %lld; kt += 2) {\n", steps);
    for (int h = 0; h < 2; ++h) {
      std::string k = h ? "kt + 1" : "kt";
      s += "    {\n" + loads(kof("min(" + k + fmt_s(" + 1, %lld)", steps - 1)), 0) + "    }\n";
      s += half_products(h, 0, fn / 2);
      s += "    {\n" + stores(std::to_string((1 - h) * stage), 0) + "    }\n    barrier();\n";
      s += frag_loads(1 - h, std::to_string((1 - h) * stage));
      s += half_products(h, fn / 2, fn);
    }
    s += "  }\n";
  } else if (one) {
    s += "  {\n" + loads("0", 0) + "  }\n";
    s += fmt_s("  for (int kt = 0; kt < %lld; ++kt) {\n", steps);
    s += "    barrier();\n" + stores("0", 0) + "    barrier();\n";
    s += "    {\n" + loads(kof(fmt_s("min(kt + 1, %lld)", steps - 1)), 0) + "    }\n";
    s += products("0") + "  }\n";
  } else if (!d2) {
    s += "  {\n" + loads("0", 0) + stores("0", 0) + "  }\n  barrier();\n";
    s += fmt_s("  for (int kt = 0; kt < %lld; ++kt) {\n", steps);
    s += fmt_s("    int sb = (kt & 1) * %lld;\n", stage);
    s += "    {\n" + loads(kof(fmt_s("min(kt + 1, %lld)", steps - 1)), 0) + "    }\n" + products("sb");
    s += "    {\n" + stores(fmt_s("%lld - sb", stage), 0) + "    }\n    barrier();\n  }\n";
  } else {
    // Register set (j & 1) holds step j's operands. Step kt: issue step kt + 2's loads into set
    // (kt & 1) (its step kt was stored during step kt - 1), products of buffer (kt & 1), store set
    // ((kt + 1) & 1) into buffer ((kt + 1) & 1), barrier. The loop runs two steps per iteration so
    // the register sets have fixed names.
    s += "  {\n" + loads("0", 0) + stores("0", 0) + "  }\n";
    s += fmt_s("  if (%lld > 1) {\n", steps) + loads(kof("1"), 1) + "  }\n  barrier();\n";
    s += fmt_s("  for (int kt = 0; kt < %lld; kt += 2) {\n", steps);
    for (int h = 0; h < 2; ++h) {
      std::string k = h ? "kt + 1" : "kt";
      s += "    {\n" + loads(kof("min(" + k + fmt_s(" + 2, %lld)", steps - 1)), h) + "    }\n";
      s += products(std::to_string(h * stage));
      s += "    {\n" + stores(std::to_string((1 - h) * stage), 1 - h) + "    }\n    barrier();\n";
    }
    s += "  }\n";
  }
  s += store_results(c, N, fmt_s("m0 + wmi * %lld", tm), fmt_s("n0 + wni * %lld", tn)) + "}\n";
  return s;
}

/// Diagnostic (wrong values): fragment loads from a shared array of `elem` ("uvec4", "float16_t" or
/// "uint") with rows padded by 16 bytes or not, and the products; nothing else. Asks whether the
/// driver's shared-memory fragment load depends on the array's element type or the row pitch.
std::string fragload_kernel(const Cfg& c, int64_t M, int64_t N, int64_t K, const std::string& elem, bool pad) {
  const int bk = 16 * c.ku, fm = c.bm / c.wm / 16, fn = c.bn / c.wn / 16;
  const int per = elem == "uvec4" ? 8 : elem == "uint" ? 2 : 1;  // halves per array element
  const int a_st = (bk + (pad ? 8 : 0)) / per, b_st = (c.bn + (pad ? 8 : 0)) / per;
  const int a_sz = c.bm * a_st, stage = a_sz + bk * b_st;
  std::string s = kHead;
  s += "#extension GL_EXT_shader_16bit_storage : require\n";
  s += "layout(local_size_x = " + std::to_string(32 * c.wm * c.wn) + ") in;\n";
  s += "shared " + elem + " smem[" + std::to_string(2 * stage) + "];\nvoid main() {\n" + origin(c, M, N);
  for (int i = 0; i < fm; ++i)
    for (int j = 0; j < fn; ++j) s += fmt_s("  ACC c%lld_%lld = ACC(0.0);\n", i, j);
  const int tm = c.bm / c.wm, tn = c.bn / c.wn;
  s += fmt_s("  int fa = wmi * %lld, fb = %lld + ", tm * a_st, a_sz) + fmt_s("wni * %lld;\n", tn / per);
  s += fmt_s("  for (int kt = 0; kt < %lld; ++kt) {\n    int sb = (kt & 1) * %lld;\n", K / bk, stage);
  for (int kk = 0; kk < c.ku; ++kk) {
    for (int i = 0; i < fm; ++i)
      s += fmt_s("    FRAG a%lld_%lld; coopMatLoadNV(a%lld_%lld, smem, ", kk, i, kk, i) +
           fmt_s("uint(sb + fa + %lld), %lldu, false);\n", i * 16 * a_st + kk * 16 / per, a_st);
    for (int j = 0; j < fn; ++j)
      s += fmt_s("    FRAG b%lld_%lld; coopMatLoadNV(b%lld_%lld, smem, ", kk, j, kk, j) +
           fmt_s("uint(sb + fb + %lld), %lldu, false);\n", kk * 16 * b_st + j * 16 / per, b_st);
    for (int j = 0; j < fn; ++j)
      for (int i = 0; i < fm; ++i)
        s += fmt_s("    c%lld_%lld = coopMatMulAddNV(a%lld_%lld, ", i, j, kk, i) + fmt_s("b%lld_%lld, c%lld_%lld);\n", kk, j, i, j);
  }
  s += "  }\n" + store_results(c, N, fmt_s("m0 + wmi * %lld", tm), fmt_s("n0 + wni * %lld", tn)) + "}\n";
  return s;
}

uint16_t to_half(float f) {  // exact for the k / 1024 values used here (|f| >= 2^-10 or 0)
  if (f == 0.0f) return 0;
  uint32_t u;
  std::memcpy(&u, &f, 4);
  uint32_t sign = (u >> 16) & 0x8000u, exp = ((u >> 23) & 0xffu) - 127 + 15, man = (u >> 13) & 0x3ffu;
  return static_cast<uint16_t>(sign | (exp << 10) | man);
}

/// Prints the device's cooperative-matrix extensions and the shapes each advertises (the KHR and
/// NV2 structures are declared here: Debian 12's Vulkan headers predate them).
void print_coopmat_support(const descent::vk::Context& ctx) {
  VkPhysicalDevice pd = ctx.physical_device();
  uint32_t n = 0;
  vkEnumerateDeviceExtensionProperties(pd, nullptr, &n, nullptr);
  std::vector<VkExtensionProperties> ext(n);
  vkEnumerateDeviceExtensionProperties(pd, nullptr, &n, ext.data());
  for (auto& e : ext)
    if (std::strstr(e.extensionName, "cooperative") || std::strstr(e.extensionName, "tensor"))
      std::fprintf(stderr, "extension %s v%u\n", e.extensionName, e.specVersion);
  struct KhrProps {
    uint32_t sType; void* pNext; uint32_t M, N, K, A, B, C, R, sat, scope;
  };
  auto khr = reinterpret_cast<VkResult (*)(VkPhysicalDevice, uint32_t*, KhrProps*)>(
      vkGetInstanceProcAddr(ctx.instance(), "vkGetPhysicalDeviceCooperativeMatrixPropertiesKHR"));
  if (khr) {
    uint32_t c = 0;
    khr(pd, &c, nullptr);
    std::vector<KhrProps> p(c, KhrProps{1000506001u, nullptr, 0, 0, 0, 0, 0, 0, 0, 0, 0});
    khr(pd, &c, p.data());
    for (auto& q : p)
      std::fprintf(stderr, "KHR %ux%ux%u types A%u B%u C%u R%u scope %u\n", q.M, q.N, q.K, q.A, q.B, q.C, q.R, q.scope);
  }
  struct FlexProps {
    uint32_t sType; void* pNext; uint32_t Mg, Ng, Kg, A, B, C, R, sat, scope, invocations;
  };
  auto flex = reinterpret_cast<VkResult (*)(VkPhysicalDevice, uint32_t*, FlexProps*)>(
      vkGetInstanceProcAddr(ctx.instance(), "vkGetPhysicalDeviceCooperativeMatrixFlexibleDimensionsPropertiesNV"));
  if (flex) {
    uint32_t c = 0;
    flex(pd, &c, nullptr);
    std::vector<FlexProps> p(c, FlexProps{1000593001u, nullptr, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0});
    flex(pd, &c, p.data());
    for (auto& q : p)
      std::fprintf(stderr, "NV2 flexible granularity %ux%ux%u types A%u B%u C%u R%u scope %u invocations %u\n", q.Mg,
                   q.Ng, q.Kg, q.A, q.B, q.C, q.R, q.scope, q.invocations);
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<int64_t> sizes;
  for (int i = 1; i < argc; ++i) sizes.push_back(std::stoll(argv[i]));
  if (sizes.empty()) sizes = {2048, 4096, 8192};
  Environment env;
  auto& st = env.state();
  std::fprintf(stderr, "device: %s\n", env.device_name().c_str());
  print_coopmat_support(*st.ctx);
  const bool compile_only = std::getenv("PROBE_COMPILE_ONLY") != nullptr;  // GLSL check anywhere
  if (!compile_only && !st.ctx->info().has_cooperative_matrix_nv) {
    std::fprintf(stderr, "bench_coopmat_probe: the device has no VK_NV_cooperative_matrix\n");
    return 1;
  }
  // The first entry is timed again at the end (drift check).
  // A path ending in "t" is the same kernel with tensor-addressed loads (vk::TensorLoad).
  std::vector<Cfg> cfgs = {
      {"wgs2", 128, 128, 2, 2, 4, false},  {"wgs2t", 128, 128, 2, 2, 4, false}, {"wgs2t", 128, 128, 2, 2, 2, false},
      {"wgm", 128, 128, 2, 2, 2, false},   {"wgsfo", 128, 128, 2, 2, 4, false}, {"wgssame", 128, 128, 2, 2, 4, false},
      {"wgs2", 128, 128, 2, 2, 4, false},
  };
  std::printf("kernel,n,ms,TFLOP/s,max_rel_err\n");
  std::mt19937 rng(7);
  std::uniform_int_distribution<int> d(-1024, 1024);
  for (int64_t n : sizes) {
    const int64_t M = n, N = n, K = n;
    std::vector<float> a(static_cast<size_t>(M * K)), b(static_cast<size_t>(K * N));
    for (auto& v : a) v = d(rng) / 1024.0f;
    for (auto& v : b) v = d(rng) / 1024.0f;
    // Packed halves, two per float slot: A [M, K], B [K, N] and its transpose [N, K].
    auto pack = [&](const std::vector<float>& x, bool transpose, int64_t rows, int64_t cols) {
      std::vector<float> out(x.size() / 2);
      auto* h = reinterpret_cast<uint16_t*>(out.data());
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t c = 0; c < cols; ++c)
          h[transpose ? c * rows + r : r * cols + c] = to_half(x[static_cast<size_t>(r * cols + c)]);
      return out;
    };
    auto pa = env.static_parameter_with_data({M * K / 2}, env.unique_name("a16"), pack(a, false, M, K));
    auto pb = env.static_parameter_with_data({K * N / 2}, env.unique_name("b16"), pack(b, false, K, N));
    auto pbt = env.static_parameter_with_data({K * N / 2}, env.unique_name("bt16"), pack(b, true, K, N));
    auto pcm = env.static_parameter({M * N}, env.unique_name("c"));
    env.wait_idle();
    (void)env.read_parameter(pcm);  // flushes the uploads
    for (const Cfg& c : cfgs) {
      if (M % c.bm || N % (c.path == "wgs2n" ? 2 * c.bn : c.bn) || ((c.path == "smemd2" || c.path == "smemp") && K / (16 * c.ku) % 2)) continue;
      if (c.path.rfind("wgu", 0) == 0 && K % ((c.path[3] - '0') * 16 * c.ku)) continue;
      std::string glsl;
      const bool tensor = c.path.rfind("wg", 0) == 0 && c.path.back() == 't';
      if (c.path.rfind("fl-", 0) == 0) {  // fl-<elem>-<p|np>
        size_t d = c.path.find('-', 3);
        glsl = fragload_kernel(c, M, N, K, c.path.substr(3, d - 3), c.path.substr(d + 1) == "p");
      } else if (c.path.rfind("wg", 0) == 0) {
        if (!compile_only && !(tensor ? st.ctx->info().has_coopmat2_tensor_addressing : st.ctx->info().has_coopmat2_workgroup)) {
          std::printf("%s,%lld,no VK_NV_cooperative_matrix2 workgroup scope / tensor addressing\n", c.name().c_str(),
                      static_cast<long long>(n));
          continue;
        }
        Cfg base = c;
        if (tensor) base.path.pop_back();
        const bool more = base.path.rfind("wgu", 0) == 0 || base.path == "wgp" || base.path == "wgm";
        glsl = more ? workgroup_more_kernel(base, M, N, K) : workgroup_kernel(base, M, N, K);
      } else {
        glsl = c.path == "direct" ? direct_kernel(c, M, N, K) : smem_kernel(c, M, N, K);
      }
      size_t at = glsl.find("shared uvec4 smem[");
      if (!compile_only && at != std::string::npos && 16 * std::stoll(glsl.substr(at + 18)) > st.target.max_shared_memory) {
        std::printf("%s,%lld,too much shared memory\n", c.name().c_str(), static_cast<long long>(n));
        continue;
      }
      if (n == sizes.front() && std::getenv("PROBE_PRINT")) std::fprintf(stderr, "%s\n", glsl.c_str());
      auto spirv = st.compiler->compile(glsl, c.name());
      if (c.path.rfind("wg", 0) == 0) try {
          // Loads in source order: swapped kernels read B^T (B [K, N]) then A^T (A [M, K]).
          std::vector<descent::vk::TensorLoad> loads;
          const auto u = [](int64_t v) { return static_cast<uint32_t>(v); };
          int per_step = c.path.rfind("wgs2", 0) == 0 || c.path == "wgpt" ? 2 : 1;
          if (c.path.rfind("wgu", 0) == 0) per_step = c.path[3] - '0';
          if (c.path == "wgpt") per_step = 3;  // x0 y0 before the loop, x1 y1, x0 y0 in it
          for (int i = 0; tensor && i < per_step; ++i) {
            if (c.path.rfind("wgs", 0) == 0 || c.path.rfind("wgu", 0) == 0 || c.path == "wgpt") {
              loads.push_back({u(K), u(N), 8});
              loads.push_back({u(M), u(K), 8});
            } else {
              loads.push_back({u(M), u(K), 8});
              loads.push_back(c.bcol ? descent::vk::TensorLoad{u(N), u(K), 8} : descent::vk::TensorLoad{u(K), u(N), 8});
            }
          }
          spirv = descent::vk::nv_coopmat_to_khr(spirv, loads);
        } catch (const std::exception& e) {
          std::printf("%s,%lld,%s\n", c.name().c_str(), static_cast<long long>(n), e.what());
          continue;
        }
      if (const char* dump = std::getenv("PROBE_DUMP")) {  // directory for the SPIR-V of each kernel
        std::string path = std::string(dump) + "/" + c.name() + ".spv";
        if (FILE* f = std::fopen(path.c_str(), "wb")) {
          std::fwrite(spirv.data(), 4, spirv.size(), f);
          std::fclose(f);
        }
      }
      if (compile_only) {
        std::printf("%s,%lld,compiled\n", c.name().c_str(), static_cast<long long>(n));
        continue;
      }
      std::unique_ptr<descent::vk::ComputePipeline> pipe_ptr;
      try {
        pipe_ptr = std::make_unique<descent::vk::ComputePipeline>(*st.ctx, spirv, sizeof(Push), c.name());
      } catch (const std::exception& e) {
        std::printf("%s,%lld,pipeline creation failed: %s\n", c.name().c_str(), static_cast<long long>(n), e.what());
        continue;
      }
      auto& pipe = *pipe_ptr;
      Push p{st.params[pa.id()].alloc.address, st.params[c.bcol ? pbt.id() : pb.id()].alloc.address,
             st.params[pcm.id()].alloc.address};
      uint32_t groups = static_cast<uint32_t>((M / c.bm) * (N / c.bn) / (c.path == "wgs2n" ? 2 : 1));
      double ms = bench::time_dispatches(st, pipe, &p, sizeof(Push), groups, 1, n >= 8192 ? 10 : 40, 5, 400.0);
      auto out = env.read_parameter(pcm);
      double worst = bench::max_rel_error(a, [&](int64_t k, int64_t j) { return double{b[static_cast<size_t>(k * N + j)]}; },
                                          out, M, N, K);
      std::printf("%s,%lld,%.4f,%.2f,%.2e\n", c.name().c_str(), static_cast<long long>(n), ms,
                  2.0 * M * N * K / (ms * 1e-3) / 1e12, worst);
      std::fflush(stdout);
    }
  }
  return 0;
}
