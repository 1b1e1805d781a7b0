// The matrix products of one Fashion-MNIST conv-net training step (batch 1000), each timed alone
// with operands laid out as the training graph has them (transposed and permuted views included).
// Sized for CPU devices (lavapipe); prints "case,M,K,N,batch,ms,GFLOP/s,build_ms" (GPU timestamps,
// median; build_ms: build_graph wall time, shader and pipeline compilation included).
#include <descent/descent.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "util/flags.hpp"

using namespace descent;

int main(int argc, char** argv) {
  int reps = argc > 1 ? std::stoi(argv[1]) : 7;
  Environment env;
  std::fprintf(stderr, "device: %s\n", env.device_name().c_str());
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> d(-1.0f, 1.0f);
  auto param = [&](Shape s, const char* name) {
    std::vector<float> v(static_cast<size_t>(s.element_count()));
    for (auto& x : v) x = d(rng);
    return env.static_parameter_with_data(s, env.unique_name(name), v);
  };
  struct Case {
    std::string name;
    int64_t m, k, n, batch;
    std::function<Array(Scope&)> fn;
    Shape out;
  };
  auto x1 = param({784000, 9}, "x1"), w1 = param({16, 9}, "w1"), b1 = param({16}, "b1");
  auto g1 = param({784000, 16}, "g1");
  auto x2 = param({2, 196000, 72}, "x2"), w2 = param({2, 16, 72}, "w2"), g2 = param({196000, 2, 16}, "g2");
  auto x3 = param({1000, 1568}, "x3"), w3 = param({1568, 128}, "w3"), g3 = param({1000, 128}, "g3");
  std::vector<Case> cases = {
      {"conv1 + bias + leaky_relu", 784000, 9, 16, 1,
       [&](Scope& s) { return (s.parameter_value(x1).matmul(s.parameter_value(w1).transpose()) + s.parameter_value(b1)).leaky_relu(0.01f); },
       {784000, 16}},
      {"conv1 dW", 9, 784000, 16, 1,
       [&](Scope& s) { return s.parameter_value(x1).transpose().matmul(s.parameter_value(g1)); }, {9, 16}},
      {"conv2 (2 groups)", 196000, 72, 16, 2,
       [&](Scope& s) { return s.parameter_value(x2).matmul(s.parameter_value(w2).permute({0, 2, 1})); }, {2, 196000, 16}},
      {"conv2 dX", 196000, 16, 72, 2,
       [&](Scope& s) { return s.parameter_value(g2).permute({1, 0, 2}).matmul(s.parameter_value(w2)); }, {2, 196000, 72}},
      {"conv2 dW", 72, 196000, 16, 2,
       [&](Scope& s) { return s.parameter_value(x2).permute({0, 2, 1}).matmul(s.parameter_value(g2).permute({1, 0, 2})); },
       {2, 72, 16}},
      {"fc1", 1000, 1568, 128, 1, [&](Scope& s) { return s.parameter_value(x3).matmul(s.parameter_value(w3)); }, {1000, 128}},
      {"fc1 dX", 1000, 128, 1568, 1,
       [&](Scope& s) { return s.parameter_value(g3).matmul(s.parameter_value(w3).transpose()); }, {1000, 1568}},
      {"fc1 dW", 1568, 1000, 128, 1,
       [&](Scope& s) { return s.parameter_value(x3).transpose().matmul(s.parameter_value(g3)); }, {1568, 128}},
  };
  std::printf("case,M,K,N,batch,ms,GFLOP/s,build_ms\n");
  for (auto& c : cases) {
    auto out = env.static_parameter(c.out, env.unique_name("out"));
    detail::mutable_flags().debug = 2;
    auto t0 = std::chrono::steady_clock::now();
    Graph g = env.build_graph([&](Scope& s) { s.write_parameter_value(out, c.fn(s)); });
    double build_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    detail::mutable_flags().debug = 0;
    std::vector<double> t;
    for (int rep = 0; rep < reps + 1; ++rep) {
      env.run(g);
      double ms = 0;
      for (const auto& k : env.last_timings(g)) ms += k.ms;
      if (rep > 0) t.push_back(ms);
    }
    std::sort(t.begin(), t.end());
    double ms = t[t.size() / 2];
    std::printf("%s,%lld,%lld,%lld,%lld,%.2f,%.2f,%.0f\n", c.name.c_str(), static_cast<long long>(c.m),
                static_cast<long long>(c.k), static_cast<long long>(c.n), static_cast<long long>(c.batch), ms,
                2.0 * c.m * c.k * c.n * c.batch / (ms * 1e-3) / 1e9, build_ms);
    std::fflush(stdout);
  }
  return 0;
}
