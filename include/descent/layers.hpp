// Layers: Dense, Conv2D (builder), MaxPool2D, MaxBlurPool2D, Dropout, Flatten and activations.
// Each is a Module; parameters are created (and initialised, see Initializer) when built.
//   auto conv = Conv2D::builder(1, 16, 3, 3).with_pad(1).build(env);
//   auto y = x.apply(conv, ctx).leaky_relu(0.01f).apply(MaxPool2D(), ctx);
#pragma once
#include <string>

#include "descent/module.hpp"

namespace descent {

/// y = x W + b, W [in, out] (He normal), b [out] (zero). Parameters `<name>.w`, `<name>.b`; the
/// default name is Environment::unique_name("dense"): dense, dense_1, ...
class Dense : public Module {
 public:
  class Builder {
   public:
    Builder(int64_t in, int64_t out) : in_(in), out_(out) {}
    Builder& with_w_initializer(const Initializer& i) { w_init_ = i; has_w_ = true; return *this; }
    Builder& with_b_initializer(const Initializer& i) { b_init_ = i; return *this; }
    /// An explicit name is used as given (a name already in use throws UsageError).
    Builder& with_name(const std::string& n) { name_ = n; return *this; }
    Dense build(Environment& env) const;

   private:
    int64_t in_, out_;
    Initializer w_init_, b_init_;
    bool has_w_ = false;
    std::string name_;  // empty: unique_name("dense")
  };
  static Builder builder(int64_t in, int64_t out) { return Builder(in, out); }
  Dense(Environment& env, int64_t in, int64_t out) : Dense(builder(in, out).build(env)) {}

  DualArray eval(const DualArray& x, const EvalContext& ctx) const override;
  std::vector<Parameter> parameters() const override { return {w_, b_}; }
  const Parameter& weight() const { return w_; }
  const Parameter& bias() const { return b_; }

 private:
  Dense(Parameter w, Parameter b) : w_(w), b_(b) {}
  Parameter w_, b_;
};

/// 2-D convolution of NHWC images; filter [OC, FH, FW, IC / groups] (He normal), bias [OC] (zero).
/// Parameters `<name>.f`, `<name>.b` (`<name>.blur` for the fixed blur); default name
/// unique_name("conv") (unique_name("blur") with with_blur()).
class Conv2D : public Module {
 public:
  class Builder {
   public:
    Builder(int64_t in, int64_t out, int64_t fh, int64_t fw) : in_(in), out_(out), fh_(fh), fw_(fw) {}
    Builder& with_pad(int64_t pad, PadMode mode = PadMode::kZero) { opt_.pad = pad; opt_.pad_mode = mode; return *this; }
    Builder& with_stride(int64_t sh, int64_t sw) { opt_.stride_h = sh; opt_.stride_w = sw; return *this; }
    Builder& with_groups(int64_t g) { opt_.groups = g; return *this; }
    /// A fixed (not trainable) depthwise [1 2 1]^T [1 2 1] / 16 blur: needs in == out == groups and
    /// a 3x3 filter.
    Builder& with_blur() { blur_ = true; return *this; }
    /// An explicit name is used as given (a name already in use throws UsageError).
    Builder& with_name(const std::string& n) { name_ = n; return *this; }
    Conv2D build(Environment& env) const;

   private:
    int64_t in_, out_, fh_, fw_;
    Conv2DOptions opt_;
    bool blur_ = false;
    std::string name_;  // empty: unique_name("conv") or unique_name("blur")
  };
  static Builder builder(int64_t in, int64_t out, int64_t fh, int64_t fw) { return Builder(in, out, fh, fw); }

  DualArray eval(const DualArray& x, const EvalContext& ctx) const override;
  std::vector<Parameter> parameters() const override;
  const Conv2DOptions& options() const { return opt_; }

 private:
  Conv2D(Parameter f, Parameter b, Conv2DOptions o, bool trainable) : f_(f), b_(b), opt_(o), trainable_(trainable) {}
  Parameter f_, b_;
  Conv2DOptions opt_;
  bool trainable_;
};

/// Max over size x size windows with the given stride (default 2x2, stride 2).
class MaxPool2D : public Module {
 public:
  explicit MaxPool2D(int64_t size = 2, int64_t stride = 2) : size_(size), stride_(stride) {}
  DualArray eval(const DualArray& x, const EvalContext& ctx) const override;

 private:
  int64_t size_, stride_;
};

/// Anti-aliased pooling (Zhang 2019): max pool 2x2 stride 1, then a fixed 3x3 blur with stride 2
/// and replicate padding 1 (28 -> 27 -> 14, 14 -> 13 -> 7).
class MaxBlurPool2D : public Module {
 public:
  MaxBlurPool2D(Environment& env, int64_t channels);
  DualArray eval(const DualArray& x, const EvalContext& ctx) const override;

 private:
  Conv2D blur_;
};

/// Training: zero each element with probability `amount` and scale the rest by 1 / (1 - amount),
/// from the counter-based RNG (the backward pass reuses the same mask). Testing: identity.
class Dropout : public Module {
 public:
  explicit Dropout(float amount);
  DualArray eval(const DualArray& x, const EvalContext& ctx) const override;

 private:
  float amount_;
};

/// [N, ...] -> [N, rest].
class Flatten : public Module {
 public:
  DualArray eval(const DualArray& x, const EvalContext&) const override { return x.flatten(); }
};

class LeakyRelu : public Module {
 public:
  explicit LeakyRelu(float alpha = 0.01f) : alpha_(alpha) {}
  DualArray eval(const DualArray& x, const EvalContext&) const override { return x.leaky_relu(alpha_); }

 private:
  float alpha_;
};

class Relu : public Module {
 public:
  DualArray eval(const DualArray& x, const EvalContext&) const override { return x.relu(); }
};

/// sin(x): the SIREN activation (its scale lives in the first layer's initialisation).
class Sine : public Module {
 public:
  DualArray eval(const DualArray& x, const EvalContext&) const override { return x.sin(); }
};

}  // namespace descent
