// Composite functions, each defined once for both Array and DualArray (like torch.nn.functional):
// activations, mean / variance / min / logsumexp reductions, softmax and log_softmax, stack and
// select_index, attention. Each is a template over the value type built from ops both types have,
// so the DualArray version is differentiated through those ops; a few (softplus, softmax,
// log_softmax) give DualArray a closed-form rule with `if constexpr` instead.
//   DualArray h = descent::gelu(x.matmul(w) + b);      // or on an Array, with no gradient
//   DualArray y = descent::scaled_dot_product_attention(q, k, v, /*causal=*/true);
#pragma once
#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <type_traits>
#include <vector>

#include "descent/array.hpp"
#include "descent/dual_array.hpp"
#include "descent/environment.hpp"

namespace descent {

/// The value of an Array or DualArray (the Array itself, or its value()).
inline const Array& detail_value(const Array& x) { return x; }
inline const Array& detail_value(const DualArray& x) { return x.value(); }

/// GELU, exact form: x Phi(x) = x (1 + erf(x / sqrt 2)) / 2 (PyTorch's gelu(approximate='none')).
template <class T>
T gelu(const T& x) {
  return 0.5f * x * (1.0f + (x * 0.70710678118654752f).erf());
}

/// GELU, tanh approximation: x (1 + tanh(sqrt(2 / pi) (x + 0.044715 x^3))) / 2
/// (PyTorch's gelu(approximate='tanh')).
template <class T>
T gelu_tanh(const T& x) {
  return 0.5f * x * (1.0f + (0.79788456080286536f * (x + 0.044715f * x * x * x)).tanh());
}

/// SiLU (swish): x sigmoid(x).
template <class T>
T silu(const T& x) {
  return x * x.sigmoid();
}

/// log(1 + e) for e >= 0 without losing e when 1 + e rounds to 1 (Goldberg: log(u) e / (u - 1)
/// with u = 1 + e; a few ulp).
inline Array log1p_of_nonnegative(const Array& e) {
  Array u = 1.0f + e;
  return u.eq(u.scope().literal(1.0f)).select(e, u.log() * e / (u - 1.0f));
}

/// softplus(x) = log(1 + e^x), as max(x, 0) + log1p(e^-|x|): e^-|x| <= 1, so nothing overflows,
/// large x gives x and very negative x e^x, as PyTorch's softplus (beta 1). The gradient is
/// sigmoid(x) everywhere (through a custom rule: the max and |x| kinks would give 0 at x = 0).
template <class T>
T softplus(const T& x) {
  if constexpr (std::is_same_v<T, DualArray>) {
    Array v = x.value();
    return DualArray::custom(softplus(v), {x}, [v](const Array& g) { return std::vector<Array>{g * v.sigmoid()}; });
  } else {
    return x.relu() + log1p_of_nonnegative((-x.abs()).exp());
  }
}


// ---- reductions and normalisation over one axis ----------------------------------------------

/// Mean over `axis` (keep_dims as reduce_sum).
template <class T>
T reduce_mean(const T& x, int axis, bool keep_dims = false) {
  const int64_t n = x.shape()[axis];
  return x.reduce_sum(axis, keep_dims) * (1.0f / static_cast<float>(n));
}

/// Variance over `axis`: the mean squared deviation, divided by n - 1 when `unbiased` (torch.var's
/// default correction) and by n otherwise.
template <class T>
T reduce_var(const T& x, int axis, bool unbiased = true, bool keep_dims = false) {
  const int64_t n = x.shape()[axis];
  T d = x - reduce_mean(x, axis, true);
  T sum = (d * d).reduce_sum(axis, keep_dims);
  return sum * (1.0f / static_cast<float>(unbiased ? std::max<int64_t>(n - 1, 1) : n));
}

/// Minimum over `axis`: -reduce_max(-x) (NaN propagates; ties send the gradient to the first).
template <class T>
T reduce_min(const T& x, int axis, bool keep_dims = false) {
  return -((-x).reduce_max(axis, keep_dims));
}

/// log sum exp over `axis`, with the maximum subtracted (never overflows). A row of only -inf
/// gives -inf, as torch.logsumexp.
template <class T>
T logsumexp(const T& x, int axis, bool keep_dims = false) {
  Array m = detail_value(x).reduce_max(axis, true);
  Array finite = m.ne(m.scope().literal(-std::numeric_limits<float>::infinity())).select(m, m.scope().literal(0.0f));
  T shifted = x - T(finite);
  T r = shifted.exp().reduce_sum(axis, true).log() + T(finite);
  return keep_dims ? r : r.remove_axis(axis < 0 ? axis + x.shape().rank() : axis);
}

/// softmax over `axis`: exp(x - max) / sum. One reduction pair; the gradient is the closed form
/// y (g - sum(g y)) (a custom rule: through exp and the division it would cost more kernels).
template <class T>
T softmax(const T& x, int axis) {
  if constexpr (std::is_same_v<T, DualArray>) {
    Array y = softmax(x.value(), axis);
    return DualArray::custom(y, {x}, [y, axis](const Array& g) {
      return std::vector<Array>{y * (g - (g * y).reduce_sum(axis, true))};
    });
  } else {
    Array e = (x - x.reduce_max(axis, true)).exp();
    return e / e.reduce_sum(axis, true);
  }
}

/// log softmax over `axis`: x - logsumexp(x); gradient g - softmax(x) sum(g).
template <class T>
T log_softmax(const T& x, int axis) {
  if constexpr (std::is_same_v<T, DualArray>) {
    Array v = x.value();
    Array y = log_softmax(v, axis);
    return DualArray::custom(y, {x}, [y, axis](const Array& g) {
      return std::vector<Array>{g - y.exp() * g.reduce_sum(axis, true)};
    });
  } else {
    return x - logsumexp(x, axis, true);
  }
}

// ---- shapes ----------------------------------------------------------------------------------

/// The parts (all one shape) stacked along a new axis `axis` (torch.stack).
template <class T>
T stack(const std::vector<T>& parts, int axis) {
  if (parts.empty()) throw ShapeError("stack: no arrays given");
  std::vector<T> expanded;
  for (const T& p : parts) expanded.push_back(p.insert_axis(axis));
  return concat(expanded, axis);
}

/// x[..., i, ...] along `axis`, the axis dropped (x[:, t] for axis 1); negative i counts from the end.
template <class T>
T select_index(const T& x, int axis, int64_t i) {
  const int rank = x.shape().rank();
  const int ax = axis < 0 ? axis + rank : axis;
  const int64_t n = x.shape()[ax];
  const int64_t at = i < 0 ? i + n : i;
  if (at < 0 || at >= n) {
    throw ShapeError("select_index: index " + std::to_string(i) + " outside axis " + std::to_string(axis) +
                     " of extent " + std::to_string(n) + " in " + x.shape().str());
  }
  return x.slice(ax, at, at + 1).remove_axis(ax);
}

/// The value with no gradient flowing back (torch's detach()).
inline DualArray stop_gradient(const DualArray& x) { return DualArray(x.value()); }

// ---- attention -------------------------------------------------------------------------------

/// [t, t] of 1.0 where query i may attend to key j (j <= i), 0.0 above the diagonal.
inline Array causal_mask(Scope& scope, int64_t t) {
  Shape s{t, t};
  return scope.coord(s, 1).le(scope.coord(s, 0));
}

/// softmax(q k^T / sqrt(d) [masked]) v for q [..., Tq, D], k [..., Tk, D], v [..., Tk, Dv]
/// (torch's scaled_dot_product_attention). `causal` lets query i see keys 0..i (Tq == Tk); an
/// extra `mask` (1.0 keep, 0.0 drop; broadcast to the scores) is applied too. Masked scores
/// are -inf before the softmax.
template <class T>
T scaled_dot_product_attention(const T& q, const T& k, const T& v, bool causal = false,
                               const Array& mask = Array()) {
  const Shape qs = q.shape();
  const int64_t d = qs[-1];
  T scores = q.matmul(k.transpose()) * static_cast<float>(1.0 / std::sqrt(static_cast<double>(d)));
  Scope& s = detail_value(q).scope();
  Array keep;
  if (causal) keep = causal_mask(s, qs[-2]);
  if (mask.valid()) keep = keep.valid() ? keep * mask : mask;
  if (keep.valid()) {
    Array ninf = s.literal(-std::numeric_limits<float>::infinity());
    scores = scores.where(keep.broadcast(scores.shape()), T(ninf.broadcast(scores.shape())));
  }
  return softmax(scores, -1).matmul(v);
}

}  // namespace descent
