// Training-step benchmark on random data, shaped like bench/torch_best.py:
// Fashion-MNIST networks (batch 1000, Adam lr 0.005, one "epoch" = 60 steps) and the image_fit
// networks (relu, relu-pe, siren, multi-hash: steps of batch 16384, Adam lr 0.02, beta2 0.99).
// Usage: bench_train [network ...] [--epochs N] [--steps S]. Prints CSV rows
// network,kernels,step_ms,epoch_ms,images_per_s (best of N repetitions of S steps). Timings: host
// wall clock with the GPU kept busy (runs queued back to back). As in the PyTorch script, the
// 60,000 images live on the device; each step uploads 1000 shuffled indices and gathers its batch.
// --profile (needs DESCENT_DEBUG=2 for timestamps): after the CSV row, every kernel's median GPU
// time over the timed steps, in execution order, on stderr.
#include <descent/descent.hpp>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "../examples/fashion_mnist/networks.hpp"
#include "../examples/image_fit/networks.hpp"

namespace {
/// image_fit networks: random coordinates and colours (batch 16384, Adam lr 0.02, beta2 0.99).
void bench_image_fit(descent::Environment& env, const std::string& name, int reps, int steps) {
  const int64_t m = 1 << 14;
  std::mt19937 rng(2);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  std::vector<float> p(static_cast<size_t>(m * 2)), c(static_cast<size_t>(m * 3));
  for (auto& v : p) v = u(rng);
  for (auto& v : c) v = (u(rng) + 1.0f) * 0.5f;
  auto net = image_fit::make_network(name, env);
  auto xp = env.static_parameter_with_data({m, 2}, "P", p);
  auto yc = env.static_parameter_with_data({m, 3}, "C", c);
  descent::AdamOptions ao;
  ao.beta2 = 0.99;
  descent::Adam adam(env, net->parameters(), ao);
  auto train = env.build_graph([&](descent::Scope& s) {
    auto out = s.parameter(xp).apply(*net, descent::EvalContext::train());
    (out - descent::DualArray(s.parameter_value(yc))).square().reduce_sum(-1, true).set_loss();
    adam.step(s, 0.02f);
  });
  auto run = [&] {
    for (int i = 0; i < steps; ++i) env.run(train, static_cast<uint32_t>(i));
    env.wait_idle();
  };
  run();
  double best = 1e30;
  for (int r = 0; r < reps; ++r) {
    auto t0 = std::chrono::steady_clock::now();
    run();
    best = std::min(best, std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  if (std::getenv("DESCENT_DEBUG")) {
    for (const auto& k : env.last_timings(train)) std::fprintf(stderr, "kernel %8.3f ms  %s\n", k.ms, k.label.c_str());
  }
  std::printf("image_fit_%s,%zu,%.3f,%.2f,%.0f\n", name.c_str(), train.kernel_count(), best / steps, best,
              steps * m / best * 1e3);
  std::fflush(stdout);
}
}  // namespace

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
  std::printf("network,kernels,step_ms,epoch_ms,images_per_s\n");
  const int m = 1000;
  const int n = 60000;
  std::mt19937 rng(1);
  std::vector<float> images(static_cast<size_t>(n) * 784), labels(n);
  for (auto& v : images) v = static_cast<float>(rng() & 255) / 255.0f;
  for (auto& v : labels) v = static_cast<float>(rng() % 10);
  std::vector<uint32_t> order(n);
  for (int i = 0; i < n; ++i) order[static_cast<size_t>(i)] = static_cast<uint32_t>(i);
  for (const std::string& name : nets) {
    descent::Environment env;  // one per workload: parameter names are unique per Environment
    std::fprintf(stderr, "device: %s\n", env.device_name().c_str());
    if (name == "relu" || name == "relu-pe" || name == "siren" || name == "multi-hash") {
      bench_image_fit(env, name, epochs, steps);
      continue;
    }
    auto net = fashion::make_network(name, env);
    auto x = env.static_parameter_with_data({n, 28, 28, 1}, "x", images);
    auto y = env.static_parameter_with_data({n}, "y", labels);
    auto idx = env.static_parameter({m}, "batch_indices", descent::DType::kU32);
    descent::Adam adam(env, net->parameters());
    auto train = env.build_graph([&](descent::Scope& s) {
      auto batch = s.parameter_value(idx);
      auto logits = descent::DualArray(s.parameter_value(x).gather(0, batch)).apply(*net, descent::EvalContext::train());
      descent::softmax_cross_entropy(logits, s.parameter_value(y).gather(0, batch)).set_loss();
      adam.step(s, 0.005f);
    });
    std::vector<std::vector<double>> kernel_ms;  // [kernel][timed step]
    bool timed = false;
    auto epoch = [&] {
      std::shuffle(order.begin(), order.end(), rng);
      for (int i = 0; i < steps; ++i) {
        env.write_parameter(idx, std::span<const uint32_t>(&order[static_cast<size_t>((i * m) % n)], m));
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
    if (std::getenv("DESCENT_DEBUG")) {
      for (const auto& k : env.last_timings(train)) std::fprintf(stderr, "kernel %8.3f ms  %s\n", k.ms, k.label.c_str());
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
