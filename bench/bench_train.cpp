// Training-step benchmark on random data, shaped like ../shared/bench/torch_reference.py:
// Fashion-MNIST networks (batch 1000, Adam lr 0.005, one epoch = 60 steps; --steps changes it) and, later, the
// image_fit networks. Usage: bench_train [network ...] [--epochs N] [--steps S]. Prints CSV rows:
// network,kernels,step_ms,epoch_ms,images_per_s. Timings: host wall clock around whole epochs
// with the GPU kept busy (runs are queued back to back; uploads of each batch included).
// --profile (needs DESCENT_DEBUG=2 for timestamps): after the CSV row, every kernel's median GPU
// time over the timed steps, in execution order, on stderr.
#include <descent/descent.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "../examples/fashion_mnist/networks.hpp"

int main(int argc, char** argv) {
  std::vector<std::string> nets;
  int epochs = 3, steps = 60;
  bool profile = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--epochs" && i + 1 < argc) epochs = std::atoi(argv[++i]);
    else if (a == "--steps" && i + 1 < argc) steps = std::atoi(argv[++i]);  // per "epoch"
    else if (a == "--profile") profile = true;
    else nets.push_back(a);
  }
  if (nets.empty()) nets = {"linear", "single-layer", "conv-net"};
  descent::Environment env;
  std::fprintf(stderr, "device: %s\n", env.device_name().c_str());
  std::printf("network,kernels,step_ms,epoch_ms,images_per_s\n");
  const int m = 1000;
  std::mt19937 rng(1);
  std::vector<float> images(static_cast<size_t>(m) * 784), labels(m);
  for (const std::string& name : nets) {
    auto net = fashion::make_network(name, env);
    auto x = env.static_parameter({m, 28, 28, 1}, "x");
    auto y = env.static_parameter({m}, "y");
    descent::Adam adam(env, net->parameters());
    auto train = env.build_graph([&](descent::Scope& s) {
      auto logits = s.parameter(x).apply(*net, descent::EvalContext::train());
      descent::softmax_cross_entropy(logits, s.parameter_value(y)).set_loss();
      adam.step(s, 0.005f);
    });
    std::vector<std::vector<double>> kernel_ms;  // [kernel][timed step]
    bool timed = false;
    auto epoch = [&] {
      for (int i = 0; i < steps; ++i) {
        for (auto& v : images) v = static_cast<float>(rng() & 255) / 255.0f;
        for (auto& v : labels) v = static_cast<float>(rng() % 10);
        env.write_parameter(x, images);
        env.write_parameter(y, labels);
        env.run(train, static_cast<uint32_t>(i));
        if (profile && timed) {
          auto t = env.last_timings(train);
          kernel_ms.resize(t.size());
          for (size_t k = 0; k < t.size(); ++k) kernel_ms[k].push_back(t[k].ms);
        }
      }
      env.wait_idle();
    };
    epoch();  // warm-up (pipelines, first-touch of buffers)
    timed = true;
    double best = 1e30;
    for (int e = 0; e < epochs; ++e) {
      auto t0 = std::chrono::steady_clock::now();
      epoch();
      double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
      best = std::min(best, ms);
    }
    std::printf("%s,%zu,%.3f,%.2f,%.0f\n", name.c_str(), train.kernel_count(), best / steps, best,
                steps * m / best * 1e3);
    std::fflush(stdout);
    if (profile) {
      auto labels = train.kernel_labels();
      double total = 0;
      for (size_t k = 0; k < kernel_ms.size(); ++k) {
        auto& v = kernel_ms[k];
        std::sort(v.begin(), v.end());
        double med = v[v.size() / 2];
        total += med;
        std::fprintf(stderr, "%3zu %10.3f ms  %s\n", k, med, labels[k].c_str());
      }
      std::fprintf(stderr, "sum of kernel medians: %.3f ms\n", total);
    }
  }
  return 0;
}
