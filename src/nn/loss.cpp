// softmax_cross_entropy and accuracy (include/descent/loss.hpp): a custom DualArray op whose
// backward is the closed form (softmax - one_hot) * g rather than a graph through exp and log.
#include <fmt/format.h>

#include "descent/environment.hpp"
#include "descent/loss.hpp"

namespace descent {

namespace {
Array label_column(const Array& labels, int64_t m, const char* op, const Shape& logits) {
  Shape s = labels.shape();
  bool ok = (s.rank() == 1 && s[0] == m) || (s.rank() == 2 && s[0] == m && s[1] == 1);
  if (!ok) {
    throw ShapeError(fmt::format("{}: labels must be [m] or [m, 1] for logits {}, got {}", op,
                                 logits.str(), s.str()));
  }
  if (labels.dtype() != DType::kF32) {
    throw UsageError(fmt::format("{}: labels must be float class indices (use to_f32())", op));
  }
  return labels.reshape(Shape{m, 1});
}

void check_logits(const Shape& s, const char* op) {
  if (s.rank() != 2) throw ShapeError(fmt::format("{}: logits must be [m, n], got {}", op, s.str()));
}
}  // namespace

DualArray softmax_cross_entropy(const DualArray& logits, const Array& labels) {
  Shape s = logits.shape();
  check_logits(s, "softmax_cross_entropy");
  Array y = label_column(labels, s[0], "softmax_cross_entropy", s);
  Array z = logits.value();
  Array shifted = z - z.reduce_max(-1, true);
  Array e = shifted.exp();
  Array sum = e.reduce_sum(-1, true);
  Array hot = z.scope().coord(s, 1).eq(y);  // [m, n]
  Array picked = (hot * shifted).reduce_sum(-1, true);
  Array loss = sum.log() - picked;
  return DualArray::custom(loss, {logits}, [e, sum, hot](const Array& g) {
    return std::vector<Array>{(e / sum - hot) * g};
  });
}

Array accuracy(const Array& logits, const Array& labels) {
  Shape s = logits.shape();
  check_logits(s, "accuracy");
  Array y = label_column(labels, s[0], "accuracy", s);
  return logits.argmax(-1, true).eq(y);
}

}  // namespace descent
