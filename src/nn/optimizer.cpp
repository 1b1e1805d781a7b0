// The Optimizer base (step, gradient clipping), Sgd, Adam and AdamW (include/descent/optimizer.hpp):
// graph fragments over gradients read from the scope; state in static parameters named
// "<parameter>.<state>". No host-side arithmetic on parameter values.
#include "descent/optimizer.hpp"

#include <fmt/format.h>

#include <cmath>

#include "nn/optimizer_util.hpp"

namespace descent {

using nn_detail::check_lr;
using nn_detail::check_params;
using nn_detail::scalar_of;
using nn_detail::zero;

namespace {
/// 1 - beta^t for a step count t >= 1 (an exact integer in float32), as -expm1(t ln beta) with
/// ln beta taken in double precision and rounded once. Computing 1 - exp(t ln beta) in float32
/// instead cancels: for beta = 0.999 and small t it keeps only ~13 bits (1e-4 relative). expm1 is
/// its Taylor series to x^9 for -0.5 < x <= 0 (truncation < 3e-10 relative, Horner in float32:
/// a few ulp) and exp(x) - 1 below, where 1 - e^x >= 0.39 and nothing cancels.
Array one_minus_power(Scope& s, const Array& t, double beta) {
  if (beta == 0.0) return s.literal(1.0f);
  Array x = t * static_cast<float>(std::log(beta));  // <= 0
  Array h = s.literal(static_cast<float>(1.0 / 362880.0));
  for (int k = 8; k >= 1; --k) {
    double inv_factorial = 1.0;
    for (int j = 2; j <= k; ++j) inv_factorial /= j;
    h = static_cast<float>(inv_factorial) + x * h;  // h = sum_{j>=0} x^j / (j + 1)!
  }
  Array series = -(x * h);                         // -expm1(x) = -x (1 + x/2 + x^2/6 + ...)
  return x.gt(s.literal(-0.5f)).select(series, 1.0f - x.exp());
}
}  // namespace

void Optimizer::step(Scope& scope, const Array& learning_rate) {
  check_lr(learning_rate, name());
  std::vector<Array> next = update(scope, learning_rate);
  const std::string who = std::string(name()) + "::step";
  for (size_t i = 0; i < params_.size(); ++i) scope.write_parameter_value(params_[i], next[i], who);
}

Optimizer& Optimizer::clip_grad_norm(float max_norm) {
  if (!(max_norm >= 0.0f)) throw UsageError(fmt::format("clip_grad_norm: max_norm {} must be >= 0", max_norm));
  clip_norm_ = max_norm;
  return *this;
}

std::vector<Array> Optimizer::gradients(Scope& scope) const {
  std::vector<Array> g;
  for (const Parameter& p : params_) g.push_back(scope.parameter(p).grad());
  if (clip_norm_ <= 0.0f || g.empty()) return g;
  // torch.nn.utils.clip_grad_norm_: the global L2 norm over every gradient, each parameter's
  // squares summed first (in parameters() order), then coefficient max_norm / (norm + 1e-6)
  // clamped to 1.
  Array total;
  for (const Array& gi : g) {
    Array sq = (gi * gi).reshape(Shape{gi.shape().element_count()}).reduce_sum(0);
    total = total.valid() ? total + sq : sq;
  }
  Array coefficient = (clip_norm_ / (total.sqrt() + 1e-6f)).min(scope.literal(1.0f));
  for (Array& gi : g) gi = gi * coefficient;
  return g;
}

Sgd::Sgd(Environment& env, const std::vector<Parameter>& params, const SgdOptions& options)
    : options_(options) {
  check_params(params, "Sgd");
  params_ = params;
  if (options.momentum != 0.0f) {
    // "<p>.velocity" for the first Sgd with momentum of an Environment, then "<p>.sgd_1_velocity".
    std::string name = env.unique_name("sgd");
    for (const Parameter& p : params) velocity_.push_back(env.static_parameter(p.shape(), nn_detail::state_name(name, "sgd", p, "velocity")));
  }
  state_ = velocity_;
  reset(env);
}

std::vector<Array> Sgd::update(Scope& scope, const Array& learning_rate) {
  Array lr = scalar_of(learning_rate);
  std::vector<Array> grads = gradients(scope), next;
  for (size_t i = 0; i < params_.size(); ++i) {
    Array w = scope.parameter_value(params_[i]);
    Array g = grads[i];
    if (options_.weight_decay != 0.0f && decays(options_.decay, i)) g = g + options_.weight_decay * w;
    if (!velocity_.empty()) {
      g = options_.momentum * scope.parameter_value(velocity_[i]) + g;
      scope.write_parameter_value(velocity_[i], g, "Sgd::step");
    }
    next.push_back(w - lr * g);
  }
  return next;
}

void Sgd::reset(Environment& env) {
  for (const Parameter& p : velocity_) zero(env, p);
}

Adam::Adam(Environment& env, const std::vector<Parameter>& params, const AdamOptions& options)
    : options_(options) {
  check_params(params, "Adam");
  if (!(options.beta1 >= 0 && options.beta1 < 1 && options.beta2 >= 0 && options.beta2 < 1 &&
        options.epsilon >= 0 && options.weight_decay >= 0)) {
    throw UsageError(fmt::format("Adam: need 0 <= beta1, beta2 < 1, epsilon >= 0 and weight_decay "
                                 ">= 0 (got {}, {}, {}, {})", options.beta1, options.beta2,
                                 options.epsilon, options.weight_decay));
  }
  params_ = params;
  // "adam" for the first optimiser of an Environment (checkpoint names adam.t, <p>.adam_m), then
  // adam_1, ...: two optimisers never share state.
  std::string name = env.unique_name("adam");
  t_ = env.static_parameter(Shape{1}, name + ".t");
  state_.push_back(t_);
  for (const Parameter& p : params) {
    m_.push_back(env.static_parameter(p.shape(), p.name() + "." + name + "_m"));
    v_.push_back(env.static_parameter(p.shape(), p.name() + "." + name + "_v"));
    state_.push_back(m_.back());
    state_.push_back(v_.back());
  }
  reset(env);
}

std::vector<Array> Adam::update(Scope& scope, const Array& learning_rate) {
  const AdamOptions& o = options_;
  const char* who = "Adam::step";
  Array lr = scalar_of(learning_rate);
  Array t = scope.parameter_value(t_) + 1.0f;
  scope.write_parameter_value(t_, t, who);
  Array ts = scalar_of(t);
  // PyTorch's order of operations (torch.optim.adam, single-tensor path), in float32.
  Array step_size = lr / one_minus_power(scope, ts, o.beta1);
  Array bias2_sqrt = one_minus_power(scope, ts, o.beta2).sqrt();
  auto one_minus_beta1 = static_cast<float>(1.0 - o.beta1);
  auto one_minus_beta2 = static_cast<float>(1.0 - o.beta2);
  auto beta2 = static_cast<float>(o.beta2);
  std::vector<Array> grads = gradients(scope), next;
  for (size_t i = 0; i < params_.size(); ++i) {
    Array w = scope.parameter_value(params_[i]);
    Array g = grads[i];
    if (o.weight_decay != 0.0f && decays(o.decay, i)) {
      if (o.decoupled_weight_decay) w = w * (1.0f - lr * o.weight_decay);
      else g = g + o.weight_decay * w;
    }
    Array m0 = scope.parameter_value(m_[i]);
    Array m = m0 + one_minus_beta1 * (g - m0);  // exp_avg.lerp_(grad, 1 - beta1)
    Array v = scope.parameter_value(v_[i]) * beta2 + one_minus_beta2 * g * g;
    scope.write_parameter_value(m_[i], m, who);
    scope.write_parameter_value(v_[i], v, who);
    Array denom = v.sqrt() / bias2_sqrt + o.epsilon;
    next.push_back(w - step_size * (m / denom));
  }
  return next;
}

void Adam::reset(Environment& env) {
  for (const Parameter& p : state_) zero(env, p);
}

AdamW::AdamW(Environment& env, const std::vector<Parameter>& params, AdamOptions options)
    : Adam(env, params, options) {}

}  // namespace descent
