// softmax_cross_entropy and accuracy (include/descent/loss.hpp): a custom DualArray op whose
// backward is the closed form (softmax - target) * g rather than a graph through exp and log.
// Label checks run on the device (Array::check_index); nothing here reads values on the host.
#include <fmt/format.h>

#include <vector>

#include "descent/environment.hpp"
#include "descent/loss.hpp"

namespace descent {

namespace {
/// Logits [..., n] -> the labels as [..., 1] floats (from [...] or [..., 1]).
Array label_column(const Array& labels, const Shape& logits, const char* op) {
  if (logits.rank() < 1) throw ShapeError(fmt::format("{}: logits must be [..., n], got {}", op, logits.str()));
  Shape keep = logits.with_axis(logits.rank() - 1, 1), lead = logits.remove_axis(logits.rank() - 1);
  Shape s = labels.shape();
  if (s != lead && s != keep) {
    throw ShapeError(fmt::format("{}: labels must be {} or {} for logits {} (one class index per "
                                 "row, classes on the last axis), got {}", op, lead.str(), keep.str(),
                                 logits.str(), s.str()));
  }
  if (labels.dtype() != DType::kF32) {
    throw UsageError(fmt::format("{}: labels must be float class indices (use to_f32())", op));
  }
  return labels.reshape(keep);
}

std::vector<int> all_axes(const Shape& s) {
  std::vector<int> axes;
  for (int i = 0; i < s.rank(); ++i) axes.push_back(i);
  return axes;
}
}  // namespace

DualArray softmax_cross_entropy(const DualArray& logits, const Array& labels,
                                const CrossEntropyOptions& o) {
  const char* op = "softmax_cross_entropy";
  Shape s = logits.shape();
  Array y = label_column(labels, s, op);
  const int64_t n = s[-1];
  if (!(o.label_smoothing >= 0.0f && o.label_smoothing <= 1.0f))
    throw UsageError(fmt::format("{}: label_smoothing {} must be in [0, 1]", op, o.label_smoothing));
  if (o.reduction == Reduction::kBatchMean) {
    throw UsageError(fmt::format("{}: reduction kBatchMean belongs to set_loss(); use kNone (per "
                                 "row), kMean or kSum", op));
  }
  Scope& sc = logits.scope();
  // A row counts when its label is a class index; an ignored row does not count and is no error.
  Array is_class = y.eq(y.floor()) * y.ge(sc.literal(0.0f)) * y.lt(sc.literal(static_cast<float>(n)));
  Array ignored = o.ignore_label ? y.eq(sc.literal(*o.ignore_label)) : Array();
  Array acceptable = ignored.valid() ? is_class.max(ignored) : is_class;
  std::string message = fmt::format(
      "{}: a label was neither a class index in [0, {}) nor the ignore label{} (that row added no "
      "loss and no gradient); check the labels, or set CrossEntropyOptions::ignore_label", op, n,
      o.ignore_label ? fmt::format(" {}", *o.ignore_label) : std::string(" (none set)"));
  Array bad = (1.0f - acceptable).to_u32().check_index(1, message).to_f32();
  Array counts = ignored.valid() ? (1.0f - bad) * (1.0f - ignored) : 1.0f - bad;  // 1 or 0 per row

  Array z = logits.value();
  Array shifted = z - z.reduce_max(-1, true);
  Array e = shifted.exp();
  Array sum = e.reduce_sum(-1, true);
  Array target = sc.coord(s, -1).eq(y);  // one_hot(y); all zeros for a row that is not a class
  if (o.label_smoothing > 0.0f) {
    // (1 - s) one_hot + s / n sums to 1, so the row maximum still cancels out of the loss.
    target = (1.0f - o.label_smoothing) * target + o.label_smoothing / static_cast<float>(n);
  }
  Array picked = (target * shifted).reduce_sum(-1, true);
  Array zero = sc.literal(0.0f);
  Array loss = counts.select(sum.log() - picked, zero);
  DualArray rows = DualArray::custom(loss, {logits}, [e, sum, target, counts, zero](const Array& g) {
    // A select, not a product with counts: an ignored row gets exactly 0 even if it holds inf.
    return std::vector<Array>{counts.select((e / sum - target) * g, zero)};
  });
  switch (o.reduction) {
    case Reduction::kNone: return rows;
    case Reduction::kSum: return rows.reduce_sum(all_axes(rows.shape()));
    case Reduction::kMean:
      // Sum over the counted rows / their number; 0 / 0 = NaN when none counts (as PyTorch).
      return rows.reduce_sum(all_axes(rows.shape())) / counts.reduce_sum(all_axes(counts.shape()));
    case Reduction::kBatchMean: break;
  }
  return rows;
}

Array accuracy(const Array& logits, const Array& labels) {
  Shape s = logits.shape();
  Array y = label_column(labels, s, "accuracy");
  return logits.argmax(-1, true).eq(y);
}

}  // namespace descent
