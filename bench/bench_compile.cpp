// Graph build time against graph size: a chain of N per-element ops (mul, add, sin in turn) on a
// [1024] array, and an unrolled recurrence of T steps of a small tanh cell. Prints
// "case,size,build_ms,kernels" so the growth is visible (it should be about linear).
// Usage: bench_compile [chain sizes...] (default 300 1000 3000). Public API only.
#include <descent/descent.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>

using namespace descent;

namespace {
double ms_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

void chain(Environment& env, int n) {
  auto x = env.static_parameter({1024}, env.unique_name("chain_x"));
  auto y = env.static_parameter({1024}, env.unique_name("chain_y"));
  auto t0 = std::chrono::steady_clock::now();
  Graph g = env.build_graph([&](Scope& s) {
    Array v = s.parameter_value(x);
    for (int i = 0; i < n; ++i) v = i % 3 == 0 ? v * 1.0001f : i % 3 == 1 ? v + 0.5f : v.sin();
    s.write_parameter_value(y, v);
  });
  std::printf("chain,%d,%.1f,%zu\n", n, ms_since(t0), g.kernel_count());
  std::fflush(stdout);
}

void recurrence(Environment& env, int steps) {
  const int64_t b = 16, h = 32;
  auto w = env.trainable_parameter({h, h}, env.unique_name("rnn_w"), Initializer::uniform(0.1f));
  auto x0 = env.static_parameter({b, h}, env.unique_name("rnn_x"));
  Adam adam(env, {w});
  auto t0 = std::chrono::steady_clock::now();
  Graph g = env.build_graph([&](Scope& s) {
    DualArray hs = DualArray(s.parameter_value(x0));
    DualArray wd = s.parameter(w);
    for (int t = 0; t < steps; ++t) hs = (hs.matmul(wd) + DualArray(s.parameter_value(x0))).tanh();
    hs.square().reduce_sum(-1, true).set_loss();
    adam.step(s, 0.01f);
  });
  std::printf("recurrence,%d,%.1f,%zu\n", steps, ms_since(t0), g.kernel_count());
  std::fflush(stdout);
}
}  // namespace

int main(int argc, char** argv) {
  std::vector<int> sizes;
  for (int i = 1; i < argc; ++i) sizes.push_back(std::atoi(argv[i]));
  if (sizes.empty()) sizes = {300, 1000, 3000};
  Environment env;
  std::fprintf(stderr, "device: %s\n", env.device_name().c_str());
  std::printf("case,size,build_ms,kernels\n");
  for (int n : sizes) chain(env, n);
  for (int t : {10, 100}) recurrence(env, t);
  return 0;
}
