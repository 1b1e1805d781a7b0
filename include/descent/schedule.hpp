// Learning-rate schedules as graph fragments: next(scope) gives this step's learning rate as a
// scalar Array and advances the schedule's own step counter (a static parameter, saved with the
// optimiser state), so the whole step stays one graph and one submit. Step t counts from 0.
//   WarmupCosine schedule(env, 3e-4f, 100, 5000);
//   ... in the training graph:  adam.step(scope, schedule.next(scope));
#pragma once
#include <vector>

#include "descent/environment.hpp"

namespace descent {

class LearningRateSchedule {
 public:
  virtual ~LearningRateSchedule() = default;
  /// This step's learning rate; advances the step counter by one. Once per training graph.
  Array next(Scope& scope);
  /// The learning rate at step t, on the host, in float64 (what next() computes in float32).
  virtual double at(double t) const = 0;
  void reset(Environment& env);
  /// The step counter (for checkpoints and TrainingState).
  const std::vector<Parameter>& state_parameters() const { return state_; }

 protected:
  LearningRateSchedule(Environment& env, const char* base);
  /// The learning rate as an expression of the step count `t` (a float32 scalar).
  virtual Array value(Scope& scope, const Array& t) const = 0;

 private:
  Parameter step_;
  std::vector<Parameter> state_;
};

/// Linear warm-up from 0 to `peak` over `warmup` steps (lr = peak t / warmup), then a half cosine
/// down to `final_lr` at step `total`, `final_lr` after (transformers' cosine schedule with
/// warm-up, plus a floor).
class WarmupCosine : public LearningRateSchedule {
 public:
  WarmupCosine(Environment& env, float peak, int64_t warmup, int64_t total, float final_lr = 0.0f);
  double at(double t) const override;

 protected:
  Array value(Scope& scope, const Array& t) const override;

 private:
  float peak_, final_;
  int64_t warmup_, total_;
};

/// lr gamma^floor(t / step_size), as torch.optim.lr_scheduler.StepLR stepped once per step.
class StepDecay : public LearningRateSchedule {
 public:
  StepDecay(Environment& env, float lr, int64_t step_size, float gamma);
  double at(double t) const override;

 protected:
  Array value(Scope& scope, const Array& t) const override;

 private:
  float lr_, gamma_;
  int64_t step_size_;
};

/// From `start` to `end` linearly over `steps` steps, `end` after.
class LinearDecay : public LearningRateSchedule {
 public:
  LinearDecay(Environment& env, float start, float end, int64_t steps);
  double at(double t) const override;

 protected:
  Array value(Scope& scope, const Array& t) const override;

 private:
  float start_, end_;
  int64_t steps_;
};

}  // namespace descent
