// scatter_add benchmark: the dense and the sort-based strategy on a hash-grid level (table
// [4096, 2], 65,536 spatially hashed updates) and on a sweep of table sizes x update counts, the
// data behind the size rule (scatter_uses_sort, src/graph/scatter.hpp). Prints CSV rows
// "case,strategy,targets,updates,features,kernels,compile_ms,run_ms,run_cpu_ms" (run: env.run +
// wait_idle, median of repetitions, as wall time and as CPU time of all threads).
// Usage: bench_scatter [hashgrid | hashgrid-sort | boundary | sweep | all]; DESCENT_DEBUG=2 adds
// per-kernel times. Uses the internal strategy override; not a test.
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <descent/descent.hpp>
#include <random>
#include <string>
#include <vector>

#include "graph/scatter.hpp"
#include "util/flags.hpp"

using namespace descent;
using Clock = std::chrono::steady_clock;

namespace {

/// CPU time of this process (all lavapipe threads): less sensitive than wall time to other
/// processes sharing the cores.
double cpu_ms() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return (u.ru_utime.tv_sec + u.ru_stime.tv_sec) * 1e3 +
         (u.ru_utime.tv_usec + u.ru_stime.tv_usec) * 1e-3;
}

double ms_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

/// Spatial-hash indices: (x ^ y * 1526263) % table over random grid points (Instant-NGP style).
std::vector<uint32_t> hash_indices(int64_t n, int64_t table, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<uint32_t> coord(0, 1023);
  std::vector<uint32_t> idx(static_cast<size_t>(n));
  for (auto& i : idx) i = (coord(rng) ^ (coord(rng) * 1526263u)) % static_cast<uint32_t>(table);
  return idx;
}

void bench(Environment& env, const char* name, detail::ScatterStrategy strategy, int64_t m,
           int64_t n, int64_t features, int reps) {
  std::vector<float> vals(static_cast<size_t>(n * features));
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> d(-1.0f, 1.0f);
  for (float& v : vals) v = d(rng);
  auto pv = env.static_parameter_with_data({n, features}, env.unique_name("bench_vals"), vals);
  auto pi = env.static_parameter({n}, env.unique_name("bench_idx"), DType::kU32);
  env.write_parameter(pi, hash_indices(n, m, 11));
  auto table = env.static_parameter_with_data(
      {m, features}, env.unique_name("bench_table"), std::vector<float>(static_cast<size_t>(m * features), 0.0f));
  detail::scatter_strategy_override() = strategy;
  auto t0 = Clock::now();
  Graph g = env.build_graph([&](Scope& s) {
    s.write_parameter_value(table, s.parameter_value(table).scatter_add(s.parameter_value(pv), 0,
                                                                        s.parameter_value(pi)));
  });
  env.run(g);  // the first run also creates the pipelines
  env.wait_idle();
  double compile_ms = ms_since(t0);
  detail::scatter_strategy_override() = detail::ScatterStrategy::kAuto;
  std::vector<double> t, cpu;
  for (int r = 0; r < reps; ++r) {
    auto t1 = Clock::now();
    double c1 = cpu_ms();
    env.run(g);
    env.wait_idle();
    t.push_back(ms_since(t1));
    cpu.push_back(cpu_ms() - c1);
  }
  std::sort(cpu.begin(), cpu.end());
  std::sort(t.begin(), t.end());
  if (detail::flags().debug >= 2)
    for (const auto& k : env.last_timings(g))
      std::printf("#  %8.3f ms  %s\n", k.ms, k.label.c_str());
  std::printf("%s,%s,%lld,%lld,%lld,%zu,%.1f,%.3f,%.3f\n", name,
              strategy == detail::ScatterStrategy::kSort ? "sort" : "dense",
              static_cast<long long>(m), static_cast<long long>(n),
              static_cast<long long>(features), g.kernel_count(), compile_ms, t[t.size() / 2],
              cpu[cpu.size() / 2]);
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  std::string mode = argc > 1 ? argv[1] : "hashgrid";
  Environment env;
  std::printf("# device: %s\n", env.device_name().c_str());
  std::printf("case,strategy,targets,updates,features,kernels,compile_ms,run_ms,run_cpu_ms\n");
  const auto dense = detail::ScatterStrategy::kDense, sort = detail::ScatterStrategy::kSort;
  if (mode == "hashgrid" || mode == "all") {
    bench(env, "hashgrid", sort, 4096, 65536, 2, 10);
    bench(env, "hashgrid", dense, 4096, 65536, 2, 3);
  }
  if (mode == "hashgrid-sort") bench(env, "hashgrid", sort, 4096, 65536, 2, 5);
  if (mode == "boundary" || mode == "all") {
    const int64_t pts[][2] = {{1024, 256},  {256, 1024},  {128, 4096}, {256, 4096},
                              {128, 65536}, {256, 65536}, {512, 65536}};
    for (const auto& p : pts) {
      bench(env, "boundary", sort, p[0], p[1], 2, 5);
      bench(env, "boundary", dense, p[0], p[1], 2, 5);
    }
  }
  if (mode == "sweep" || mode == "all") {
    for (int64_t m : {64, 512, 4096})
      for (int64_t n : {256, 1024, 4096, 16384}) {
        bench(env, "sweep", sort, m, n, 2, 7);
        bench(env, "sweep", dense, m, n, 2, 7);
      }
  }
  return 0;
}
