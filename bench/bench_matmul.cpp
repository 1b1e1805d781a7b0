// FP32 matmul benchmark (issue 3 target M1): square products 1024..8192 through descent's
// generated kernel, GPU-timestamped with the GPU kept busy, random inputs, spot-checked against a
// float64 dot product on the host. Prints "case,n,ms,TFLOP/s,max_rel_err".
#include <descent/descent.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "util/flags.hpp"

using namespace descent;

int main(int argc, char** argv) {
  std::vector<int64_t> sizes;
  for (int i = 1; i < argc; ++i) sizes.push_back(std::stoll(argv[i]));
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
    auto pa = env.static_parameter_with_data({n, n}, "a", a);
    auto pb = env.static_parameter_with_data({n, n}, "b", b);
    auto pc = env.static_parameter({n, n}, "c");
    for (auto precision : {MatMulPrecision::kFloat32, MatMulPrecision::kFloat16Inputs}) {
      detail::mutable_flags().debug = 2;
      Graph g = env.build_graph([&](Scope& s) {
        s.write_parameter_value(pc, s.parameter_value(pa).matmul(s.parameter_value(pb), precision));
      });
      detail::mutable_flags().debug = 0;
      int warm = 5, reps = n >= 8192 ? 5 : 15;
      for (int r = 0; r < warm; ++r) env.run(g);
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
      double worst = 0;
      for (int s = 0; s < 64; ++s) {
        int64_t i = (s * 7919) % n, j = (s * 104729) % n;
        double ref = 0, mag = 0;
        for (int64_t k = 0; k < n; ++k) {
          ref += static_cast<double>(a[i * n + k]) * b[k * n + j];
          mag += std::fabs(static_cast<double>(a[i * n + k]) * b[k * n + j]);
        }
        worst = std::max(worst, std::fabs(c[i * n + j] - ref) / mag);
      }
      bool fp16 = precision == MatMulPrecision::kFloat16Inputs;
      std::printf("%s,%lld,%.4f,%.2f,%.2e\n", fp16 ? "matmul_fp16_inputs" : "matmul_fp32",
                  static_cast<long long>(n), ms, 2.0 * n * n * n / (ms * 1e-3) / 1e12, worst);
      std::fflush(stdout);
    }
  }
  return 0;
}
