// Layer implementations (include/descent/layers.hpp, module.hpp): parameter creation with their
// initialisers and the forward expressions. Gradients come from DualArray; nothing here
// differentiates by hand.
#include "descent/layers.hpp"

#include <fmt/format.h>

namespace descent {

DualArray DualArray::apply(const Module& module, const EvalContext& ctx) const {
  return module.eval(*this, ctx);
}

DualArray Sequential::eval(const DualArray& x, const EvalContext& ctx) const {
  DualArray y = x;
  for (const auto& l : layers_) y = l->eval(y, ctx);
  return y;
}

std::vector<Parameter> Sequential::parameters() const {
  std::vector<Parameter> r;
  for (const auto& l : layers_) {
    auto p = l->parameters();
    r.insert(r.end(), p.begin(), p.end());
  }
  return r;
}

Dense Dense::Builder::build(Environment& env) const {
  if (in_ < 1 || out_ < 1) throw ShapeError(fmt::format("Dense: sizes {} -> {} must be >= 1", in_, out_));
  std::string name = name_.empty() ? env.unique_name("dense") : name_;
  Parameter w = env.trainable_parameter(Shape{in_, out_}, name + ".w",
                                        has_w_ ? w_init_ : Initializer::for_relu(in_));
  Parameter b = env.trainable_parameter(Shape{out_}, name + ".b", b_init_);
  return Dense(w, b);
}

DualArray Dense::eval(const DualArray& x, const EvalContext&) const {
  Scope& s = x.scope();
  int64_t in = w_.shape()[0];
  if (x.shape().rank() < 1 || x.shape()[-1] != in) {
    throw ShapeError(fmt::format("Dense ({} -> {}): input {} must end in {} features (flatten() "
                                 "images first)", in, w_.shape()[1], x.shape().str(), in));
  }
  return x.matmul(s.parameter(w_)) + s.parameter(b_);
}

Conv2D Conv2D::Builder::build(Environment& env) const {
  int64_t g = opt_.groups;
  if (in_ < 1 || out_ < 1 || fh_ < 1 || fw_ < 1 || g < 1 || in_ % g || out_ % g) {
    throw ShapeError(fmt::format("Conv2D: {} -> {} channels, {}x{} filter, {} groups: need positive "
                                 "sizes and channels divisible by groups", in_, out_, fh_, fw_, g));
  }
  Shape fs{out_, fh_, fw_, in_ / g};
  std::string name = !name_.empty() ? name_ : env.unique_name(blur_ ? "blur" : "conv");
  if (blur_) {
    if (in_ != out_ || g != in_ || fh_ != 3 || fw_ != 3) {
      throw ShapeError(fmt::format("Conv2D::with_blur: needs a 3x3 depthwise filter (in == out == "
                                   "groups), got {} -> {}, {}x{}, {} groups", in_, out_, fh_, fw_, g));
    }
    const float k[9] = {1, 2, 1, 2, 4, 2, 1, 2, 1};
    std::vector<float> v;
    for (int64_t c = 0; c < out_; ++c)
      for (float e : k) v.push_back(e / 16.0f);
    Parameter f = env.static_parameter_with_data(fs, name + ".blur", v);
    Parameter b = env.static_parameter(Shape{out_}, name + ".b");
    return Conv2D(f, b, opt_, false);
  }
  Parameter f = env.trainable_parameter(fs, name + ".f", Initializer::for_relu(fh_ * fw_ * (in_ / g)));
  Parameter b = env.trainable_parameter(Shape{out_}, name + ".b");
  return Conv2D(f, b, opt_, true);
}

std::vector<Parameter> Conv2D::parameters() const {
  if (!trainable_) return {};
  return {f_, b_};
}

DualArray Conv2D::eval(const DualArray& x, const EvalContext&) const {
  Scope& s = x.scope();
  if (!trainable_) return x.conv2d(DualArray(s.parameter_value(f_)), opt_);
  return x.conv2d(s.parameter(f_), opt_) + s.parameter(b_);
}

DualArray MaxPool2D::eval(const DualArray& x, const EvalContext&) const {
  return x.max_pool2d(size_, size_, stride_, stride_);
}

MaxBlurPool2D::MaxBlurPool2D(Environment& env, int64_t channels)
    : blur_(Conv2D::builder(channels, channels, 3, 3)
                .with_pad(1, PadMode::kReplicate)
                .with_stride(2, 2)
                .with_groups(channels)
                .with_blur()
                .build(env)) {}

DualArray MaxBlurPool2D::eval(const DualArray& x, const EvalContext& ctx) const {
  return x.max_pool2d(2, 2, 1, 1).apply(blur_, ctx);
}

Dropout::Dropout(float amount) : amount_(amount) {
  if (!(amount >= 0.0f && amount < 1.0f))
    throw UsageError(fmt::format("Dropout: amount {} must be in [0, 1)", amount));
}

DualArray Dropout::eval(const DualArray& x, const EvalContext& ctx) const {
  if (!ctx.is_training() || amount_ == 0.0f) return x;
  Scope& s = x.scope();
  Array keep = s.rand(x.shape()).ge(s.literal(amount_));
  return (x * (1.0f / (1.0f - amount_))).where(keep, DualArray(s.literal(0.0f)));
}

}  // namespace descent
