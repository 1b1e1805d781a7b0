// Reference (float64) semantics of elementwise ops, generated from ops.def.
#include "graph/op.hpp"

#include <fmt/format.h>

#include <cmath>

#include "descent/errors.hpp"

#include "util/assert.hpp"

namespace descent::detail {

namespace {
// Reference helpers for U32 ops: values of U32 nodes are held as exact doubles.
uint32_t u(double x) { return static_cast<uint32_t>(x); }
double d(uint32_t x) { return static_cast<double>(x); }
double check_index(double a, double limit) {
  if (a >= limit) {
    throw IndexError(fmt::format("index {} out of range (must be < {})", a, limit));
  }
  return a;
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
#define DESCENT_OP(name, str, arity, kind, glsl, ref) \
  case Op::name:                                      \
    return (ref);
#include "graph/ops.def"
#undef DESCENT_OP
  }
  DESCENT_ASSERT(false, "unknown op");
  return 0.0;
}

}  // namespace descent::detail
