// Helpers shared by the optimisers (src/nn/optimizer*.cpp): argument checks, zeroing state, the
// scalar learning rate. Public API only; no optimiser logic here.
#pragma once
#include <fmt/format.h>

#include <vector>

#include "descent/environment.hpp"

namespace descent::nn_detail {

inline void check_params(const std::vector<Parameter>& params, const char* op) {
  for (const Parameter& p : params) {
    if (!p.valid()) throw UsageError(fmt::format("{}: empty Parameter handle", op));
    if (p.dtype() != DType::kF32)
      throw UsageError(fmt::format("{}: parameter '{}' is not float32", op, p.name()));
  }
}

inline void zero(Environment& env, const Parameter& p) {
  env.write_parameter(p, std::vector<float>(static_cast<size_t>(p.shape().element_count()), 0.0f));
}

inline void check_lr(const Array& lr, const char* op) {
  if (lr.shape().element_count() != 1)
    throw ShapeError(fmt::format("{}: learning rate must be a scalar, got {}", op, lr.shape().str()));
}

inline Array scalar_of(const Array& a) { return a.shape().rank() == 0 ? a : a.reshape(Shape{}); }

/// "<p>.<state>" for the first optimiser of its kind in an Environment (`base`), then
/// "<p>.<base>_1_<state>", ...: two optimisers never share state names.
inline std::string state_name(const std::string& unique, const std::string& base, const Parameter& p,
                              const std::string& state) {
  return unique == base ? p.name() + "." + state : p.name() + "." + unique + "_" + state;
}

}  // namespace descent::nn_detail
