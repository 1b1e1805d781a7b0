// End-to-end training: a two-spirals MLP must reach >= 98% accuracy; 200 Adam steps run
// twice give bit-identical parameters; fused and unfused training give bit-identical parameters.
#include <fmt/format.h>

#include <cmath>
#include <cstring>
#include <random>

#include "runtime/state.hpp"
#include "support/harness.hpp"
#include "util/flags.hpp"
#include "runtime/test_access.hpp"

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
    Parameter w = e.trainable_parameter(Shape{sizes[l], sizes[l + 1]}, e.unique_name(fmt::format("w{}", l)));
    Parameter b = e.trainable_parameter(Shape{sizes[l + 1]}, e.unique_name(fmt::format("b{}", l)));
    e.write_parameter(w, he_normal(sizes[l], sizes[l] * sizes[l + 1], rng));
    m.params.push_back(w);
    m.params.push_back(b);
  }
  std::vector<float> xs, ys;
  spirals(&xs, &ys);
  m.x = e.static_parameter_with_data(Shape{2 * kPoints, 2}, e.unique_name("x"), xs);
  m.y = e.static_parameter_with_data(Shape{2 * kPoints, 1}, e.unique_name("y"), ys);
  m.loss = e.static_parameter(Shape{1}, e.unique_name("loss"));
  m.correct = e.static_parameter(Shape{1}, e.unique_name("correct"));
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

namespace descent::testing {
namespace {

// Optimiser formulas against a float64 host computation of the same steps (class D).
TEST(Optimizers, AdamSgdAdamWMatchHostFormulas) {
  Environment& e = env();
  const std::vector<float> w0 = {0.5f, -1.0f, 2.0f}, target = {1.0f, 1.0f, -1.0f};
  for (int kind = 0; kind < 4; ++kind) {
    Parameter w = e.trainable_parameter(Shape{3}, e.unique_name("w"));
    e.write_parameter(w, w0);
    Parameter t = e.static_parameter_with_data(Shape{3}, e.unique_name("target"), target);
    std::unique_ptr<Optimizer> opt;
    AdamOptions ao;
    ao.beta2 = 0.99;
    if (kind == 0) opt = std::make_unique<Adam>(e, std::vector<Parameter>{w}, ao);
    if (kind == 1) opt = std::make_unique<AdamW>(e, std::vector<Parameter>{w});
    if (kind == 2) opt = std::make_unique<Sgd>(e, std::vector<Parameter>{w}, SgdOptions{0.9f, 0.0f});
    if (kind == 3) opt = std::make_unique<Sgd>(e, std::vector<Parameter>{w}, SgdOptions{0.0f, 0.1f});
    float lr = 0.05f;
    Graph g = e.build_graph([&](Scope& s) {
      // L = sum 0.5 (w - target)^2 as a [1] loss: dL/dw = w - target.
      DualArray d = s.parameter(w) - DualArray(s.parameter_value(t));
      (d.square() * 0.5f).reduce_sum(0, true).set_loss();
      opt->step(s, lr);
    });
    std::vector<double> wv(w0.begin(), w0.end()), m(3, 0), v(3, 0);
    for (int step = 1; step <= 5; ++step) {
      e.run(g);
      for (size_t i = 0; i < 3; ++i) {
        double grad = wv[i] - target[i];
        if (kind <= 1) {
          // torch.optim.Adam / AdamW (epsilon after the bias correction).
          double b1 = 0.9, b2 = kind == 0 ? 0.99 : 0.999;
          if (kind == 1) wv[i] *= 1 - lr * 0.01;
          m[i] = b1 * m[i] + (1 - b1) * grad;
          v[i] = b2 * v[i] + (1 - b2) * grad * grad;
          double denom = std::sqrt(v[i]) / std::sqrt(1 - std::pow(b2, step)) + 1e-8;
          wv[i] -= lr / (1 - std::pow(b1, step)) * m[i] / denom;
        } else if (kind == 2) {
          m[i] = 0.9 * m[i] + grad;
          wv[i] -= lr * m[i];
        } else {
          wv[i] -= lr * (grad + 0.1 * wv[i]);
        }
      }
    }
    auto got = e.read_parameter(w);
    for (size_t i = 0; i < 3; ++i)
      EXPECT_NEAR(got[i], wv[i], 2e-6 * (1 + std::fabs(wv[i]))) << "optimiser kind " << kind << " element " << i;
  }
}

TEST(Losses, CrossEntropyStaysFiniteForHugeLogits) {
  Environment& e = env();
  Parameter z = e.static_parameter_with_data(Shape{2, 3}, e.unique_name("z"), std::vector<float>{1000, -1000, 0, 0, 0, 0});
  Parameter y = e.static_parameter_with_data(Shape{2}, e.unique_name("labels"), std::vector<float>{1, 2});
  Parameter out = e.static_parameter(Shape{2, 1}, e.unique_name("ce"));
  Graph g = e.build_graph([&](Scope& s) {
    s.write_parameter_value(out, softmax_cross_entropy(DualArray(s.parameter_value(z)), s.parameter_value(y)).value());
  });
  e.run(g);
  auto v = e.read_parameter(out);
  EXPECT_FLOAT_EQ(v[0], 2000.0f);                // logsumexp = 1000, picked = -1000
  EXPECT_NEAR(v[1], std::log(3.0), 1e-6);
}

}  // namespace
}  // namespace descent::testing

namespace descent::testing {
namespace {

/// A small conv-net (conv, leaky, max pool, grouped conv, dropout, dense) trained with Adam on
/// fixed random images: returns every parameter after `steps` steps.
/// `prologue` 1 computes the im2col patches inside the matmuls' loads (DESCENT_MATMUL_PROLOGUE=1),
/// 0 stores them (the default), -1 leaves the environment's setting.
std::vector<float> train_small_conv_net(int steps, bool fusion, int prologue = -1,
                                        size_t* kernels = nullptr) {
  Environment& e = env();
  auto& f = detail::mutable_flags();
  bool saved = f.disable_fusion;
  f.disable_fusion = !fusion;
  int saved_prologue = detail::TestAccess::state(e).target.matmul_prologue;
  if (prologue >= 0) detail::TestAccess::state(e).target.matmul_prologue = prologue;
  Sequential net;
  net.add(Conv2D::builder(1, 4, 3, 3).with_pad(1).build(e)).add(LeakyRelu(0.01f)).add(MaxPool2D());
  net.add(Conv2D::builder(4, 4, 3, 3).with_pad(1, PadMode::kReplicate).with_groups(2).build(e));
  net.add(LeakyRelu(0.01f)).add(MaxPool2D()).add(Flatten()).add(Dropout(0.25f)).add(Dense(e, 16, 3));
  // The same initial values in every call (reset_parameters keys its streams by parameter id,
  // which differs between the networks this test builds one after another).
  auto params = net.parameters();
  for (size_t i = 0; i < params.size(); ++i)
    e.write_parameter(params[i], Initializer::normal(0.3f).values(params[i].shape(), 3, i));
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> u(0.0f, 1.0f);
  std::vector<float> images(8 * 8 * 8), labels(8);
  for (float& v : images) v = u(rng);
  for (size_t i = 0; i < labels.size(); ++i) labels[i] = static_cast<float>(i % 3);
  Parameter x = e.static_parameter_with_data(Shape{8, 8, 8, 1}, e.unique_name("x"), images);
  Parameter y = e.static_parameter_with_data(Shape{8}, e.unique_name("y"), labels);
  Adam adam(e, net.parameters());
  Graph g = e.build_graph([&](Scope& s) {
    DualArray logits = s.parameter(x).apply(net, EvalContext::train());
    softmax_cross_entropy(logits, s.parameter_value(y)).set_loss();
    adam.step(s, 0.01f);
  });
  f.disable_fusion = saved;
  detail::TestAccess::state(e).target.matmul_prologue = saved_prologue;
  if (kernels) *kernels = g.kernel_count();
  for (int i = 0; i < steps; ++i) e.run(g, static_cast<uint32_t>(i));
  std::vector<float> all;
  for (const Parameter& p : net.parameters()) {
    auto v = e.read_parameter(p);
    all.insert(all.end(), v.begin(), v.end());
  }
  return all;
}

TEST(Training, ConvNetTwoHundredStepsBitIdenticalAndFusedEqualsUnfused) {
  auto a = train_small_conv_net(200, true), b = train_small_conv_net(200, true);
  ASSERT_EQ(a.size(), b.size());
  EXPECT_EQ(0, std::memcmp(a.data(), b.data(), a.size() * 4)) << "two runs of 200 steps differ";
  auto c = train_small_conv_net(20, true), d = train_small_conv_net(20, false);
  EXPECT_EQ(0, std::memcmp(c.data(), d.data(), c.size() * 4)) << "fused and unfused training differ";
  EXPECT_NE(0, std::memcmp(a.data(), c.data(), a.size() * 4)) << "training changed nothing";
}

// The patches of both convolutions computed inside the matmul loads (forward and weight gradient)
// instead of stored by a copy kernel: two kernels fewer, bit-identical parameters.
TEST(Training, ConvNetPatchesComputedInMatmulLoadsEqualStoredPatches) {
  size_t stored_kernels = 0, computed_kernels = 0;
  auto stored = train_small_conv_net(20, true, 0, &stored_kernels);
  auto computed = train_small_conv_net(20, true, 1, &computed_kernels);
  ASSERT_EQ(stored.size(), computed.size());
  EXPECT_EQ(0, std::memcmp(stored.data(), computed.data(), stored.size() * 4));
  EXPECT_EQ(computed_kernels + 2, stored_kernels);
}

}  // namespace
}  // namespace descent::testing
