// mse_loss, l1_loss, huber_loss and bce_with_logits (include/descent/loss.hpp): per-element
// formulas from DualArray ops and descent/functional.hpp, then the requested reduction. Shapes are
// checked exactly: no broadcasting between prediction and target.
#include <fmt/format.h>

#include <vector>

#include "descent/functional.hpp"
#include "descent/loss.hpp"

namespace descent {

namespace {
void check_pair(const DualArray& pred, const Array& target, const char* op) {
  if (pred.shape() != target.shape()) {
    throw ShapeError(fmt::format("{}: prediction {} and target {} must have the same shape (reshape "
                                 "one of them; descent does not broadcast a loss's operands)",
                                 op, pred.shape().str(), target.shape().str()));
  }
  if (target.dtype() != DType::kF32) throw UsageError(fmt::format("{}: target must be f32", op));
}

DualArray reduced(const DualArray& per_element, Reduction r, const char* op) {
  std::vector<int> all;
  for (int i = 0; i < per_element.shape().rank(); ++i) all.push_back(i);
  switch (r) {
    case Reduction::kNone: return per_element;
    case Reduction::kSum: return per_element.reduce_sum(all);
    case Reduction::kMean:
      return per_element.reduce_sum(all) * (1.0f / static_cast<float>(per_element.shape().element_count()));
    case Reduction::kBatchMean: break;
  }
  throw UsageError(fmt::format("{}: reduction kBatchMean belongs to set_loss(); use kMean, kSum or kNone", op));
}
}  // namespace

DualArray mse_loss(const DualArray& pred, const Array& target, Reduction r) {
  check_pair(pred, target, "mse_loss");
  DualArray d = pred - DualArray(target);
  return reduced(d * d, r, "mse_loss");
}

DualArray l1_loss(const DualArray& pred, const Array& target, Reduction r) {
  check_pair(pred, target, "l1_loss");
  return reduced((pred - DualArray(target)).abs(), r, "l1_loss");
}

DualArray huber_loss(const DualArray& pred, const Array& target, float delta, Reduction r) {
  check_pair(pred, target, "huber_loss");
  if (!(delta > 0.0f)) throw UsageError(fmt::format("huber_loss: delta {} must be > 0", delta));
  DualArray d = pred - DualArray(target);
  DualArray a = d.abs();
  Array small = a.value().lt(a.value().scope().literal(delta));
  DualArray quadratic = 0.5f * d * d, linear = delta * (a - 0.5f * delta);
  return reduced(quadratic.where(small, linear), r, "huber_loss");
}

DualArray bce_with_logits(const DualArray& logits, const Array& target, Reduction r) {
  check_pair(logits, target, "bce_with_logits");
  return reduced(softplus(logits) - logits * DualArray(target), r, "bce_with_logits");
}

}  // namespace descent
