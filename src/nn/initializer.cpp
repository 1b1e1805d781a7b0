// Initializer values: a splitmix64 counter stream per (seed, parameter) and double-precision
// Box-Muller, so the numbers do not depend on the standard library, the device or the platform.
#include "descent/initializer.hpp"

#include <cmath>

namespace descent {

namespace {
uint64_t splitmix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}
/// Uniform in (0, 1): 53 random bits, never exactly 0 or 1.
double unit(uint64_t key, uint64_t i) {
  return (static_cast<double>(splitmix64(key ^ splitmix64(i)) >> 11) + 0.5) * 0x1.0p-53;
}
}  // namespace

Initializer Initializer::for_relu(int64_t fan_in) {
  return normal(static_cast<float>(std::sqrt(2.0 / static_cast<double>(fan_in))));
}

Initializer Initializer::for_siren(int64_t fan_in, bool first_layer) {
  double b = std::sqrt(6.0 / static_cast<double>(fan_in)) * (first_layer ? 30.0 : 1.0);
  return uniform(static_cast<float>(b));
}

std::vector<float> Initializer::values(const Shape& shape, uint64_t seed, uint64_t stream) const {
  auto n = static_cast<size_t>(shape.element_count());
  std::vector<float> v(n, kind == Kind::kConstant ? a : 0.0f);
  uint64_t key = splitmix64(seed * 0x100000001b3ull + splitmix64(stream));
  if (kind == Kind::kUniform) {
    for (size_t i = 0; i < n; ++i) v[i] = static_cast<float>((2.0 * unit(key, i) - 1.0) * a);
  } else if (kind == Kind::kNormal) {
    for (size_t i = 0; i < n; ++i) {
      double u1 = unit(key, 2 * i), u2 = unit(key, 2 * i + 1);
      v[i] = static_cast<float>(a * std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * M_PI * u2));
    }
  }
  return v;
}

}  // namespace descent
