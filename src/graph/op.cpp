// Reference (float64) semantics of elementwise ops, generated from ops.def.
#include "graph/op.hpp"

#include <cmath>

#include "util/assert.hpp"

namespace descent::detail {

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
