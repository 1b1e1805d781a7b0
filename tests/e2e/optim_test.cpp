// Optimisers, gradient clipping, parameter groups, learning-rate schedules and the regression /
// binary losses against float64 host computations of the same formulas (torch.optim and
// torch.nn.functional; class D tolerances).
#include <cmath>
#include <functional>
#include <memory>

#include "support/harness.hpp"

namespace descent::testing {
namespace {

const std::vector<float> kW0 = {0.5f, -1.0f, 2.0f, 0.25f}, kTarget = {1.0f, 1.0f, -1.0f, 0.5f};

/// Runs `steps` steps of L = sum 0.5 (w - target)^2 (so dL/dw = w - target) with `make`'s
/// optimiser and compares w with `host`, which updates wv given the gradient (step counts from 1).
void check_steps(const char* name, const std::function<std::unique_ptr<Optimizer>(Parameter)>& make,
                 const std::function<void(std::vector<double>& wv, const std::vector<double>& g, int t)>& host,
                 int steps = 6, float lr = 0.05f) {
  Environment& e = env();
  Parameter w = e.trainable_parameter(Shape{4}, e.unique_name("opt_w"));
  e.write_parameter(w, kW0);
  Parameter t = e.static_parameter_with_data(Shape{4}, e.unique_name("opt_target"), kTarget);
  std::unique_ptr<Optimizer> opt = make(w);
  Graph g = e.build_graph([&](Scope& s) {
    DualArray d = s.parameter(w) - DualArray(s.parameter_value(t));
    (d * d * 0.5f).reduce_sum(0, true).set_loss();
    opt->step(s, lr);
  });
  std::vector<double> wv(kW0.begin(), kW0.end());
  for (int step = 1; step <= steps; ++step) {
    e.run(g);
    std::vector<double> grad(4);
    for (size_t i = 0; i < 4; ++i) grad[i] = wv[i] - kTarget[i];
    host(wv, grad, step);
  }
  auto got = e.read_parameter(w);
  for (size_t i = 0; i < 4; ++i)
    EXPECT_NEAR(got[i], wv[i], 3e-6 * (1 + std::fabs(wv[i]))) << name << " element " << i;
  expect_no_validation_messages();
}

TEST(Optimizers, RmspropMatchesTorch) {
  for (bool full : {false, true}) {
    std::vector<double> v(4, 0), a(4, 0), b(4, 0);
    RmspropOptions o;
    if (full) o.centered = true, o.momentum = 0.9f, o.weight_decay = 0.1f;
    check_steps(full ? "rmsprop centered momentum" : "rmsprop",
                [&](Parameter w) { return std::make_unique<Rmsprop>(env(), std::vector<Parameter>{w}, o); },
                [&](std::vector<double>& wv, const std::vector<double>& g0, int) {
                  for (size_t i = 0; i < 4; ++i) {
                    double g = g0[i] + (full ? 0.1 * wv[i] : 0.0);
                    v[i] = 0.99 * v[i] + 0.01 * g * g;
                    double var = v[i];
                    if (full) a[i] += 0.01 * (g - a[i]), var -= a[i] * a[i];
                    double denom = std::sqrt(var) + 1e-8;
                    if (full) b[i] = 0.9 * b[i] + g / denom, wv[i] -= 0.05 * b[i];
                    else wv[i] -= 0.05 * g / denom;
                  }
                });
  }
}

TEST(Optimizers, LionMatchesThePaper) {
  std::vector<double> m(4, 0);
  LionOptions o;
  o.weight_decay = 0.5f;
  check_steps("lion", [&](Parameter w) { return std::make_unique<Lion>(env(), std::vector<Parameter>{w}, o); },
              [&](std::vector<double>& wv, const std::vector<double>& g, int) {
                for (size_t i = 0; i < 4; ++i) {
                  wv[i] *= 1 - 0.05 * 0.5;
                  double c = 0.9 * m[i] + 0.1 * g[i];
                  wv[i] -= 0.05 * ((c > 0) - (c < 0));
                  m[i] = 0.99 * m[i] + 0.01 * g[i];
                }
              });
}

TEST(Optimizers, LookaheadSynchronisesEveryKSteps) {
  std::vector<double> slow(kW0.begin(), kW0.end());
  check_steps("lookahead(sgd)",
              [&](Parameter w) {
                return std::make_unique<Lookahead>(env(), std::make_shared<Sgd>(env(), std::vector<Parameter>{w}), 3, 0.5f);
              },
              [&](std::vector<double>& wv, const std::vector<double>& g, int t) {
                for (size_t i = 0; i < 4; ++i) wv[i] -= 0.05 * g[i];
                if (t % 3 != 0) return;
                for (size_t i = 0; i < 4; ++i) slow[i] += 0.5 * (wv[i] - slow[i]), wv[i] = slow[i];
              },
              7);
}

TEST(Optimizers, ClipGradNormScalesTheGlobalNorm) {
  check_steps("sgd + clip 0.3",
              [&](Parameter w) {
                auto o = std::make_unique<Sgd>(env(), std::vector<Parameter>{w});
                o->clip_grad_norm(0.3f);
                return o;
              },
              [&](std::vector<double>& wv, const std::vector<double>& g, int) {
                double n = 0;
                for (double x : g) n += x * x;
                double c = std::min(1.0, 0.3 / (std::sqrt(n) + 1e-6));
                for (size_t i = 0; i < 4; ++i) wv[i] -= 0.05 * g[i] * c;
              });
}

TEST(Optimizers, DecayFilterSkipsBiases) {
  Environment& e = env();
  Parameter m = e.trainable_parameter(Shape{2, 2}, e.unique_name("dec_m"));
  Parameter b = e.trainable_parameter(Shape{2}, e.unique_name("dec_b"));
  e.write_parameter(m, {1, 1, 1, 1});
  e.write_parameter(b, {1, 1});
  SgdOptions o;
  o.weight_decay = 0.5f;
  o.decay = decay_matrices_only;
  Sgd sgd(e, {m, b}, o);
  Graph g = e.build_graph([&](Scope& s) {
    // A loss with zero gradient: only the decay moves the weights.
    (s.parameter(m).reduce_sum({0, 1}) * 0.0f + s.parameter(b).reduce_sum(0) * 0.0f).reshape(Shape{1}).set_loss();
    sgd.step(s, 0.1f);
  });
  e.run(g);
  for (float v : e.read_parameter(m)) EXPECT_FLOAT_EQ(v, 1.0f - 0.1f * 0.5f);
  for (float v : e.read_parameter(b)) EXPECT_EQ(v, 1.0f);
}

TEST(Schedules, ValuesMatchTheHostFormulas) {
  Environment& e = env();
  std::vector<std::unique_ptr<LearningRateSchedule>> all;
  all.push_back(std::make_unique<WarmupCosine>(e, 3e-3f, 4, 20, 1e-4f));
  all.push_back(std::make_unique<StepDecay>(e, 0.1f, 3, 0.5f));
  all.push_back(std::make_unique<LinearDecay>(e, 0.1f, 0.01f, 10));
  for (auto& sch : all) {
    Parameter out = e.static_parameter(Shape{}, e.unique_name("lr_out"));
    Graph g = e.build_graph([&](Scope& s) { s.write_parameter_value(out, sch->next(s)); });
    for (int t = 0; t < 25; ++t) {
      e.run(g);
      double want = sch->at(t);
      EXPECT_NEAR(e.read_parameter_scalar(out), want, 2e-6 * std::fabs(want) + 1e-9) << "step " << t;
    }
    sch->reset(e);
    e.run(g);
    EXPECT_NEAR(e.read_parameter_scalar(out), sch->at(0), 1e-9);
  }
}

/// Value and gradient of a loss on [2, 3] against host formulas (mean reduction).
void check_loss(const char* name, const std::function<DualArray(const DualArray&, const Array&)>& loss,
                const std::function<double(double p, double t)>& f, const std::function<double(double p, double t)>& df) {
  Environment& e = env();
  const std::vector<float> p = {-2.5f, -0.4f, 0.0f, 0.3f, 1.7f, 4.0f}, t = {0.0f, 1.0f, 0.0f, 0.5f, 1.0f, 1.0f};
  Parameter pp = e.trainable_parameter(Shape{2, 3}, e.unique_name("loss_p"));
  e.write_parameter(pp, p);
  Parameter tt = e.static_parameter_with_data(Shape{2, 3}, e.unique_name("loss_t"), t);
  Parameter val = e.static_parameter(Shape{}, e.unique_name("loss_v")), grad = e.static_parameter(Shape{2, 3}, e.unique_name("loss_g"));
  Graph g = e.build_graph([&](Scope& s) {
    DualArray x = s.parameter(pp);
    DualArray l = loss(x, s.parameter_value(tt));
    s.write_parameter_value(val, l.set_loss());
    s.write_parameter_value(grad, x.grad());
  });
  e.run(g);
  double sum = 0;
  for (size_t i = 0; i < 6; ++i) sum += f(p[i], t[i]);
  EXPECT_NEAR(e.read_parameter_scalar(val), sum / 6, 2e-6 * (1 + std::fabs(sum / 6))) << name;
  auto gv = e.read_parameter(grad);
  for (size_t i = 0; i < 6; ++i) EXPECT_NEAR(gv[i], df(p[i], t[i]) / 6, 2e-7) << name << " element " << i;
}

TEST(Losses, RegressionAndBinaryLossesMatchTorch) {
  check_loss("mse", [](auto& x, auto& y) { return mse_loss(x, y); }, [](double p, double t) { return (p - t) * (p - t); },
             [](double p, double t) { return 2 * (p - t); });
  check_loss("l1", [](auto& x, auto& y) { return l1_loss(x, y); }, [](double p, double t) { return std::fabs(p - t); },
             [](double p, double t) { return double((p > t) - (p < t)); });
  check_loss("huber", [](auto& x, auto& y) { return huber_loss(x, y, 1.0f); },
             [](double p, double t) { double d = std::fabs(p - t); return d < 1 ? 0.5 * d * d : d - 0.5; },
             [](double p, double t) { double d = p - t; return std::fabs(d) < 1 ? d : double((d > 0) - (d < 0)); });
  check_loss("bce_with_logits", [](auto& x, auto& y) { return bce_with_logits(x, y); },
             [](double p, double t) { return std::log1p(std::exp(p)) - p * t; },
             [](double p, double t) { return 1 / (1 + std::exp(-p)) - t; });
  Environment& e = env();
  Parameter a = e.trainable_parameter(Shape{4, 1}, e.unique_name("mis_p"));
  Parameter b = e.static_parameter(Shape{4}, e.unique_name("mis_t"));
  EXPECT_THROW(e.build_graph([&](Scope& s) { (void)mse_loss(s.parameter(a), s.parameter_value(b)); }), ShapeError);
}

}  // namespace
}  // namespace descent::testing
