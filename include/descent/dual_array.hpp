// DualArray: an Array value plus reverse-mode differentiation. Every op records its value (an
// ordinary Array op) and, when an input needs a gradient, an entry on the Scope's tape; the
// backward graph is built once, after set_loss(), by one sweep over the tape in reverse order.
// Branches that never reach the loss are never differentiated (no placeholders, nothing to prune).
#pragma once
#include <functional>
#include <initializer_list>
#include <vector>

#include "descent/array.hpp"

namespace descent {

class Module;
class EvalContext;

/// How conv2d reads outside the image.
struct Conv2DOptions {
  int64_t pad = 0;                    // on both sides of H and W
  PadMode pad_mode = PadMode::kZero;  // kReplicate repeats the edge pixels (the original's mode)
  int64_t stride_h = 1, stride_w = 1;
  int64_t groups = 1;
};

/// How a loss is reduced to the number that is minimised.
enum class Reduction {
  kBatchMean,  // set_loss's default: mean over axis 0 (the batch), sum over every other axis
  kMean,       // mean over all elements (PyTorch's reduction='mean')
  kSum,        // sum over all elements (reduction='sum')
  kNone,       // losses only: per-sample values, no reduction (reduction='none')
};

/// An array value and, once the scope's loss is set, its gradient dLoss/dValue.
///   auto x = scope.parameter(w);                 // trainable: has a gradient
///   auto loss = (x.matmul(in) - target).square().reduce_sum(-1, true);
///   loss.set_loss();                             // mean over axis 0 of the loss
///   scope.write_parameter_value(w, x.value() - 0.1f * x.grad());
class DualArray {
 public:
  DualArray() = default;
  /// A constant: no gradient flows into it (implicit, so Arrays mix freely with DualArrays).
  DualArray(const Array& value) : value_(value) {}  // NOLINT(google-explicit-constructor)

  const Array& value() const { return value_; }
  Shape shape() const { return value_.shape(); }
  Scope& scope() const { return value_.scope(); }
  /// True when some trainable input reaches this value (its gradient is worth computing).
  bool requires_grad() const { return tape_ != 0; }

  /// Makes this array the scope's loss, reduced as `reduction` says: the gradient is seeded with
  /// 1 / batch for kBatchMean (the default: averaged over axis 0, summed over the other axes, so a
  /// [B, T, 1] sequence loss is T times PyTorch's mean), 1 / element count for kMean (PyTorch's
  /// mean) and 1 for kSum. Once per scope. Returns value() (unreduced).
  Array set_loss(Reduction reduction = Reduction::kBatchMean) const;
  /// dLoss/dThis (same shape as the value). The first call after set_loss() builds the backward
  /// graph. Zeros when this value does not influence the loss. Throws UsageError before set_loss().
  Array grad() const;

  /// A user-defined differentiable op: `value` computed from `inputs`, and `backward` mapping the
  /// gradient of `value` to one gradient per input (an empty Array for "no gradient").
  static DualArray custom(const Array& value, const std::vector<DualArray>& inputs,
                          std::function<std::vector<Array>(const Array& grad)> backward);

  // Per-element math: one method per op-table row with grad Rule (descent/ops.def; the
  // derivatives are rules::<Op> in src/graph/autodiff.cpp), e.g. x.exp(), x.tanh(), x.pow(y),
  // x.min(y). min/max: NaN in either operand gives NaN; at ties each operand gets half the
  // gradient (as torch.minimum/maximum), where either is NaN both get all of it. pow: gradients as
  // torch.pow (0 where the exponent is 0; d/dexponent 0 at a zero base).
#define DESCENT_DECL_Rule_1(name) DualArray name() const;
#define DESCENT_DECL_Rule_2(name) DualArray name(const DualArray& other) const;
#define DESCENT_DECL_Custom_0(name)
#define DESCENT_DECL_Custom_1(name)
#define DESCENT_DECL_Custom_2(name)
#define DESCENT_DECL_Custom_3(name)
#define DESCENT_DECL_None_0(name)
#define DESCENT_DECL_None_1(name)
#define DESCENT_DECL_None_2(name)
#define DESCENT_DECL_None_3(name)
#define DESCENT_OP(Name, name, arity, kind, api, in, out, fold, grad, ...) DESCENT_DECL_##grad##_##arity(name)
#include "descent/ops.def"
#undef DESCENT_OP
#include "descent/detail/undef_decl.inc"
  DualArray square() const;
  DualArray leaky_relu(float alpha) const;
  DualArray pow(float exponent) const;
  /// condition != 0 ? this : other; the condition gets no gradient.
  DualArray where(const Array& condition, const DualArray& other) const;

  DualArray reduce_sum(int axis, bool keep_dims = false) const;
  DualArray reduce_sum(const std::vector<int>& axes, bool keep_dims = false) const;
  /// A row holding NaN gives NaN. The gradient goes to the first (lowest-index) maximum of each
  /// row, or its first NaN, as PyTorch's max(dim).
  DualArray reduce_max(int axis, bool keep_dims = false) const;
  DualArray matmul(const DualArray& other,
                   MatMulPrecision precision = MatMulPrecision::kFloat32) const;

  DualArray broadcast(const Shape& to) const;
  DualArray reshape(const Shape& to) const;
  DualArray flatten() const;
  DualArray transpose() const;
  DualArray permute(const std::vector<int>& perm) const;
  DualArray slice(int axis, int64_t start, int64_t stop, int64_t step = 1) const;
  DualArray pad(int axis, int64_t before, int64_t after, PadMode mode = PadMode::kZero) const;
  DualArray windows(int axis, int64_t size, int64_t stride = 1) const;
  DualArray insert_axis(int axis) const;
  DualArray remove_axis(int axis) const;
  DualArray concat(const DualArray& other, int axis) const;
  DualArray gather(int axis, const Array& indices) const;
  DualArray scatter_add(const DualArray& values, int axis, const Array& indices) const;

  /// 2-D convolution of an NHWC image [N, H, W, C] with a filter [OC, FH, FW, C / groups] (OHWI:
  /// PyTorch's OIHW with channels last) -> [N, OH, OW, OC], OH = (H + 2 pad - FH) / stride_h + 1.
  DualArray conv2d(const DualArray& filter, const Conv2DOptions& options = {}) const;
  /// module.eval(*this, ctx), so layers chain left to right: x.apply(conv1, ctx).leaky_relu(0.01f).
  DualArray apply(const Module& module, const EvalContext& ctx) const;

  /// Max over [size_h, size_w] windows of an NHWC image with the given strides. A window holding
  /// NaN gives NaN (as PyTorch); the gradient goes to the first maximum (or first NaN) of each
  /// window in row-major order.
  DualArray max_pool2d(int64_t size_h, int64_t size_w, int64_t stride_h, int64_t stride_w) const;

 private:
  friend struct DualAccess;
  DualArray(const Array& value, uint32_t tape) : value_(value), tape_(tape) {}
  Array value_;
  uint32_t tape_ = 0;  // entry on the scope's tape; 0: a constant
};

DualArray operator+(const DualArray& a, const DualArray& b);
DualArray operator-(const DualArray& a, const DualArray& b);
DualArray operator*(const DualArray& a, const DualArray& b);
DualArray operator/(const DualArray& a, const DualArray& b);
DualArray operator+(const DualArray& a, float b);
DualArray operator-(const DualArray& a, float b);
DualArray operator*(const DualArray& a, float b);
DualArray operator/(const DualArray& a, float b);
DualArray operator+(float a, const DualArray& b);
DualArray operator-(float a, const DualArray& b);
DualArray operator*(float a, const DualArray& b);
DualArray operator/(float a, const DualArray& b);
DualArray operator-(const DualArray& a);
DualArray& operator+=(DualArray& a, const DualArray& b);
DualArray concat(const std::vector<DualArray>& parts, int axis);
inline DualArray concat(std::initializer_list<DualArray> parts, int axis) {
  return concat(std::vector<DualArray>(parts), axis);
}

// Array versions of the image ops (no gradient).
Array conv2d(const Array& image, const Array& filter, const Conv2DOptions& options = {});
Array max_pool2d(const Array& image, int64_t size_h, int64_t size_w, int64_t stride_h,
                 int64_t stride_w);

}  // namespace descent
