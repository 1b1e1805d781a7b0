// Initializer: how a trainable parameter's first values are drawn. Values come from a host-side
// counter-based generator keyed by (seed, parameter index), so they are identical on every device
// and platform, and re-initialising with the same seed reproduces them exactly.
#pragma once
#include <cstdint>
#include <vector>

#include "descent/shape.hpp"

namespace descent {

struct Initializer {
  enum class Kind { kZero, kConstant, kNormal, kUniform };
  Kind kind = Kind::kZero;
  float a = 0.0f;  // constant value, normal standard deviation, or uniform bound (U(-a, a))

  static Initializer zero() { return {}; }
  static Initializer constant(float v) { return {Kind::kConstant, v}; }
  static Initializer normal(float stddev) { return {Kind::kNormal, stddev}; }
  static Initializer uniform(float bound) { return {Kind::kUniform, bound}; }
  /// He normal for ReLU-like layers: N(0, sqrt(2 / fan_in)).
  static Initializer for_relu(int64_t fan_in);
  /// SIREN (Sitzmann et al.): U(+-sqrt(6 / fan_in)), times 30 for the first layer.
  static Initializer for_siren(int64_t fan_in, bool first_layer);

  /// The values for a parameter of `shape`: a pure function of (this, seed, stream).
  std::vector<float> values(const Shape& shape, uint64_t seed, uint64_t stream) const;
};

}  // namespace descent
