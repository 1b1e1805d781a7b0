// Rmsprop, Lion and Lookahead (include/descent/optimizer.hpp): the formulas of torch.optim.RMSprop,
// of the Lion paper and of Lookahead, as graph fragments like Sgd and Adam (optimizer.cpp). State in
// static parameters; no host arithmetic on parameter values except Lookahead::reset's copy.
#include <fmt/format.h>

#include "descent/optimizer.hpp"
#include "nn/optimizer_util.hpp"

namespace descent {

using nn_detail::check_params;
using nn_detail::scalar_of;
using nn_detail::state_name;
using nn_detail::zero;

namespace {
/// sign(x): 1, -1, or 0 for +-0 (and NaN: neither comparison holds).
Array sign_of(const Array& x) {
  Array zero = x.scope().literal(0.0f);
  return x.gt(zero) - x.lt(zero);
}
}  // namespace

Rmsprop::Rmsprop(Environment& env, const std::vector<Parameter>& params, const RmspropOptions& o)
    : options_(o) {
  check_params(params, "Rmsprop");
  if (!(o.alpha >= 0 && o.alpha <= 1 && o.epsilon >= 0 && o.momentum >= 0 && o.weight_decay >= 0)) {
    throw UsageError(fmt::format("Rmsprop: need 0 <= alpha <= 1 and epsilon, momentum, weight_decay "
                                 ">= 0 (got {}, {}, {}, {})", o.alpha, o.epsilon, o.momentum, o.weight_decay));
  }
  params_ = params;
  std::string name = env.unique_name("rmsprop");
  for (const Parameter& p : params) {
    v_.push_back(env.static_parameter(p.shape(), state_name(name, "rmsprop", p, "square_avg")));
    state_.push_back(v_.back());
    if (o.centered) {
      avg_.push_back(env.static_parameter(p.shape(), state_name(name, "rmsprop", p, "grad_avg")));
      state_.push_back(avg_.back());
    }
    if (o.momentum > 0) {
      buf_.push_back(env.static_parameter(p.shape(), state_name(name, "rmsprop", p, "momentum")));
      state_.push_back(buf_.back());
    }
  }
  reset(env);
}

std::vector<Array> Rmsprop::update(Scope& scope, const Array& learning_rate) {
  const RmspropOptions& o = options_;
  const char* who = "Rmsprop::step";
  Array lr = scalar_of(learning_rate);
  std::vector<Array> grads = gradients(scope), next;
  for (size_t i = 0; i < params_.size(); ++i) {
    Array w = scope.parameter_value(params_[i]);
    Array g = grads[i];
    if (o.weight_decay != 0.0f && decays(o.decay, i)) g = g + o.weight_decay * w;
    // square_avg.mul_(alpha).addcmul_(grad, grad, value=1 - alpha)
    Array v = scope.parameter_value(v_[i]) * o.alpha + (1.0f - o.alpha) * g * g;
    scope.write_parameter_value(v_[i], v, who);
    Array var = v;
    if (o.centered) {
      Array a0 = scope.parameter_value(avg_[i]);
      Array a = a0 + (1.0f - o.alpha) * (g - a0);  // grad_avg.lerp_(grad, 1 - alpha)
      scope.write_parameter_value(avg_[i], a, who);
      var = v - a * a;
    }
    Array denom = var.sqrt() + o.epsilon;
    if (o.momentum > 0) {
      Array b = scope.parameter_value(buf_[i]) * o.momentum + g / denom;
      scope.write_parameter_value(buf_[i], b, who);
      next.push_back(w - lr * b);
    } else {
      next.push_back(w - lr * (g / denom));
    }
  }
  return next;
}

void Rmsprop::reset(Environment& env) {
  for (const Parameter& p : state_) zero(env, p);
}

Lion::Lion(Environment& env, const std::vector<Parameter>& params, const LionOptions& o) : options_(o) {
  check_params(params, "Lion");
  if (!(o.beta1 >= 0 && o.beta1 <= 1 && o.beta2 >= 0 && o.beta2 <= 1 && o.weight_decay >= 0)) {
    throw UsageError(fmt::format("Lion: need betas in [0, 1] and weight_decay >= 0 (got {}, {}, {})",
                                 o.beta1, o.beta2, o.weight_decay));
  }
  params_ = params;
  std::string name = env.unique_name("lion");
  for (const Parameter& p : params) m_.push_back(env.static_parameter(p.shape(), state_name(name, "lion", p, "exp_avg")));
  state_ = m_;
  reset(env);
}

std::vector<Array> Lion::update(Scope& scope, const Array& learning_rate) {
  const LionOptions& o = options_;
  Array lr = scalar_of(learning_rate);
  auto b1 = static_cast<float>(o.beta1), b2 = static_cast<float>(o.beta2);
  auto c1 = static_cast<float>(1.0 - o.beta1), c2 = static_cast<float>(1.0 - o.beta2);
  std::vector<Array> grads = gradients(scope), next;
  for (size_t i = 0; i < params_.size(); ++i) {
    Array w = scope.parameter_value(params_[i]);
    if (o.weight_decay != 0.0f && decays(o.decay, i)) w = w * (1.0f - lr * o.weight_decay);
    Array m = scope.parameter_value(m_[i]);
    Array direction = sign_of(m * b1 + c1 * grads[i]);
    scope.write_parameter_value(m_[i], m * b2 + c2 * grads[i], "Lion::step");
    next.push_back(w - lr * direction);
  }
  return next;
}

void Lion::reset(Environment& env) {
  for (const Parameter& p : state_) zero(env, p);
}

Lookahead::Lookahead(Environment& env, std::shared_ptr<Optimizer> inner, int k, float alpha)
    : inner_(std::move(inner)), k_(k), alpha_(alpha) {
  if (!inner_) throw UsageError("Lookahead: no inner optimiser");
  if (k < 1 || !(alpha >= 0.0f && alpha <= 1.0f))
    throw UsageError(fmt::format("Lookahead: need k >= 1 and 0 <= alpha <= 1 (got {}, {})", k, alpha));
  params_ = inner_->parameters();
  state_ = inner_->state_parameters();
  std::string name = env.unique_name("lookahead");
  count_ = env.static_parameter(Shape{1}, name + ".count");
  state_.push_back(count_);
  for (const Parameter& p : params_) {
    slow_.push_back(env.static_parameter(p.shape(), state_name(name, "lookahead", p, "slow")));
    state_.push_back(slow_.back());
  }
  reset(env);
}

std::vector<Array> Lookahead::update(Scope& scope, const Array& learning_rate) {
  std::vector<Array> fast = inner_->update(scope, learning_rate);
  // The counter runs 0 .. k-1 (exact small integers): the k-th step synchronises and restarts it.
  Array c = scalar_of(scope.parameter_value(count_)) + 1.0f;
  Array sync = c.eq(scope.literal(static_cast<float>(k_)));
  scope.write_parameter_value(count_, sync.select(scope.literal(0.0f), c).reshape(Shape{1}), "Lookahead::step");
  std::vector<Array> next;
  for (size_t i = 0; i < params_.size(); ++i) {
    Array slow = scope.parameter_value(slow_[i]);
    Array moved = slow + alpha_ * (fast[i] - slow);  // slow.add_(fast - slow, alpha=alpha)
    scope.write_parameter_value(slow_[i], sync.select(moved, slow), "Lookahead::step");
    next.push_back(sync.select(moved, fast[i]));
  }
  return next;
}

void Lookahead::reset(Environment& env) {
  inner_->reset(env);
  zero(env, count_);
  for (size_t i = 0; i < params_.size(); ++i) env.write_parameter(slow_[i], env.read_parameter(params_[i]));
}

}  // namespace descent
