// Optimisers as graph fragments: step() appends "read gradients, update state, write parameters"
// to a training Scope, so a whole training step stays one graph and one submit. Their state (momenta,
// step counter) lives in static parameters of the Environment, so it persists between runs.
#pragma once
#include <string>
#include <vector>

#include "descent/environment.hpp"

namespace descent {

class Optimizer {
 public:
  virtual ~Optimizer() = default;
  /// Appends the update of every parameter to `scope`; call after set_loss(). `learning_rate` may
  /// be any scalar expression (e.g. 0.005f * scope.parameter_value(lr_scale) for a schedule).
  virtual void step(Scope& scope, const Array& learning_rate) = 0;
  void step(Scope& scope, float learning_rate) { step(scope, scope.literal(learning_rate)); }
  /// Zeroes the optimiser state (momenta, step counter).
  virtual void reset(Environment& env) = 0;
  const std::vector<Parameter>& parameters() const { return params_; }
  /// The state parameters (for checkpoints), in a fixed order.
  const std::vector<Parameter>& state() const { return state_; }

 protected:
  std::vector<Parameter> params_;
  std::vector<Parameter> state_;
};

struct SgdOptions {
  float momentum = 0.0f;      // v <- momentum * v + g;  w <- w - lr * v
  float weight_decay = 0.0f;  // g += weight_decay * w (L2)
};

/// Stochastic gradient descent, with optional momentum (the original's formulas).
class Sgd : public Optimizer {
 public:
  Sgd(Environment& env, const std::vector<Parameter>& params, const SgdOptions& options = {});
  void step(Scope& scope, const Array& learning_rate) override;
  using Optimizer::step;
  void reset(Environment& env) override;

 private:
  SgdOptions options_;
  std::vector<Parameter> velocity_;
};

struct AdamOptions {
  float beta1 = 0.9f, beta2 = 0.999f, epsilon = 1e-8f;
  float weight_decay = 0.0f;
  /// false: L2 added to the gradient (Adam, as the original); true: decoupled decay w <- w -
  /// lr * weight_decay * w applied before the Adam update (AdamW, Loshchilov & Hutter).
  bool decoupled_weight_decay = false;
};

/// Adam (Kingma & Ba, the "efficient" form of section 2 used by the original):
///   t <- t + 1;  a = lr * sqrt(1 - beta2^t) / (1 - beta1^t)
///   m <- beta1 m + (1 - beta1) g;  v <- beta2 v + (1 - beta2) g^2;  w <- w - a m / (sqrt(v) + eps)
class Adam : public Optimizer {
 public:
  Adam(Environment& env, const std::vector<Parameter>& params, const AdamOptions& options = {});
  void step(Scope& scope, const Array& learning_rate) override;
  using Optimizer::step;
  void reset(Environment& env) override;

 private:
  AdamOptions options_;
  Parameter t_;
  std::vector<Parameter> m_, v_;
};

/// Adam with decoupled weight decay (default 0.01).
class AdamW : public Adam {
 public:
  AdamW(Environment& env, const std::vector<Parameter>& params, AdamOptions options = with_decay());

 private:
  static AdamOptions with_decay() {
    AdamOptions o;
    o.weight_decay = 0.01f;
    o.decoupled_weight_decay = true;
    return o;
  }
};

}  // namespace descent
