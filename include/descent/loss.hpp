// Losses and metrics for classification, built from DualArray ops with fused, numerically stable
// forward and backward formulas. Per-sample results ([m, 1]); set_loss() averages over the batch.
#pragma once
#include "descent/dual_array.hpp"

namespace descent {

/// Softmax cross entropy of logits [m, n] against labels [m] or [m, 1] holding class indices as
/// floats (0 .. n-1): loss[i] = logsumexp(z[i]) - z[i, y[i]], shape [m, 1]. Log-sum-exp form with
/// the row maximum subtracted, so it never overflows and a confident wrong answer gives a large
/// finite loss (the original computed -log(softmax) and could return +inf). Backward:
/// dz = (softmax(z) - one_hot(y)) * dloss. Labels outside [0, n) select no class (loss = logsumexp).
DualArray softmax_cross_entropy(const DualArray& logits, const Array& labels);

/// 1.0 where the highest logit of a row is at the label, else 0.0; shape [m, 1]. Ties pick the
/// lowest index (Array::argmax).
Array accuracy(const Array& logits, const Array& labels);

}  // namespace descent
