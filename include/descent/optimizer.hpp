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
  const std::vector<Parameter>& state_parameters() const { return state_; }

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
  /// Betas in double precision, as PyTorch takes them: the bias corrections 1 - beta^t are
  /// computed from these values (0.999f as a float is 0.99900001, which alone moves 1 - beta^t by
  /// 1.3e-5 relative at small t).
  double beta1 = 0.9, beta2 = 0.999;
  float epsilon = 1e-8f;
  float weight_decay = 0.0f;
  /// false: L2 added to the gradient (Adam); true: decoupled decay w <- w (1 - lr weight_decay)
  /// applied before the Adam update (AdamW, Loshchilov & Hutter), as torch.optim.AdamW.
  bool decoupled_weight_decay = false;
};

/// Adam (Kingma & Ba), step for step the formula of torch.optim.Adam:
///   t <- t + 1;  g <- g + weight_decay w (or AdamW's decoupled decay)
///   m <- m + (1 - beta1) (g - m);  v <- beta2 v + (1 - beta2) g^2
///   w <- w - lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
/// so epsilon is added after the bias correction (PyTorch's placement; the original descent's
/// "efficient" form added it before, which at step 1 is 31.6x PyTorch's epsilon for beta2 =
/// 0.999). 1 - beta^t is -expm1(t ln beta) with ln beta from double precision: within a few
/// float32 ulp at every step (t counts exactly up to 2^24 steps).
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
