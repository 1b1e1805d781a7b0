// Matmul benchmark: square products 1024..8192 through descent's generated
// kernels, FP32 and float16 inputs, GPU-timestamped with the GPU kept busy, random inputs,
// spot-checked against a float64 dot product on the host. Prints "case,n,ms,TFLOP/s,max_rel_err".
// Usage: bench_matmul [--fp16-only] [--bt] [--variants=all|1,3,...] [sizes...]. --bt
// reads B through a transposed view (B stored [N, K], as a Linear layer's weight). --variants times each
// cooperative-matrix tile variant (Target::coopmat_variant) in this one process; the case name
// then carries the variant the kernel actually used (a forced variant that does not fit the
// device's shared memory falls back, and the name says so).
#include <descent/descent.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "dispatch_timing.hpp"
#include "runtime/state.hpp"
#include "util/flags.hpp"
#include "runtime/test_access.hpp"

using namespace descent;

/// "v3_256x128x16" from the kernel's "// coopmat variant 3: 256x128x16 tiles" line, or "".
std::string variant_of(const std::string& source) {
  size_t at = source.find("// coopmat variant ");
  if (at == std::string::npos) return "";
  size_t num = at + 19, colon = source.find(':', num), tiles = source.find(" tiles", colon);
  return "v" + source.substr(num, colon - num) + "_" + source.substr(colon + 2, tiles - colon - 2);
}

int main(int argc, char** argv) {
  std::vector<int64_t> sizes;
  std::vector<int> variants = {-1};  // -1: whatever the environment chooses
  bool fp32 = true, bt = false;
  for (int i = 1; i < argc; ++i) try {
    std::string arg = argv[i];
    if (arg == "--fp16-only") {
      fp32 = false;
    } else if (arg == "--bt") {
      bt = true;
    } else if (arg.rfind("--variants=", 0) == 0) {
      variants.clear();
      std::string list = arg.substr(11);
      if (list == "all") {
        for (int v = 1; v <= codegen::coopmat_variant_count(); ++v) variants.push_back(v);
      } else {
        for (size_t p = 0; p < list.size();) {
          size_t e = list.find(',', p);
          variants.push_back(std::stoi(list.substr(p, e - p)));
          p = e == std::string::npos ? list.size() : e + 1;
        }
      }
    } else {
      sizes.push_back(std::stoll(arg));
    }
  } catch (const std::exception&) {
    std::fprintf(stderr, "bench_matmul: bad argument '%s'\nusage: bench_matmul [--fp16-only] "
                 "[--variants=all|1,3,...] [sizes...]\n", argv[i]);
    return 2;
  }
  if (sizes.empty()) sizes = {1024, 2048, 4096, 8192};
  Environment env;
  std::fprintf(stderr, "device: %s\n", env.device_name().c_str());
  std::printf("case,n,ms,TFLOP/s,max_rel_err\n");
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> d(-1.0f, 1.0f);
  for (int64_t n : sizes) {
    std::vector<float> a(static_cast<size_t>(n * n)), b(a.size());
    for (auto& v : a) v = d(rng);
    for (auto& v : b) v = d(rng);
    auto pa = env.static_parameter_with_data({n, n}, env.unique_name("a"), a);
    auto pb = env.static_parameter_with_data({n, n}, env.unique_name("b"), b);
    auto pc = env.static_parameter({n, n}, env.unique_name("c"));
    std::vector<std::pair<MatMulPrecision, int>> runs;
    if (fp32) runs.push_back({MatMulPrecision::kFloat32, -1});
    for (int v : variants) runs.push_back({MatMulPrecision::kFloat16Inputs, v});
    const int chosen = detail::TestAccess::state(env).target.coopmat_variant;
    for (auto [precision, variant] : runs) {
      detail::TestAccess::state(env).target.coopmat_variant = variant < 0 ? chosen : variant;
      detail::mutable_flags().debug = 2;
      Graph g = env.build_graph([&](Scope& s) {
        Array bv = bt ? s.parameter_value(pb).transpose() : s.parameter_value(pb);
        s.write_parameter_value(pc, s.parameter_value(pa).matmul(bv, precision));
      });
      detail::mutable_flags().debug = 0;
      // Warm up for ~0.4 s: an idle H100 drops its clock to 345-1110 MHz and needs tens of ms
      // of work to return to 1980 MHz, which a short measurement would otherwise include.
      int warm = 5, reps = n >= 8192 ? 10 : 30;
      auto t0 = std::chrono::steady_clock::now();
      for (int r = 0; r < warm || std::chrono::steady_clock::now() - t0 < std::chrono::milliseconds(400); ++r)
        env.run(g);
      std::vector<double> t;
      for (int r = 0; r < reps; ++r) {
        env.run(g);
        env.run(g);
        double ms = 0;
        for (const auto& k : env.last_timings(g)) ms += k.ms;
        t.push_back(ms);
      }
      std::sort(t.begin(), t.end());
      double ms = t[t.size() / 2];
      auto c = env.read_parameter(pc);
      double worst = bench::max_rel_error(
          a, [&](int64_t k, int64_t j) { return double{b[static_cast<size_t>(bt ? j * n + k : k * n + j)]}; }, c, n, n, n);
      bool fp16 = precision == MatMulPrecision::kFloat16Inputs;
      std::string name = std::string(fp16 ? "matmul_fp16_inputs" : "matmul_fp32") + (bt ? "_bt" : "");
      std::string used = fp16 ? variant_of(g.kernel_source(0)) : "";
      for (size_t i = 0; fp16 && i < g.kernel_count(); ++i)  // packed operands, workgroup matrices
        if (g.kernel_source(i).find("gl_ScopeWorkgroup") != std::string::npos)
          used = "coopmat2_" + std::to_string(g.kernel_count()) + "kernels";
      if (!used.empty()) name += "_" + used;
      if (variant > 0 && used.rfind("v" + std::to_string(variant) + "_", 0) != 0) name += "_fallback";
      if (fp16) {  // per-kernel split (packing kernels, product) to stderr
        for (const auto& kt : env.last_timings(g)) std::fprintf(stderr, "  %s,%lld,%s,%.4f ms\n", name.c_str(), static_cast<long long>(n), kt.label.c_str(), kt.ms);
      }
      std::printf("%s,%lld,%.4f,%.2f,%.2e\n", name.c_str(), static_cast<long long>(n), ms,
                  2.0 * n * n * n / (ms * 1e-3) / 1e12, worst);
      std::fflush(stdout);
    }
  }
  return 0;
}
