// Optimisers as graph fragments: step() appends "read gradients, update state, write parameters"
// to a training Scope, so a whole training step stays one graph and one submit. Their state (momenta,
// step counter) lives in static parameters of the Environment, so it persists between runs. Every
// formula follows the torch.optim class of the same name (docs/semantics.md).
//   Adam adam(env, net.parameters());
//   adam.clip_grad_norm(1.0f);                      // optional, as torch.nn.utils.clip_grad_norm_
//   ... inside build_graph, after set_loss():  adam.step(scope, 1e-3f);
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "descent/environment.hpp"

namespace descent {

/// Which parameters get weight decay (empty: all). decay_matrices_only leaves biases and norm
/// scales (rank < 2) alone, the usual parameter groups of transformer training.
using DecayFilter = std::function<bool(const Parameter&)>;
inline bool decay_matrices_only(const Parameter& p) { return p.shape().rank() >= 2; }

class Optimizer {
 public:
  virtual ~Optimizer() = default;
  /// Appends the update of every parameter to `scope`; call after set_loss(). `learning_rate` may
  /// be any scalar expression (a schedule's value, 0.005f * scope.parameter_value(scale), ...).
  void step(Scope& scope, const Array& learning_rate);
  void step(Scope& scope, float learning_rate) { step(scope, scope.literal(learning_rate)); }
  /// The parameters' new values after one step, in parameters() order; writes only the
  /// optimiser's own state. step() writes these; wrappers (Lookahead) transform them first.
  virtual std::vector<Array> update(Scope& scope, const Array& learning_rate) = 0;
  /// Scales all gradients by min(1, max_norm / (||g|| + 1e-6)), ||g|| their global L2 norm, before
  /// each update (torch.nn.utils.clip_grad_norm_). 0 turns it off. Returns *this.
  Optimizer& clip_grad_norm(float max_norm);
  /// Zeroes the optimiser state (momenta, step counter).
  virtual void reset(Environment& env) = 0;
  const std::vector<Parameter>& parameters() const { return params_; }
  /// The state parameters (for checkpoints), in a fixed order.
  const std::vector<Parameter>& state_parameters() const { return state_; }
  /// "Adam", "Sgd", ...: names the writer in error messages.
  virtual const char* name() const = 0;

 protected:
  /// The gradients of parameters(), clipped when clip_grad_norm asked for it.
  std::vector<Array> gradients(Scope& scope) const;
  /// Whether parameter i gets weight decay under `filter`.
  bool decays(const DecayFilter& filter, size_t i) const { return !filter || filter(params_[i]); }
  std::vector<Parameter> params_;
  std::vector<Parameter> state_;
  float clip_norm_ = 0.0f;
};

struct SgdOptions {
  float momentum = 0.0f;      // v <- momentum * v + g;  w <- w - lr * v
  float weight_decay = 0.0f;  // g += weight_decay * w (L2)
  DecayFilter decay;          // which parameters decay (empty: all)
};

/// Stochastic gradient descent, with optional momentum (torch.optim.SGD without dampening).
class Sgd : public Optimizer {
 public:
  Sgd(Environment& env, const std::vector<Parameter>& params, const SgdOptions& options = {});
  std::vector<Array> update(Scope& scope, const Array& learning_rate) override;
  void reset(Environment& env) override;
  const char* name() const override { return "Sgd"; }

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
  DecayFilter decay;  // which parameters decay (empty: all)
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
  std::vector<Array> update(Scope& scope, const Array& learning_rate) override;
  void reset(Environment& env) override;
  const char* name() const override { return "Adam"; }

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

struct RmspropOptions {
  float alpha = 0.99f, epsilon = 1e-8f, momentum = 0.0f, weight_decay = 0.0f;
  bool centered = false;  // divide by the estimated variance instead of the second moment
  DecayFilter decay;
};

/// RMSprop as torch.optim.RMSprop: v <- alpha v + (1 - alpha) g^2; (centered: a <- lerp(a, g,
/// 1 - alpha), v - a^2 in place of v); w <- w - lr g / (sqrt(v) + eps), or with momentum
/// b <- momentum b + g / (sqrt(v) + eps), w <- w - lr b.
class Rmsprop : public Optimizer {
 public:
  Rmsprop(Environment& env, const std::vector<Parameter>& params, const RmspropOptions& options = {});
  std::vector<Array> update(Scope& scope, const Array& learning_rate) override;
  void reset(Environment& env) override;
  const char* name() const override { return "Rmsprop"; }

 private:
  RmspropOptions options_;
  std::vector<Parameter> v_, avg_, buf_;
};

struct LionOptions {
  double beta1 = 0.9, beta2 = 0.99;
  float weight_decay = 0.0f;  // decoupled: w <- w (1 - lr weight_decay)
  DecayFilter decay;
};

/// Lion (Chen et al. 2023, "Symbolic Discovery of Optimization Algorithms"):
///   w <- w (1 - lr wd) - lr sign(beta1 m + (1 - beta1) g);  m <- beta2 m + (1 - beta2) g.
/// Use a learning rate 3-10x smaller than Adam's.
class Lion : public Optimizer {
 public:
  Lion(Environment& env, const std::vector<Parameter>& params, const LionOptions& options = {});
  std::vector<Array> update(Scope& scope, const Array& learning_rate) override;
  void reset(Environment& env) override;
  const char* name() const override { return "Lion"; }

 private:
  LionOptions options_;
  std::vector<Parameter> m_;
};

/// Lookahead (Zhang et al. 2019) around any optimiser: the inner one updates the fast weights;
/// every k-th step the slow weights move alpha of the way to them and the fast weights restart
/// from there. reset() copies the current parameter values into the slow weights (it reads them).
class Lookahead : public Optimizer {
 public:
  Lookahead(Environment& env, std::shared_ptr<Optimizer> inner, int k = 5, float alpha = 0.5f);
  std::vector<Array> update(Scope& scope, const Array& learning_rate) override;
  void reset(Environment& env) override;
  const char* name() const override { return "Lookahead"; }

 private:
  std::shared_ptr<Optimizer> inner_;
  int k_;
  float alpha_;
  Parameter count_;  // steps since the last synchronisation, 0 .. k-1
  std::vector<Parameter> slow_;
};

}  // namespace descent
