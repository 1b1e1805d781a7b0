// Op enum and per-op properties, generated from ops.def. The only list of primitive ops.
// Adding a row there makes every static_assert(kOpCount == N) next to a hand-written switch fail
// until that switch handles the new op.
#pragma once
#include <cstdint>
#include <string_view>

namespace descent::detail {

enum class OpKind : uint8_t { Leaf, Sink, Elementwise, Reduce, MatMul };

enum class Op : uint8_t {
#define DESCENT_OP(name, str, arity, kind, glsl, ref) name,
#include "graph/ops.def"
#undef DESCENT_OP
};

inline constexpr int kOpCount = 0
#define DESCENT_OP(name, str, arity, kind, glsl, ref) +1
#include "graph/ops.def"
#undef DESCENT_OP
    ;

struct OpInfo {
  std::string_view name;
  int arity;
  OpKind kind;
  std::string_view glsl;  // expression over a, b, c (elementwise ops only)
};

inline constexpr OpInfo kOpInfo[kOpCount] = {
#define DESCENT_OP(name, str, arity, kind, glsl, ref) {str, arity, OpKind::kind, glsl},
#include "graph/ops.def"
#undef DESCENT_OP
};

constexpr const OpInfo& info(Op op) { return kOpInfo[static_cast<int>(op)]; }
constexpr bool is_elementwise(Op op) { return info(op).kind == OpKind::Elementwise; }
constexpr bool is_reduce(Op op) { return info(op).kind == OpKind::Reduce; }
constexpr bool is_matmul(Op op) { return op == Op::MatMul; }
/// Ops that compute a stored value (a kernel output can hold them).
constexpr bool is_computed(Op op) { return is_elementwise(op) || is_reduce(op) || is_matmul(op); }
/// Leaves computed from coordinates alone: inlined into every consumer, never stored.
constexpr bool is_inline_leaf(Op op) { return op == Op::Literal || op == Op::Coord || op == Op::Rand; }

/// Float64 reference semantics of an elementwise op (src/ref and constant folding use this).
double eval_elementwise(Op op, double a, double b, double c);

}  // namespace descent::detail
