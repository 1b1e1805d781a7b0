// fashion_mnist: trains the original descent's four Fashion-MNIST networks (linear, single-layer,
// conv-net, conv-blur-net) with the module API, reporting loss and accuracy per epoch, a CSV in
// the original's columns, optional .dot drawings, timings, a safetensors checkpoint and a
// resumable training state. Uses only the public headers. Data: tools/fetch-data.sh (or
// --data-dir with the four IDX files). Output paths are checked before anything is trained.
#include <CLI/CLI.hpp>
#include <descent/descent.hpp>
#include <descent/io.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <memory>
#include <random>
#include <string>
#include <unistd.h>
#include <vector>

#include "../common/cli_checks.hpp"
#include "networks.hpp"

namespace {

struct Options {
  std::string network = "conv-net", optimizer = "adam", data_dir = "data/fashion_mnist";
  std::string csv, dot_dir, save, save_state, resume;
  int epochs = 40, batch = 1000, trials = 1;
  uint64_t seed = 0;
  float weight_decay = 1e-8f;
  bool quiet = false, timings = false, demo = false;
  double max_seconds = 0;
};

struct Dataset {
  int64_t count = 0;
  std::vector<float> images;  // count x 784, pixels / 255
  std::vector<float> labels;  // class indices 0..9
};

/// Images and labels of one split; FormatError names the file for a wrong size or a label >= 10.
Dataset load(const std::string& dir, const std::string& prefix) {
  Dataset d;
  auto img = descent::read_idx_images(dir + "/" + prefix + "-images-idx3-ubyte.gz");
  auto lab = descent::read_idx_labels(dir + "/" + prefix + "-labels-idx1-ubyte.gz", 10);
  if (img.rows != 28 || img.cols != 28 || img.count != static_cast<int64_t>(lab.size()) || img.count == 0) {
    throw descent::FormatError("fashion_mnist: " + dir + "/" + prefix + ": expected 28x28 images and "
                               "one label per image (at least one), got " + std::to_string(img.count) +
                               " images of " + std::to_string(img.rows) + "x" + std::to_string(img.cols) +
                               " and " + std::to_string(lab.size()) + " labels");
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

struct Stats {
  float loss = 0, accuracy = 0;
  int64_t examples = 0, batches = 0;  // what the sums cover
};

/// The network, its optimiser, the data on the device and the compiled graphs.
class Classifier {
 public:
  Classifier(descent::Environment& env, const Options& o, const Dataset& train, const Dataset& test);
  /// One epoch over `order` (its full batches); `t_begin` and `out_of_time` serve --max-seconds.
  Stats train_epoch(const std::vector<uint32_t>& order, std::mt19937_64& rng, double schedule,
                    int epoch, double t_begin, bool* out_of_time);
  /// Every test example exactly once: full batches, then one graph for the remainder.
  Stats test();
  float weight_norm();
  void write_dots(const std::string& dir) const;

  std::unique_ptr<descent::Sequential> net;
  std::unique_ptr<descent::Optimizer> opt;
  descent::Graph train_graph, test_graph, tail_graph, norm_graph;
  int64_t m, test_m, train_batches, test_batches, tail;

 private:
  descent::Graph build_test(const descent::Parameter& indices);
  void add_stats(descent::Scope& s, const descent::DualArray& logits, const descent::Array& labels,
                 const descent::Array& loss);
  descent::Environment& env_;
  const Options& o_;
  int64_t train_count_, test_count_;
  descent::Parameter train_x_, train_y_, test_x_, test_y_, idx_, test_idx_, tail_idx_, lr_scale_;
  descent::Parameter loss_sum_, acc_sum_, norm_;
};

Classifier::Classifier(descent::Environment& env, const Options& o, const Dataset& train, const Dataset& test)
    : env_(env), o_(o), train_count_(train.count), test_count_(test.count) {
  net = fashion::make_network(o.network, env);
  // The datasets live on the device; each step uploads only its shuffled image indices and
  // gathers the batch there. The test batch is the training batch when it divides the test set,
  // else 1000 (the original's choice), and a second graph takes the remainder.
  m = o.batch;
  test_m = std::min<int64_t>(test.count % m == 0 ? m : 1000, test.count);
  train_batches = train.count / m;  // a last partial batch is left out (a different one each epoch)
  test_batches = test.count / test_m;
  tail = test.count % test_m;
  train_x_ = env.static_parameter_with_data({train.count, 28, 28, 1}, "train_x", train.images);
  train_y_ = env.static_parameter_with_data({train.count}, "train_y", train.labels);
  test_x_ = env.static_parameter_with_data({test.count, 28, 28, 1}, "test_x", test.images);
  test_y_ = env.static_parameter_with_data({test.count}, "test_y", test.labels);
  idx_ = env.static_parameter({m}, "batch", descent::DType::kU32);
  test_idx_ = env.static_parameter({test_m}, "test_batch", descent::DType::kU32);
  lr_scale_ = env.static_parameter({1}, "lr_scale");
  loss_sum_ = env.static_parameter({1}, "loss_sum");
  acc_sum_ = env.static_parameter({1}, "acc_sum");
  norm_ = env.static_parameter({1}, "norm");
  if (o.optimizer == "adam")
    opt = std::make_unique<descent::Adam>(env, net->parameters(), descent::AdamOptions{0.9, 0.999, 1e-8f, o.weight_decay});
  else
    opt = std::make_unique<descent::Sgd>(env, net->parameters(), descent::SgdOptions{0.9f, o.weight_decay});
  const float base_lr = o.optimizer == "adam" ? 0.005f : 0.1f;
  train_graph = env.build_graph([&](descent::Scope& s) {
    auto b = s.parameter_value(idx_);
    auto logits = descent::DualArray(s.parameter_value(train_x_).gather(0, b)).apply(*net, descent::EvalContext::train());
    auto labels = s.parameter_value(train_y_).gather(0, b);
    auto loss = descent::softmax_cross_entropy(logits, labels).set_loss();
    loss.check_finite("fashion_mnist training loss");  // NaN/Inf: the next read throws
    add_stats(s, logits, labels, loss);
    opt->step(s, base_lr * s.parameter_value(lr_scale_));
  });
  test_graph = build_test(test_idx_);
  if (tail > 0) {
    tail_idx_ = env.static_parameter({tail}, "test_tail", descent::DType::kU32);
    tail_graph = build_test(tail_idx_);
  }
  norm_graph = env.build_graph([&](descent::Scope& s) {
    descent::Array total = s.literal(0.0f).reshape({1});
    for (const auto& p : net->parameters()) {
      auto v = s.parameter_value(p).reshape({p.shape().element_count()});
      total = total + (0.5f * v * v).reduce_sum(0).reshape({1});
    }
    s.write_parameter_value(norm_, total);
  });
}

void Classifier::add_stats(descent::Scope& s, const descent::DualArray& logits, const descent::Array& labels,
                           const descent::Array& loss) {
  s.write_parameter_value(loss_sum_, s.parameter_value(loss_sum_) + loss.reduce_sum(0).reshape({1}));
  auto acc = descent::accuracy(logits.value(), labels).reduce_sum(0).reshape({1});
  s.write_parameter_value(acc_sum_, s.parameter_value(acc_sum_) + acc);
}

descent::Graph Classifier::build_test(const descent::Parameter& indices) {
  return env_.build_graph([&](descent::Scope& s) {
    auto b = s.parameter_value(indices);
    auto logits = descent::DualArray(s.parameter_value(test_x_).gather(0, b)).apply(*net, descent::EvalContext::test());
    auto labels = s.parameter_value(test_y_).gather(0, b);
    add_stats(s, logits, labels, descent::softmax_cross_entropy(logits, labels).value());
  });
}

Stats Classifier::train_epoch(const std::vector<uint32_t>& order, std::mt19937_64& rng, double schedule,
                              int epoch, double t_begin, bool* out_of_time) {
  env_.write_parameter(lr_scale_, {static_cast<float>(schedule)});
  env_.write_parameter(loss_sum_, {0.0f});
  env_.write_parameter(acc_sum_, {0.0f});
  const bool tty = isatty(STDERR_FILENO) && !o_.quiet;
  const double t0 = now_s();
  int64_t done = 0;
  for (int64_t b = 0; b < train_batches && !*out_of_time; ++b) {
    env_.write_parameter(idx_, std::span<const uint32_t>(&order[static_cast<size_t>(b * m)], static_cast<size_t>(m)));
    env_.run(train_graph, static_cast<uint32_t>(rng()));
    done = b + 1;
    if (o_.max_seconds > 0 && b % 4 == 3) {
      env_.wait_idle();
      // A time budget: the learning rate falls linearly to 5% of the schedule over it, so the
      // model is not caught mid-oscillation when time runs out.
      double used = (now_s() - t_begin) / o_.max_seconds;
      *out_of_time = used > 1.0;
      env_.write_parameter(lr_scale_, {static_cast<float>(schedule * std::max(0.05, 1.0 - used))});
    }
    if (tty && (b % 4 == 3 || b + 1 == train_batches)) {
      std::fprintf(stderr, "\r  epoch %d/%d  batch %lld/%lld  %.0f images/s   ", epoch + 1, o_.epochs,
                   static_cast<long long>(b + 1), static_cast<long long>(train_batches),
                   static_cast<double>((b + 1) * m) / (now_s() - t0));
    }
  }
  Stats st;
  st.batches = done;
  st.examples = std::max<int64_t>(done, 1) * m;
  st.loss = env_.read_parameter_scalar(loss_sum_) / static_cast<float>(st.examples);
  st.accuracy = env_.read_parameter_scalar(acc_sum_) / static_cast<float>(st.examples);
  return st;
}

Stats Classifier::test() {
  env_.write_parameter(loss_sum_, {0.0f});
  env_.write_parameter(acc_sum_, {0.0f});
  std::vector<uint32_t> ids(static_cast<size_t>(test_m));
  for (int64_t b = 0; b < test_batches; ++b) {
    for (int64_t i = 0; i < test_m; ++i) ids[static_cast<size_t>(i)] = static_cast<uint32_t>(b * test_m + i);
    env_.write_parameter(test_idx_, ids);
    env_.run(test_graph);
  }
  if (tail > 0) {
    std::vector<uint32_t> rest(static_cast<size_t>(tail));
    for (int64_t i = 0; i < tail; ++i) rest[static_cast<size_t>(i)] = static_cast<uint32_t>(test_batches * test_m + i);
    env_.write_parameter(tail_idx_, rest);
    env_.run(tail_graph);
  }
  Stats st;
  st.examples = test_count_;
  st.loss = env_.read_parameter_scalar(loss_sum_) / static_cast<float>(test_count_);
  st.accuracy = env_.read_parameter_scalar(acc_sum_) / static_cast<float>(test_count_);
  return st;
}

float Classifier::weight_norm() {
  env_.run(norm_graph);
  return std::sqrt(env_.read_parameter_scalar(norm_));
}

void Classifier::write_dots(const std::string& dir) const {
  train_graph.write_dot(dir + "/fashion_mnist_" + o_.network + "_train.dot");
  test_graph.write_dot(dir + "/fashion_mnist_" + o_.network + "_test.dot");
}

/// Probes every output before any data is read or anything is trained.
void check_outputs(const Options& o) {
  if (!o.save.empty()) examples::check_output_file("--save", o.save);
  if (!o.save_state.empty()) examples::check_output_file("--save-state", o.save_state);
  if (!o.csv.empty()) examples::check_output_file("--csv", o.csv);
  if (!o.dot_dir.empty()) examples::check_output_dir("--dot", o.dot_dir);
  if (!o.resume.empty() && !std::ifstream(o.resume))
    throw descent::UsageError("--resume " + o.resume + ": cannot open the file");
  if (!o.resume.empty() && o.max_seconds > 0) {
    throw descent::UsageError("--resume with --max-seconds: the time budget's schedule depends on "
                              "wall-clock time, so a resumed run could not continue it; drop one");
  }
}

void parse(CLI::App& app, Options& o) {
  app.add_option("network", o.network, "linear | single-layer | conv-net | conv-blur-net")
      ->check(CLI::IsMember({"linear", "single-layer", "conv-net", "conv-blur-net"}));
  app.add_option("-o,--optimizer", o.optimizer, "adam (lr 0.005) | sgd (lr 0.1, momentum 0.9)")
      ->check(CLI::IsMember({"adam", "sgd"}));
  app.add_option("-e,--epochs", o.epochs, "epochs per trial")->check(CLI::PositiveNumber);
  app.add_option("-m,--batch", o.batch, "mini-batch size")->check(CLI::PositiveNumber);
  app.add_option("-t,--trials", o.trials, "independent trials (seeds seed, seed+1, ...)")->check(CLI::PositiveNumber);
  app.add_option("-s,--seed", o.seed, "seed of the first trial");
  app.add_option("-w,--weight-decay", o.weight_decay, "L2 weight decay");
  app.add_option("--data-dir", o.data_dir, "folder with the four Fashion-MNIST IDX files");
  app.add_option("--csv", o.csv, "CSV file: epoch, train_loss, test_loss, train_accuracy, test_accuracy");
  app.add_option("--dot", o.dot_dir, "write train/test graph drawings (.dot) into this folder");
  app.add_option("--save", o.save, "write the trained parameters to this safetensors file");
  app.add_option("--save-state", o.save_state, "after every epoch, write everything needed to resume "
                 "(parameters, optimiser state, data order, generator, epoch) to this file");
  app.add_option("--resume", o.resume, "continue the run whose --save-state file this is, bit for bit as "
                 "if it had not stopped (same network, optimizer, batch, seed and data)");
  app.add_option("--max-seconds", o.max_seconds, "stop training after this much time (then test), the learning rate "
                 "decaying linearly to 5% over it; 0: no limit");
  app.add_flag("--demo", o.demo, "3 epochs; on a CPU device batch 100 and at most 200 s of training");
  app.add_flag("--timings", o.timings, "print per-kernel GPU times of the first two epochs");
  app.add_flag("-q,--quiet", o.quiet, "only the final summary");
}

/// Where a run is: the trial, the next epoch of it, the data order and generator, and the last
/// test accuracy. All of it (plus parameters and optimiser state) goes into --save-state.
struct Position {
  int trial = 0, epoch = 0;
  std::mt19937_64 rng;
  std::vector<uint32_t> order;
  double test_accuracy = 0;
};

std::string exact(float x) {
  char text[32];
  std::snprintf(text, sizeof(text), "%.9g", static_cast<double>(x));  // 9 digits: every float differs
  return text;
}

descent::TrainingState make_state(const Options& o, Classifier& c, Position& pos, const Dataset& train,
                                  const Dataset& test) {
  descent::TrainingState state;
  state.add(c.net->parameters()).add(*c.opt).add("trial", pos.trial).add("epoch", pos.epoch)
      .add("rng", pos.rng).add("order", pos.order).add("test_accuracy", pos.test_accuracy)
      .require("network", o.network).require("optimizer", o.optimizer)
      .require("batch", std::to_string(o.batch)).require("seed", std::to_string(o.seed))
      .require("weight_decay", exact(o.weight_decay))
      .require("data", std::to_string(train.count) + " training, " + std::to_string(test.count) + " test images");
  return state;
}

/// One epoch of training and testing, printed and written to the CSV. Returns false when the
/// time budget ran out.
bool run_epoch(const Options& o, descent::Environment& env, Classifier& c, Position& pos, int epoch,
               double t_begin, std::FILE* csv) {
  const double schedule = std::pow(0.5, epoch / 40.0);
  for (int64_t i = static_cast<int64_t>(pos.order.size()) - 1; i > 0; --i)  // Fisher-Yates, the trial's generator
    std::swap(pos.order[static_cast<size_t>(i)], pos.order[static_cast<size_t>(pos.rng() % static_cast<uint64_t>(i + 1))]);
  bool out_of_time = false;
  double t0 = now_s();
  Stats train;
  try {
    train = c.train_epoch(pos.order, pos.rng, schedule, epoch, t_begin, &out_of_time);
  } catch (const descent::NonFiniteError& e) {
    throw descent::NonFiniteError("training diverged in epoch " + std::to_string(epoch + 1) + " of trial " +
                                  std::to_string(pos.trial + 1) + ": " + e.what() +
                                  "; lower the learning rate or the weight decay, or check the data");
  }
  double train_s = now_s() - t0;
  if (o.timings && epoch < 2)
    for (const auto& k : env.last_timings(c.train_graph)) std::printf("  %8.3f ms  %s\n", k.ms, k.label.c_str());
  Stats test = c.test();
  float w_norm = c.weight_norm();
  pos.test_accuracy = test.accuracy;
  if (isatty(STDERR_FILENO) && !o.quiet) std::fprintf(stderr, "\r%70s\r", "");
  if (!o.quiet) {
    std::printf("epoch: %d, loss: %.5f/%.5f, accuracy: %.4f/%.4f, w_norm: %.3f (%.1f s, %.0f images/s)\n",
                epoch + 1, train.loss, test.loss, train.accuracy, test.accuracy, w_norm, train_s,
                static_cast<double>(train.examples) / train_s);
    std::fflush(stdout);
  }
  if (csv) std::fprintf(csv, "%d, %.6f, %.6f, %.6f, %.6f\n", epoch + 1, train.loss, test.loss, train.accuracy, test.accuracy);
  if (out_of_time) {
    std::printf("time limit of %.0f s reached after %lld batches of epoch %d\n", o.max_seconds,
                static_cast<long long>(train.batches), epoch + 1);
    return false;
  }
  return true;
}

std::string count_of(int64_t n, const char* what) {
  return std::to_string(n) + " " + what + (n == 1 ? "" : "es");
}

void describe_data(const Classifier& c, const Dataset& train, const Dataset& test) {
  std::string text = "data: " + std::to_string(train.count) + " training images (" +
                     count_of(c.train_batches, "batch") + " of " + std::to_string(c.m) + " per epoch";
  if (train.count % c.m) text += ", " + std::to_string(train.count % c.m) + " left out each epoch";
  text += "), " + std::to_string(test.count) + " test images (" + count_of(c.test_batches, "batch") +
          " of " + std::to_string(c.test_m);
  if (c.tail) text += " and one of " + std::to_string(c.tail);
  std::printf("%s, each evaluated once)\n", text.c_str());
}

int train_and_test(Options& o) {
  check_outputs(o);
  Dataset train = load(o.data_dir, "train"), test = load(o.data_dir, "t10k");
  descent::Environment env;
  if (o.demo) {
    o.epochs = 3;
    if (env.device_is_cpu()) {
      o.batch = 100;
      if (o.max_seconds == 0) o.max_seconds = 200;
      std::printf("demo: no GPU, training on the CPU (%s) for at most %.0f s\n", env.device_name().c_str(), o.max_seconds);
    }
  }
  if (train.count < o.batch) {
    throw descent::UsageError("the training set has " + std::to_string(train.count) + " images, fewer than "
                              "one batch (--batch " + std::to_string(o.batch) + "): use a smaller batch");
  }
  std::printf("device: %s\nnetwork: %s, optimizer: %s, batch %d, %d epochs, %d trial%s\n", env.device_name().c_str(),
              o.network.c_str(), o.optimizer.c_str(), o.batch, o.epochs, o.trials, o.trials == 1 ? "" : "s");
  Classifier c(env, o, train, test);
  describe_data(c, train, test);
  std::printf("train graph: %zu kernels, test graph: %zu kernels\n", c.train_graph.kernel_count(),
              c.test_graph.kernel_count());
  if (!o.dot_dir.empty()) c.write_dots(o.dot_dir);
  Position pos;
  descent::TrainingState state = make_state(o, c, pos, train, test);
  const bool resumed = !o.resume.empty();
  if (resumed) {
    state.load(env, o.resume);
    std::printf("resumed %s: trial %d, after epoch %d\n", o.resume.c_str(), pos.trial + 1, pos.epoch);
  }
  std::FILE* csv = o.csv.empty() ? nullptr : std::fopen(o.csv.c_str(), "w");
  if (!o.csv.empty() && !csv) throw descent::UsageError("--csv " + o.csv + ": cannot open for writing");
  const double t_begin = now_s();
  bool in_time = true;
  for (int trial = pos.trial; trial < o.trials && in_time; ++trial) {
    if (!resumed || trial != pos.trial) {  // a fresh trial; a resumed one has its state loaded
      pos = Position{trial, 0, std::mt19937_64(o.seed + static_cast<uint64_t>(trial)), {}, 0};
      for (int64_t i = 0; i < train.count; ++i) pos.order.push_back(static_cast<uint32_t>(i));
      env.reset_parameters(o.seed + static_cast<uint64_t>(trial));
      c.opt->reset(env);
    }
    if (csv) std::fprintf(csv, "# epoch, train_loss, test_loss, train_accuracy, test_accuracy\n");
    for (int epoch = pos.epoch; epoch < o.epochs && in_time; ++epoch) {
      in_time = run_epoch(o, env, c, pos, epoch, t_begin, csv);
      pos.epoch = epoch + 1;
      if (!o.save_state.empty()) state.save(env, o.save_state);
    }
    if (csv) std::fprintf(csv, "\n");
    std::printf("trial %d: test accuracy %.2f%%\n", trial + 1, 100.0 * pos.test_accuracy);
  }
  if (csv) std::fclose(csv);
  if (!o.save.empty()) {
    descent::save_parameters(env, o.save, c.net->parameters());
    std::printf("parameters written to %s\n", o.save.c_str());
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Train a Fashion-MNIST classifier with descent"};
  Options o;
  parse(app, o);
  CLI11_PARSE(app, argc, argv);
  try {
    return train_and_test(o);
  } catch (const descent::Error& e) {
    std::fprintf(stderr, "fashion_mnist: %s\n", e.what());
    return 1;
  }
}
