// Learning-rate schedules (include/descent/schedule.hpp): each one's formula twice, as a float32
// graph expression of the step count (value) and in float64 on the host (at, for tests and
// logs). Public API only.
#include "descent/schedule.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

namespace descent {

namespace {
constexpr double kPi = 3.14159265358979323846;

void check_steps(int64_t n, const char* what, const char* op) {
  if (n < 1) throw UsageError(fmt::format("{}: {} must be >= 1, got {}", op, what, n));
}
}  // namespace

LearningRateSchedule::LearningRateSchedule(Environment& env, const char* base) {
  step_ = env.static_parameter(Shape{1}, env.unique_name(base) + ".step");
  state_ = {step_};
}

Array LearningRateSchedule::next(Scope& scope) {
  Array t = scope.parameter_value(step_);
  scope.write_parameter_value(step_, t + 1.0f, "LearningRateSchedule::next");
  return value(scope, t.reshape(Shape{}));
}

void LearningRateSchedule::reset(Environment& env) { env.write_parameter(step_, {0.0f}); }

WarmupCosine::WarmupCosine(Environment& env, float peak, int64_t warmup, int64_t total, float final_lr)
    : LearningRateSchedule(env, "warmup_cosine"), peak_(peak), final_(final_lr), warmup_(warmup), total_(total) {
  if (warmup < 0 || total <= warmup) {
    throw UsageError(fmt::format("WarmupCosine: need 0 <= warmup < total (got {} and {})", warmup, total));
  }
}

double WarmupCosine::at(double t) const {
  if (t < static_cast<double>(warmup_)) return peak_ * t / static_cast<double>(warmup_);
  double p = std::min(1.0, (t - warmup_) / static_cast<double>(total_ - warmup_));
  return final_ + (peak_ - final_) * 0.5 * (1.0 + std::cos(kPi * p));
}

Array WarmupCosine::value(Scope& s, const Array& t) const {
  Array warm = t * static_cast<float>(peak_ / std::max<double>(1.0, static_cast<double>(warmup_)));
  Array p = ((t - static_cast<float>(warmup_)) * static_cast<float>(1.0 / static_cast<double>(total_ - warmup_)))
                .min(s.literal(1.0f));
  Array cosine = final_ + (peak_ - final_) * 0.5f * (1.0f + (static_cast<float>(kPi) * p).cos());
  return t.lt(s.literal(static_cast<float>(warmup_))).select(warm, cosine);
}

StepDecay::StepDecay(Environment& env, float lr, int64_t step_size, float gamma)
    : LearningRateSchedule(env, "step_decay"), lr_(lr), gamma_(gamma), step_size_(step_size) {
  check_steps(step_size, "step_size", "StepDecay");
  if (!(gamma > 0.0f)) throw UsageError(fmt::format("StepDecay: gamma {} must be > 0", gamma));
}

double StepDecay::at(double t) const {
  return lr_ * std::pow(static_cast<double>(gamma_), std::floor(t / static_cast<double>(step_size_)));
}

Array StepDecay::value(Scope&, const Array& t) const {
  // floor(t / step_size) for an integer t, as floor((t + 0.5) / step_size): that quotient is at
  // least 0.5 / step_size away from every integer, far more than the few ulp of rounding in the
  // product with the rounded reciprocal (for t below 2^22).
  Array k = ((t + 0.5f) * static_cast<float>(1.0 / static_cast<double>(step_size_))).floor();
  return lr_ * (k * static_cast<float>(std::log(static_cast<double>(gamma_)))).exp();
}

LinearDecay::LinearDecay(Environment& env, float start, float end, int64_t steps)
    : LearningRateSchedule(env, "linear_decay"), start_(start), end_(end), steps_(steps) {
  check_steps(steps, "steps", "LinearDecay");
}

double LinearDecay::at(double t) const {
  double p = std::min(1.0, t / static_cast<double>(steps_));
  return start_ + (end_ - start_) * p;
}

Array LinearDecay::value(Scope& s, const Array& t) const {
  Array p = (t * static_cast<float>(1.0 / static_cast<double>(steps_))).min(s.literal(1.0f));
  return start_ + (end_ - start_) * p;
}

}  // namespace descent
