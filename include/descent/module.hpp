// Module: a reusable piece of network that maps a DualArray to a DualArray. EvalContext says
// whether the graph being built is for training or testing, so one module definition generates
// different graphs (dropout only in training). Modules own their parameters (in an Environment).
#pragma once
#include <memory>
#include <vector>

#include "descent/dual_array.hpp"
#include "descent/environment.hpp"

namespace descent {

class EvalContext {
 public:
  static EvalContext train() { return EvalContext(true); }
  static EvalContext test() { return EvalContext(false); }
  bool is_training() const { return training_; }

 private:
  explicit EvalContext(bool training) : training_(training) {}
  bool training_;
};

class Module {
 public:
  virtual ~Module() = default;
  virtual DualArray eval(const DualArray& x, const EvalContext& ctx) const = 0;
  /// Trainable parameters, in a fixed order (checkpoints and optimisers use it).
  virtual std::vector<Parameter> parameters() const { return {}; }
};

/// Modules applied in order.
class Sequential : public Module {
 public:
  Sequential() = default;
  template <class M>
  Sequential& add(M module) {
    layers_.push_back(std::make_shared<M>(std::move(module)));
    return *this;
  }
  Sequential& add(std::shared_ptr<Module> module) {
    layers_.push_back(std::move(module));
    return *this;
  }
  DualArray eval(const DualArray& x, const EvalContext& ctx) const override;
  std::vector<Parameter> parameters() const override;
  size_t size() const { return layers_.size(); }

 private:
  std::vector<std::shared_ptr<Module>> layers_;
};

}  // namespace descent
