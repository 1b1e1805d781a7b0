// Reference (float64) semantics of elementwise ops, generated from the op table (descent/ops.def).
#include "graph/op.hpp"

#include <fmt/format.h>

#include <cmath>
#include <cstring>

#include "descent/errors.hpp"

#include "graph/device_checks.hpp"
#include "util/assert.hpp"

namespace descent::detail {

namespace {
// Reference helpers for U32 ops: values of U32 nodes are held as exact doubles.
uint32_t u(double x) { return static_cast<uint32_t>(x); }
double d(uint32_t x) { return static_cast<double>(x); }
double check_index(double a, double limit, double bit) {
  if (a >= limit) {
    throw IndexError(fmt::format("{} (index {}, must be < {})",
                                 device_check_messages(CheckKind::kIndex, u(bit)), a, limit));
  }
  return a;
}
double check_finite(double a, double bit) {
  // The device checks the float32 value: a float64 value beyond float32's range is infinite there.
  if (!std::isfinite(static_cast<float>(a)))
    throw NonFiniteError(fmt::format("{} (value {})", device_check_messages(CheckKind::kNonFinite, u(bit)), a));
  return a;
}
/// IEEE binary16 bits of `x` (rounded to float32 first, then to nearest half, ties to even;
/// overflow gives infinity, NaN stays NaN).
uint32_t half_bits(double x) {
  float f = static_cast<float>(x);
  uint32_t b;
  std::memcpy(&b, &f, 4);
  const uint32_t sign = (b >> 16) & 0x8000u, exp = (b >> 23) & 0xffu;
  uint32_t man = b & 0x7fffffu;
  if (exp == 0xffu) return sign | 0x7c00u | (man ? 0x200u : 0u);
  const int e = static_cast<int>(exp) - 127 + 15;
  if (e >= 31) return sign | 0x7c00u;
  if (e <= 0) {  // half subnormal (or zero): units of 2^-24
    if (e < -10) return sign;
    man |= 0x800000u;
    const int shift = 14 - e;
    uint32_t h = man >> shift, rem = man & ((1u << shift) - 1), half = 1u << (shift - 1);
    if (rem > half || (rem == half && (h & 1u))) ++h;
    return sign | h;
  }
  uint32_t h = (static_cast<uint32_t>(e) << 10) | (man >> 13), rem = man & 0x1fffu;
  if (rem > 0x1000u || (rem == 0x1000u && (h & 1u))) ++h;  // a carry into the exponent is right
  return sign | h;
}
double to_u32(double a) {
  if (!(a > 0.0)) return 0.0;
  if (a >= 4294967296.0) return 4294967295.0;
  return std::trunc(a);
}
}  // namespace

double eval_elementwise(Op op, double a, double b, double c) {
  (void)b;
  (void)c;
  switch (op) {
#define DESCENT_OP(Name, name, arity, kind, api, in, out, fold, grad, tol, glsl, ref) \
  case Op::Name:                                      \
    return (ref);
#include "descent/ops.def"
#undef DESCENT_OP
  }
  DESCENT_ASSERT(false, "unknown op");
  return 0.0;
}

}  // namespace descent::detail
