// Bit-exact resume: 2N training steps in one go give the same bits (every loss, every parameter)
// as N steps, TrainingState::save, then TrainingState::load in a fresh process and N more steps;
// for a conv-net with dropout (run seeds, shuffled order, a learning-rate schedule, Adam) and for
// the multi-resolution hash grid. Also what load refuses (a changed setup, a foreign file).
#include <fmt/format.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <random>

#include <descent/io.hpp>
#include <descent/training_state.hpp>

#include "support/harness.hpp"

namespace descent::testing {
namespace {

constexpr int kSteps = 3;  // N: the child process resumes after N of 2N steps
constexpr int64_t kExamples = 40, kBatch = 8;
const char* kChildEnv = "DESCENT_RESUME_CHILD";  // "<model> <state file> <output file>"

/// One training setup, built the same way in the parent and in the child process. Everything the
/// run depends on between steps is in `state`.
struct TrainingRun {
  Environment env;
  std::unique_ptr<Sequential> net;
  std::unique_ptr<Adam> adam;
  Parameter inputs, targets, idx, lr_scale, loss_sum;
  Graph step;
  std::mt19937_64 rng{1234};
  std::vector<uint32_t> order;
  int64_t position = kExamples;  // past the end: the first step shuffles
  uint64_t steps = 0;
  TrainingState state;

  explicit TrainingRun(const std::string& model) {
    env.reset_parameters(7);
    bool conv = model == "conv";
    net = std::make_unique<Sequential>();
    Shape example = conv ? Shape{12, 12, 1} : Shape{2};
    if (conv) {
      net->add(Conv2D::builder(1, 4, 3, 3).with_pad(1).build(env)).add(LeakyRelu(0.01f));
      net->add(MaxPool2D(2, 2)).add(Flatten()).add(Dropout(0.5f));
      net->add(Dense(env, 6 * 6 * 4, 10));
    } else {
      HashGridOptions o;
      o.levels = 4;
      o.max_entries = 256;
      o.max_resolution = 64;
      MultiHashGrid grid(env, o);
      int64_t features = grid.output_features();
      net->add(std::move(grid)).add(Dense(env, features, 16)).add(LeakyRelu(0.01f)).add(Dense(env, 16, 3));
    }
    int64_t per = example.element_count();
    std::vector<int64_t> all{kExamples};
    for (int i = 0; i < example.rank(); ++i) all.push_back(example[i]);
    inputs = env.static_parameter_with_data(Shape(all), "inputs", random_values(kExamples * per, 5, conv ? 0.0f : -0.99f, 0.99f));
    std::vector<float> t = random_values(kExamples * (conv ? 1 : 3), 6, 0.0f, conv ? 9.99f : 1.0f);
    if (conv) for (float& v : t) v = std::floor(v);  // class labels 0..9
    targets = env.static_parameter_with_data(conv ? Shape{kExamples} : Shape{kExamples, 3}, "targets", t);
    idx = env.static_parameter({kBatch}, "batch", DType::kU32);
    lr_scale = env.static_parameter({1}, "lr_scale");
    loss_sum = env.static_parameter({1}, "loss_sum");
    adam = std::make_unique<Adam>(env, net->parameters());
    step = env.build_graph([&](Scope& s) {
      Array b = s.parameter_value(idx);
      DualArray out = DualArray(s.parameter_value(inputs).gather(0, b)).apply(*net, EvalContext::train());
      Array target = s.parameter_value(targets).gather(0, b);
      DualArray loss = conv ? softmax_cross_entropy(out, target) : (out - target).square().reduce_sum(-1, true);
      Array l = loss.set_loss();
      l.check_finite("resume test loss");
      s.write_parameter_value(loss_sum, l.reduce_sum(0));
      adam->step(s, 0.01f * s.parameter_value(lr_scale));
    });
    for (uint32_t i = 0; i < kExamples; ++i) order.push_back(i);
    state.add(net->parameters()).add(*adam).add("rng", rng).add("order", order)
        .add("position", position).add("steps", steps).require("model", model);
  }

  /// `n` steps: a Fisher-Yates shuffle per epoch, a decaying schedule, a run seed per step.
  std::vector<float> train(int n) {
    std::vector<float> losses;
    for (int k = 0; k < n; ++k) {
      if (position + kBatch > kExamples) {
        for (int64_t i = kExamples - 1; i > 0; --i)
          std::swap(order[i], order[rng() % static_cast<uint64_t>(i + 1)]);
        position = 0;
      }
      env.write_parameter(idx, std::span<const uint32_t>(&order[position], kBatch));
      position += kBatch;
      env.write_parameter(lr_scale, {static_cast<float>(std::pow(0.8, static_cast<double>(steps)))});
      env.run(step, static_cast<uint32_t>(rng()));
      ++steps;
      losses.push_back(env.read_parameter_scalar(loss_sum));
    }
    return losses;
  }

  /// Every loss, then every trainable parameter and optimiser state value.
  std::vector<float> snapshot(const std::vector<float>& losses) {
    std::vector<float> all = losses;
    for (const Parameter& p : net->parameters()) for (float v : env.read_parameter(p)) all.push_back(v);
    for (const Parameter& p : adam->state_parameters()) for (float v : env.read_parameter(p)) all.push_back(v);
    return all;
  }
};

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * 4) == 0;
}

void write_floats(const std::string& path, const std::vector<float>& v) {
  std::ofstream f(path, std::ios::binary);
  f.write(reinterpret_cast<const char*>(v.data()), static_cast<std::streamsize>(v.size() * 4));
}

std::vector<float> read_floats(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::vector<char> bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  std::vector<float> v(bytes.size() / 4);
  std::memcpy(v.data(), bytes.data(), v.size() * 4);
  return v;
}

/// Only does work when started by BitExactAfterResumeInAFreshProcess (it skips otherwise).
TEST(Resume, ChildProcessHelper) {
  const char* spec = std::getenv(kChildEnv);
  if (!spec) GTEST_SKIP() << "helper for the resume tests";
  std::istringstream in(spec);
  std::string model, state_path, out_path;
  in >> model >> state_path >> out_path;
  TrainingRun run(model);
  run.state.load(run.env, state_path);
  auto losses = run.train(kSteps);
  write_floats(out_path, run.snapshot(losses));
  EXPECT_TRUE(run.env.validation_messages().empty());
}

void check_resume(const std::string& model) {
  if (std::getenv(kChildEnv)) GTEST_SKIP();
  std::vector<float> straight;
  {
    TrainingRun run(model);
    straight = run.snapshot(run.train(2 * kSteps));
    EXPECT_TRUE(run.env.validation_messages().empty());
  }
  std::string dir = fmt::format("{}/descent_resume_{}_{}", ::testing::TempDir(), model, getpid());
  std::filesystem::create_directories(dir);
  std::string state_path = dir + "/run.state", out = dir + "/child.bin";
  std::vector<float> first;
  {
    TrainingRun run(model);
    first = run.train(kSteps);
    run.state.save(run.env, state_path);
  }
  for (int k = 0; k < kSteps; ++k) EXPECT_EQ(first[k], straight[k]) << "step " << k;
  char exe[4096];
  ssize_t len = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
  ASSERT_GT(len, 0);
  exe[len] = 0;
  std::string cmd = fmt::format("{}='{} {} {}' '{}' --gtest_filter=Resume.ChildProcessHelper > '{}.log' 2>&1",
                                kChildEnv, model, state_path, out, exe, out);
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd << " (log: " << out << ".log)";
  std::vector<float> resumed = read_floats(out);
  // The child's losses are steps N..2N-1; its parameters are those after 2N steps.
  std::vector<float> want(straight.begin() + kSteps, straight.end());
  ASSERT_EQ(resumed.size(), want.size());
  for (int k = 0; k < kSteps; ++k) EXPECT_EQ(resumed[k], want[k]) << "loss of step " << kSteps + k;
  EXPECT_TRUE(same_bits(resumed, want)) << "parameters after the resumed run differ";
  std::filesystem::remove_all(dir);
}

TEST(Resume, ConvNetWithDropoutIsBitExactInAFreshProcess) { check_resume("conv"); }
TEST(Resume, HashGridIsBitExactInAFreshProcess) { check_resume("hash"); }

TEST(Resume, LoadChecksEverythingBeforeChangingAnything) {
  if (std::getenv(kChildEnv)) GTEST_SKIP();
  std::string dir = fmt::format("{}/descent_resume_checks_{}", ::testing::TempDir(), getpid());
  std::filesystem::create_directories(dir);
  Environment env;
  auto w = env.static_parameter_with_data({3}, "w", std::vector<float>{1, 2, 3});
  std::mt19937_64 rng(5);
  int64_t epoch = 4;
  double lr = 0.1;
  std::vector<uint32_t> order{0xffffffffu, 0, 70000, 3};
  TrainingState saved;
  saved.add({w}).add("rng", rng).add("epoch", epoch).add("lr", lr).add("order", order).require("net", "a");
  saved.save(env, dir + "/s");
  // A setup that differs: refused, and nothing was written.
  {
    int64_t e2 = 0;
    TrainingState other;
    other.add({w}).add("epoch", e2).require("net", "b");
    EXPECT_THROW(other.load(env, dir + "/s"), UsageError);
    EXPECT_EQ(e2, 0);
    int64_t missing = 0;
    TrainingState more;
    more.add("epoch", e2).add("missing", missing);
    EXPECT_THROW(more.load(env, dir + "/s"), FormatError);
    EXPECT_EQ(e2, 0) << "nothing is assigned when a value is missing";
  }
  // A plain checkpoint is not a training state.
  save_safetensors(dir + "/plain", {{"w", Shape{3}, {1, 2, 3}}});
  EXPECT_THROW(saved.load(env, dir + "/plain"), FormatError);
  // The exact values come back.
  env.write_parameter(w, {9, 9, 9});
  std::mt19937_64 expect = rng;
  (void)rng(), (void)rng();
  epoch = 0, lr = 0, order.clear();
  saved.load(env, dir + "/s");
  EXPECT_EQ(env.read_parameter(w), (std::vector<float>{1, 2, 3}));
  EXPECT_TRUE(rng == expect);
  EXPECT_EQ(epoch, 4);
  EXPECT_EQ(lr, 0.1);
  EXPECT_EQ(order, (std::vector<uint32_t>{0xffffffffu, 0, 70000, 3}));
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace descent::testing
