// End-to-end training (issue 4): a two-spirals MLP must reach >= 98% accuracy; 200 Adam steps run
// twice give bit-identical parameters; fused and unfused training give bit-identical parameters.
#include <fmt/format.h>

#include <cmath>
#include <cstring>
#include <random>

#include "support/harness.hpp"
#include "util/flags.hpp"

namespace descent::testing {
namespace {

constexpr int kPoints = 256;  // per class

/// Two interleaved spirals (class 0 and 1), deterministic; x [2 * kPoints, 2], y [2 * kPoints, 1].
void spirals(std::vector<float>* x, std::vector<float>* y) {
  for (int c = 0; c < 2; ++c) {
    for (int i = 0; i < kPoints; ++i) {
      double t = 0.25 + 3.0 * M_PI * i / kPoints;  // 1.5 turns
      double r = t / (3.0 * M_PI);
      double a = t + c * M_PI;
      x->push_back(static_cast<float>(r * std::cos(a)));
      x->push_back(static_cast<float>(r * std::sin(a)));
      y->push_back(static_cast<float>(c));
    }
  }
}

struct Mlp {
  std::vector<Parameter> params;  // w1 b1 w2 b2 w3 b3
  Parameter x, y, loss;
  std::unique_ptr<Adam> adam;
  Graph train, test;
  Parameter correct;
};

std::vector<float> he_normal(int64_t fan_in, int64_t n, std::mt19937& rng) {
  std::normal_distribution<float> d(0.0f, std::sqrt(2.0f / static_cast<float>(fan_in)));
  std::vector<float> v(static_cast<size_t>(n));
  for (float& e : v) e = d(rng);
  return v;
}

Mlp make_mlp(int hidden, uint32_t seed) {
  Environment& e = env();
  Mlp m;
  std::mt19937 rng(seed);
  int64_t sizes[] = {2, hidden, hidden, 2};
  for (int l = 0; l < 3; ++l) {
    Parameter w = e.trainable_parameter(Shape{sizes[l], sizes[l + 1]}, fmt::format("w{}", l));
    Parameter b = e.trainable_parameter(Shape{sizes[l + 1]}, fmt::format("b{}", l));
    e.write_parameter(w, he_normal(sizes[l], sizes[l] * sizes[l + 1], rng));
    m.params.push_back(w);
    m.params.push_back(b);
  }
  std::vector<float> xs, ys;
  spirals(&xs, &ys);
  m.x = e.static_parameter_with_data(Shape{2 * kPoints, 2}, "x", xs);
  m.y = e.static_parameter_with_data(Shape{2 * kPoints, 1}, "y", ys);
  m.loss = e.static_parameter(Shape{1}, "loss");
  m.correct = e.static_parameter(Shape{1}, "correct");
  AdamOptions ao;
  m.adam = std::make_unique<Adam>(e, m.params, ao);
  auto forward = [&m](Scope& s) {
    DualArray h = s.parameter(m.x);
    for (int l = 0; l < 3; ++l) {
      h = h.matmul(s.parameter(m.params[2 * l])) + s.parameter(m.params[2 * l + 1]);
      if (l < 2) h = h.leaky_relu(0.01f);
    }
    return h;
  };
  m.train = e.build_graph([&](Scope& s) {
    DualArray logits = forward(s);
    Array loss = softmax_cross_entropy(logits, s.parameter_value(m.y)).set_loss();
    s.write_parameter_value(m.loss, loss.reduce_sum(0));
    m.adam->step(s, 0.01f);
  });
  m.test = e.build_graph([&](Scope& s) {
    DualArray logits = forward(s);
    s.write_parameter_value(m.correct, accuracy(logits.value(), s.parameter_value(m.y)).reduce_sum(0));
  });
  return m;
}

std::vector<float> all_params(const Mlp& m) {
  std::vector<float> all;
  for (const Parameter& p : m.params) {
    auto v = env().read_parameter(p);
    all.insert(all.end(), v.begin(), v.end());
  }
  return all;
}

TEST(Training, TwoSpiralsReaches98Percent) {
  Mlp m = make_mlp(32, 7);
  EXPECT_EQ(m.train.kernel_count() > 0, true);
  float first_loss = 0;
  for (int step = 0; step < 600; ++step) {
    env().run(m.train);
    if (step == 0) first_loss = env().read_parameter_scalar(m.loss) / (2 * kPoints);
  }
  float last_loss = env().read_parameter_scalar(m.loss) / (2 * kPoints);
  env().run(m.test);
  float acc = env().read_parameter_scalar(m.correct) / (2 * kPoints);
  EXPECT_GE(acc, 0.98f) << "loss " << first_loss << " -> " << last_loss;
  EXPECT_LT(last_loss, first_loss * 0.2f);
  expect_no_validation_messages();
}

TEST(Training, TwoHundredStepsAreBitIdentical) {
  std::vector<float> result[2];
  for (int run = 0; run < 2; ++run) {
    Mlp m = make_mlp(16, 11);
    for (int step = 0; step < 200; ++step) env().run(m.train, static_cast<uint32_t>(step));
    result[run] = all_params(m);
  }
  ASSERT_EQ(result[0].size(), result[1].size());
  EXPECT_EQ(0, std::memcmp(result[0].data(), result[1].data(), result[0].size() * 4));
}

TEST(Training, FusedEqualsUnfused) {
  std::vector<float> result[2];
  size_t kernels[2] = {0, 0};
  for (int run = 0; run < 2; ++run) {
    auto& f = detail::mutable_flags();
    bool saved = f.disable_fusion;
    f.disable_fusion = run == 1;
    Mlp m = make_mlp(16, 13);
    f.disable_fusion = saved;
    kernels[run] = m.train.kernel_count();
    for (int step = 0; step < 20; ++step) env().run(m.train);
    result[run] = all_params(m);
  }
  EXPECT_LT(kernels[0] * 2, kernels[1]) << "fusion should at least halve the kernel count";
  EXPECT_EQ(0, std::memcmp(result[0].data(), result[1].data(), result[0].size() * 4));
}

}  // namespace
}  // namespace descent::testing
