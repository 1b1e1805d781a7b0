// Losses and metrics for classification, built from DualArray ops with fused, numerically stable
// forward and backward formulas. Per-sample results ([..., 1]) unless a Reduction is asked for;
// set_loss() then reduces (docs/semantics.md lists where this differs from PyTorch).
#pragma once
#include <optional>

#include "descent/dual_array.hpp"

namespace descent {

struct CrossEntropyOptions {
  /// Rows whose label equals this value contribute zero loss and zero gradient and are left out of
  /// kMean's count (PyTorch's ignore_index). Unset (the default): every label must be a class.
  std::optional<float> ignore_label;
  /// PyTorch's label_smoothing: the target is (1 - s) one_hot(y) + s / n, s in [0, 1].
  float label_smoothing = 0.0f;
  /// kNone (default): per-row losses [..., 1] (ignored rows 0); kMean: their sum over the rows that
  /// are not ignored, divided by that count (PyTorch's default; NaN when every row is ignored, as
  /// PyTorch); kSum: their sum. kMean and kSum give a scalar (shape []).
  Reduction reduction = Reduction::kNone;
};

/// Softmax cross entropy of logits [..., n] (classes on the last axis) against labels of the
/// leading shape [...] or [..., 1] holding class indices as floats (0 .. n-1):
///   loss = logsumexp(z) - (1 - s) z[y] - s / n sum_j z[j]      (s: label smoothing)
/// Log-sum-exp form with the row maximum subtracted, so it never overflows and a confident wrong
/// answer gives a large finite loss (the original computed -log(softmax) and could return +inf).
/// Backward: dz = (softmax(z) - (1 - s) one_hot(y) - s / n) * dloss. A label that is neither a
/// class index (an integer in [0, n)) nor the ignore label makes the next host synchronisation
/// throw IndexError; that row contributes nothing.
///   auto loss = softmax_cross_entropy(logits, labels);          // [B, 1]
///   loss.set_loss();                                            // mean over the batch
///   CrossEntropyOptions o; o.ignore_label = -100; o.reduction = Reduction::kMean;
///   softmax_cross_entropy(seq_logits /* [B, T, V] */, seq_labels /* [B, T] */, o).set_loss();
DualArray softmax_cross_entropy(const DualArray& logits, const Array& labels,
                                const CrossEntropyOptions& options = {});

// Regression and binary losses. `pred` and `target` must have the same shape (a ShapeError
// otherwise: broadcasting [B, 1] against [B] is the classic silent bug). Reduction kMean (the
// default, as PyTorch) and kSum give a scalar, kNone the per-element losses.

/// (pred - target)^2, as torch.nn.functional.mse_loss.
DualArray mse_loss(const DualArray& pred, const Array& target, Reduction reduction = Reduction::kMean);
/// |pred - target|, as l1_loss (gradient 0 where they are equal).
DualArray l1_loss(const DualArray& pred, const Array& target, Reduction reduction = Reduction::kMean);
/// 0.5 d^2 where |d| < delta, else delta (|d| - 0.5 delta), d = pred - target, as huber_loss.
DualArray huber_loss(const DualArray& pred, const Array& target, float delta = 1.0f,
                     Reduction reduction = Reduction::kMean);
/// Binary cross entropy of logits x against targets t in [0, 1], as
/// binary_cross_entropy_with_logits: softplus(x) - x t, which never overflows; gradient
/// sigmoid(x) - t.
DualArray bce_with_logits(const DualArray& logits, const Array& target,
                          Reduction reduction = Reduction::kMean);

/// 1.0 where the highest logit of a row is at the label, else 0.0; shape [m, 1]. Ties pick the
/// lowest index, a row holding NaN the first NaN (Array::argmax).
Array accuracy(const Array& logits, const Array& labels);

}  // namespace descent
