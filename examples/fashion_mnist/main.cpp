// fashion_mnist: trains the original descent's four Fashion-MNIST networks (linear, single-layer,
// conv-net, conv-blur-net) with the module API, reporting loss and accuracy per epoch, a CSV in
// the original's columns, optional .dot drawings, timings and a safetensors checkpoint.
// Uses only the public headers. Data: tools/fetch-data.sh (or --data-dir with the four IDX files).
#include <CLI/CLI.hpp>
#include <descent/descent.hpp>
#include <descent/io.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <random>
#include <string>
#include <unistd.h>
#include <vector>

#include "networks.hpp"

namespace {

struct Dataset {
  int64_t count = 0;
  std::vector<float> images;  // count x 784, pixels / 255
  std::vector<float> labels;
};

Dataset load(const std::string& dir, const std::string& prefix) {
  Dataset d;
  auto img = descent::read_idx_images(dir + "/" + prefix + "-images-idx3-ubyte.gz");
  auto lab = descent::read_idx_labels(dir + "/" + prefix + "-labels-idx1-ubyte.gz");
  if (img.rows != 28 || img.cols != 28 || img.count != static_cast<int64_t>(lab.size())) {
    throw descent::FormatError("fashion_mnist: " + dir + "/" + prefix + ": expected 28x28 images and "
                               "one label per image, got " + std::to_string(img.count) + " images of " +
                               std::to_string(img.rows) + "x" + std::to_string(img.cols) + " and " +
                               std::to_string(lab.size()) + " labels");
  }
  d.count = img.count;
  d.images.resize(img.pixels.size());
  for (size_t i = 0; i < img.pixels.size(); ++i) d.images[i] = static_cast<float>(img.pixels[i]) / 255.0f;
  d.labels.assign(lab.begin(), lab.end());
  return d;
}

double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Train a Fashion-MNIST classifier with descent"};
  std::string network = "conv-net", optimizer = "adam", data_dir = "data/fashion_mnist", csv, dot_dir, save;
  int epochs = 40, batch = 1000, trials = 1;
  uint64_t seed = 0;
  float weight_decay = 1e-8f;
  bool quiet = false, timings = false, demo = false;
  double max_seconds = 0;
  app.add_option("network", network, "linear | single-layer | conv-net | conv-blur-net")
      ->check(CLI::IsMember({"linear", "single-layer", "conv-net", "conv-blur-net"}));
  app.add_option("-o,--optimizer", optimizer, "adam (lr 0.005) | sgd (lr 0.1, momentum 0.9)")
      ->check(CLI::IsMember({"adam", "sgd"}));
  app.add_option("-e,--epochs", epochs, "epochs per trial")->check(CLI::PositiveNumber);
  app.add_option("-m,--batch", batch, "mini-batch size")->check(CLI::PositiveNumber);
  app.add_option("-t,--trials", trials, "independent trials (seeds seed, seed+1, ...)")->check(CLI::PositiveNumber);
  app.add_option("-s,--seed", seed, "seed of the first trial");
  app.add_option("-w,--weight-decay", weight_decay, "L2 weight decay");
  app.add_option("--data-dir", data_dir, "folder with the four Fashion-MNIST IDX files");
  app.add_option("--csv", csv, "CSV file: epoch, train_loss, test_loss, train_accuracy, test_accuracy");
  app.add_option("--dot", dot_dir, "write train/test graph drawings (.dot) into this folder");
  app.add_option("--save", save, "write the trained parameters to this safetensors file");
  app.add_option("--max-seconds", max_seconds, "stop training after this much time (then test), the learning rate "
                 "decaying linearly to 5% over it; 0: no limit");
  app.add_flag("--demo", demo, "3 epochs; on a CPU device batch 100 and at most 200 s of training");
  app.add_flag("--timings", timings, "print per-kernel GPU times of the first two epochs");
  app.add_flag("-q,--quiet", quiet, "only the final summary");
  CLI11_PARSE(app, argc, argv);

  try {
    Dataset train = load(data_dir, "train"), test = load(data_dir, "t10k");
    descent::Environment env;
    if (demo) {
      epochs = 3;
      if (env.device_is_cpu()) {
        batch = 100;
        if (max_seconds == 0) max_seconds = 200;
        std::printf("demo: no GPU, training on the CPU (%s) for at most %.0f s\n",
                    env.device_name().c_str(), max_seconds);
      }
    }
    std::printf("device: %s\nnetwork: %s, optimizer: %s, batch %d, %d epochs, %d trial%s\n",
                env.device_name().c_str(), network.c_str(), optimizer.c_str(), batch, epochs, trials,
                trials == 1 ? "" : "s");
    auto net = fashion::make_network(network, env);
    // The datasets live on the device; each step uploads only its shuffled image indices and
    // gathers the batch there.
    const int64_t m = batch, test_m = test.count % batch == 0 ? batch : 1000;
    auto train_x = env.static_parameter_with_data({train.count, 28, 28, 1}, "train_x", train.images);
    auto train_y = env.static_parameter_with_data({train.count}, "train_y", train.labels);
    auto test_x = env.static_parameter_with_data({test.count, 28, 28, 1}, "test_x", test.images);
    auto test_y = env.static_parameter_with_data({test.count}, "test_y", test.labels);
    auto idx = env.static_parameter({m}, "batch", descent::DType::kU32);
    auto test_idx = env.static_parameter({test_m}, "test_batch", descent::DType::kU32);
    auto lr_scale = env.static_parameter({1}, "lr_scale");
    auto loss_sum = env.static_parameter({1}, "loss_sum"), acc_sum = env.static_parameter({1}, "acc_sum");
    auto norm = env.static_parameter({1}, "norm");
    std::unique_ptr<descent::Optimizer> opt;
    if (optimizer == "adam") opt = std::make_unique<descent::Adam>(env, net->parameters(), descent::AdamOptions{0.9, 0.999, 1e-8f, weight_decay});
    else opt = std::make_unique<descent::Sgd>(env, net->parameters(), descent::SgdOptions{0.9f, weight_decay});
    const float base_lr = optimizer == "adam" ? 0.005f : 0.1f;

    auto add_stats = [&](descent::Scope& s, const descent::DualArray& logits, const descent::Array& labels,
                         const descent::Array& loss) {
      s.write_parameter_value(loss_sum, s.parameter_value(loss_sum) + loss.reduce_sum(0).reshape({1}));
      auto acc = descent::accuracy(logits.value(), labels).reduce_sum(0).reshape({1});
      s.write_parameter_value(acc_sum, s.parameter_value(acc_sum) + acc);
    };
    auto train_graph = env.build_graph([&](descent::Scope& s) {
      auto b = s.parameter_value(idx);
      auto logits = descent::DualArray(s.parameter_value(train_x).gather(0, b)).apply(*net, descent::EvalContext::train());
      auto labels = s.parameter_value(train_y).gather(0, b);
      auto loss = descent::softmax_cross_entropy(logits, labels);
      add_stats(s, logits, labels, loss.set_loss());
      opt->step(s, base_lr * s.parameter_value(lr_scale));
    });
    auto test_graph = env.build_graph([&](descent::Scope& s) {
      auto b = s.parameter_value(test_idx);
      auto logits = descent::DualArray(s.parameter_value(test_x).gather(0, b)).apply(*net, descent::EvalContext::test());
      auto labels = s.parameter_value(test_y).gather(0, b);
      add_stats(s, logits, labels, descent::softmax_cross_entropy(logits, labels).value());
    });
    auto norm_graph = env.build_graph([&](descent::Scope& s) {
      descent::Array total = s.literal(0.0f).reshape({1});
      for (const auto& p : net->parameters()) {
        auto v = s.parameter_value(p).reshape({p.shape().element_count()});
        total = total + (0.5f * v * v).reduce_sum(0).reshape({1});
      }
      s.write_parameter_value(norm, total);
    });
    std::printf("train graph: %zu kernels, test graph: %zu kernels\n", train_graph.kernel_count(),
                test_graph.kernel_count());
    if (!dot_dir.empty()) {
      train_graph.write_dot(dot_dir + "/fashion_mnist_" + network + "_train.dot");
      test_graph.write_dot(dot_dir + "/fashion_mnist_" + network + "_test.dot");
    }
    std::FILE* csv_file = csv.empty() ? nullptr : std::fopen(csv.c_str(), "w");
    if (!csv.empty() && !csv_file) throw descent::UsageError("fashion_mnist: cannot write " + csv);
    const bool tty = isatty(STDERR_FILENO) && !quiet;
    const int64_t train_batches = train.count / m, test_batches = test.count / test_m;
    std::vector<uint32_t> test_batch_idx(static_cast<size_t>(test_m));
    double final_test_acc = 0;
    const double t_begin = now_s();
    bool out_of_time = false;

    for (int trial = 0; trial < trials; ++trial) {
      std::mt19937_64 rng(seed + static_cast<uint64_t>(trial));
      env.reset_parameters(seed + static_cast<uint64_t>(trial));
      opt->reset(env);
      if (csv_file) std::fprintf(csv_file, "# epoch, train_loss, test_loss, train_accuracy, test_accuracy\n");
      std::vector<uint32_t> order(static_cast<size_t>(train.count));
      for (int64_t i = 0; i < train.count; ++i) order[static_cast<size_t>(i)] = static_cast<uint32_t>(i);
      for (int epoch = 0; epoch < epochs; ++epoch) {
        const double schedule = std::pow(0.5, epoch / 40.0);
        env.write_parameter(lr_scale, {static_cast<float>(schedule)});
        env.write_parameter(loss_sum, {0.0f});
        env.write_parameter(acc_sum, {0.0f});
        for (int64_t i = train.count - 1; i > 0; --i)  // Fisher-Yates with the trial's generator
          std::swap(order[static_cast<size_t>(i)], order[static_cast<size_t>(rng() % static_cast<uint64_t>(i + 1))]);
        double t0 = now_s();
        int64_t done = 0;
        for (int64_t b = 0; b < train_batches && !out_of_time; ++b) {
          env.write_parameter(idx, std::span<const uint32_t>(&order[static_cast<size_t>(b * m)], static_cast<size_t>(m)));
          env.run(train_graph, static_cast<uint32_t>(rng()));
          done = b + 1;
          if (max_seconds > 0 && b % 4 == 3) {
            env.wait_idle();
            // A time budget: the learning rate falls linearly to 5% of the schedule over it, so
            // the model is not caught mid-oscillation when time runs out.
            double used = (now_s() - t_begin) / max_seconds;
            out_of_time = used > 1.0;
            env.write_parameter(lr_scale, {static_cast<float>(schedule * std::max(0.05, 1.0 - used))});
          }
          if (tty && (b % 4 == 3 || b + 1 == train_batches)) {
            double dt = now_s() - t0;
            std::fprintf(stderr, "\r  epoch %d/%d  batch %lld/%lld  %.0f images/s   ", epoch + 1, epochs,
                         static_cast<long long>(b + 1), static_cast<long long>(train_batches),
                         static_cast<double>((b + 1) * m) / dt);
          }
        }
        float train_loss = env.read_parameter_scalar(loss_sum) / static_cast<float>(std::max<int64_t>(done, 1) * m);
        float train_acc = env.read_parameter_scalar(acc_sum) / static_cast<float>(std::max<int64_t>(done, 1) * m);
        double train_s = now_s() - t0;
        if (timings && epoch < 2) {
          for (const auto& k : env.last_timings(train_graph)) std::printf("  %8.3f ms  %s\n", k.ms, k.label.c_str());
        }
        env.write_parameter(loss_sum, {0.0f});
        env.write_parameter(acc_sum, {0.0f});
        for (int64_t b = 0; b < test_batches; ++b) {
          for (int64_t i = 0; i < test_m; ++i) test_batch_idx[static_cast<size_t>(i)] = static_cast<uint32_t>(b * test_m + i);
          env.write_parameter(test_idx, test_batch_idx);
          env.run(test_graph);
        }
        float test_loss = env.read_parameter_scalar(loss_sum) / static_cast<float>(test_batches * test_m);
        float test_acc = env.read_parameter_scalar(acc_sum) / static_cast<float>(test_batches * test_m);
        env.run(norm_graph);
        float w_norm = std::sqrt(env.read_parameter_scalar(norm));
        final_test_acc = test_acc;
        if (tty) std::fprintf(stderr, "\r%70s\r", "");
        if (!quiet) {
          std::printf("epoch: %d, loss: %.5f/%.5f, accuracy: %.4f/%.4f, w_norm: %.3f (%.1f s, %.0f images/s)\n",
                      epoch + 1, train_loss, test_loss, train_acc, test_acc, w_norm, train_s,
                      static_cast<double>(std::max<int64_t>(done, 1) * m) / train_s);
          std::fflush(stdout);
        }
        if (csv_file) std::fprintf(csv_file, "%d, %.6f, %.6f, %.6f, %.6f\n", epoch + 1, train_loss, test_loss, train_acc, test_acc);
        if (out_of_time) {
          std::printf("time limit of %.0f s reached after %lld batches of epoch %d\n", max_seconds,
                      static_cast<long long>(done), epoch + 1);
          break;
        }
      }
      if (csv_file) std::fprintf(csv_file, "\n");
      std::printf("trial %d: test accuracy %.2f%%\n", trial + 1, 100.0 * final_test_acc);
    }
    if (csv_file) std::fclose(csv_file);
    if (!save.empty()) {
      descent::save_parameters(env, save, net->parameters());
      std::printf("parameters written to %s\n", save.c_str());
    }
    return 0;
  } catch (const descent::Error& e) {
    std::fprintf(stderr, "fashion_mnist: %s\n", e.what());
    return 1;
  }
}
