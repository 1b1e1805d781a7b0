// Composite per-element functions, each defined once for both Array and DualArray (like
// torch.nn.functional): a template over the value type, built from ops both types have, so the
// DualArray version is differentiated through those ops with no rule of its own.
//   DualArray h = descent::gelu(x.matmul(w) + b);      // or on an Array, with no gradient
#pragma once
#include <type_traits>
#include <vector>

#include "descent/array.hpp"
#include "descent/dual_array.hpp"
#include "descent/environment.hpp"

namespace descent {

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

}  // namespace descent
