// Sgd, Adam and AdamW (include/descent/optimizer.hpp): graph fragments over gradients read from
// the scope; state in static parameters named "<parameter>.<state>". No host-side arithmetic on
// parameter values.
#include "descent/optimizer.hpp"

#include <fmt/format.h>

#include <cmath>

namespace descent {

namespace {
void check_params(const std::vector<Parameter>& params, const char* op) {
  for (const Parameter& p : params) {
    if (!p.valid()) throw UsageError(fmt::format("{}: empty Parameter handle", op));
    if (p.dtype() != DType::kF32)
      throw UsageError(fmt::format("{}: parameter '{}' is not float32", op, p.name()));
  }
}

void zero(Environment& env, const Parameter& p) {
  env.write_parameter(p, std::vector<float>(static_cast<size_t>(p.shape().element_count()), 0.0f));
}

void check_lr(const Array& lr, const char* op) {
  if (lr.shape().element_count() != 1)
    throw ShapeError(fmt::format("{}: learning rate must be a scalar, got {}", op, lr.shape().str()));
}

Array scalar_of(const Array& a) { return a.shape().rank() == 0 ? a : a.reshape(Shape{}); }
}  // namespace

Sgd::Sgd(Environment& env, const std::vector<Parameter>& params, const SgdOptions& options)
    : options_(options) {
  check_params(params, "Sgd");
  params_ = params;
  if (options.momentum != 0.0f) {
    for (const Parameter& p : params) velocity_.push_back(env.static_parameter(p.shape(), p.name() + ".velocity"));
  }
  state_ = velocity_;
  reset(env);
}

void Sgd::step(Scope& scope, const Array& learning_rate) {
  check_lr(learning_rate, "Sgd::step");
  Array lr = scalar_of(learning_rate);
  for (size_t i = 0; i < params_.size(); ++i) {
    DualArray w = scope.parameter(params_[i]);
    Array g = w.grad();
    if (options_.weight_decay != 0.0f) g = g + options_.weight_decay * w.value();
    if (!velocity_.empty()) {
      g = options_.momentum * scope.parameter_value(velocity_[i]) + g;
      scope.write_parameter_value(velocity_[i], g);
    }
    scope.write_parameter_value(params_[i], w.value() - lr * g);
  }
}

void Sgd::reset(Environment& env) {
  for (const Parameter& p : velocity_) zero(env, p);
}

Adam::Adam(Environment& env, const std::vector<Parameter>& params, const AdamOptions& options)
    : options_(options) {
  check_params(params, "Adam");
  if (!(options.beta1 >= 0 && options.beta1 < 1 && options.beta2 >= 0 && options.beta2 < 1 &&
        options.epsilon >= 0)) {
    throw UsageError(fmt::format("Adam: need 0 <= beta1, beta2 < 1 and epsilon >= 0 (got {}, {}, {})",
                                 options.beta1, options.beta2, options.epsilon));
  }
  params_ = params;
  t_ = env.static_parameter(Shape{1}, "adam.t");
  state_.push_back(t_);
  for (const Parameter& p : params) {
    m_.push_back(env.static_parameter(p.shape(), p.name() + ".adam_m"));
    v_.push_back(env.static_parameter(p.shape(), p.name() + ".adam_v"));
    state_.push_back(m_.back());
    state_.push_back(v_.back());
  }
  reset(env);
}

void Adam::step(Scope& scope, const Array& learning_rate) {
  check_lr(learning_rate, "Adam::step");
  const AdamOptions& o = options_;
  Array lr = scalar_of(learning_rate);
  Array t = scope.parameter_value(t_) + 1.0f;
  scope.write_parameter_value(t_, t);
  Array ts = scalar_of(t);
  // beta^t as exp(t ln beta), with ln beta computed here in double precision.
  Array bias1 = 1.0f - (ts * static_cast<float>(std::log(static_cast<double>(o.beta1)))).exp();
  Array bias2 = 1.0f - (ts * static_cast<float>(std::log(static_cast<double>(o.beta2)))).exp();
  Array alpha = lr * bias2.sqrt() / bias1;
  for (size_t i = 0; i < params_.size(); ++i) {
    DualArray wd = scope.parameter(params_[i]);
    Array w = wd.value();
    Array g = wd.grad();
    if (o.weight_decay != 0.0f) {
      if (o.decoupled_weight_decay) w = w - lr * o.weight_decay * w;
      else g = g + o.weight_decay * w;
    }
    Array m = o.beta1 * scope.parameter_value(m_[i]) + (1.0f - o.beta1) * g;
    Array v = o.beta2 * scope.parameter_value(v_[i]) + (1.0f - o.beta2) * g.square();
    scope.write_parameter_value(m_[i], m);
    scope.write_parameter_value(v_[i], v);
    scope.write_parameter_value(params_[i], w - alpha * m / (v.sqrt() + o.epsilon));
  }
}

void Adam::reset(Environment& env) {
  for (const Parameter& p : state_) zero(env, p);
}

AdamW::AdamW(Environment& env, const std::vector<Parameter>& params, AdamOptions options)
    : Adam(env, params, options) {}

}  // namespace descent
