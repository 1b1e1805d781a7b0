// Op enum and per-op properties, generated from the op table (include/descent/ops.def): the only
// list of primitive ops. Every property a pass or generator needs is a column there; code that
// must treat ops one by one switches over Op without a `default:`, so a new row is a compile
// error (-Werror=switch) wherever it is not handled.
#pragma once
#include <cstdint>
#include <string_view>

namespace descent::detail {

enum class OpKind : uint8_t { Leaf, Sink, Elementwise, Gather, Reduce, MatMul };
/// How the public API reaches an op (ops.def "api").
enum class OpApi : uint8_t { Method, Custom, None };
/// Operand types (ops.def "in").
enum class OperandRule : uint8_t { F32, U32, Any, Sel, Gth, None };
/// Result type (ops.def "out").
enum class ResultRule : uint8_t { F32, U32, Arg0, Arg1, Set };
/// Differentiation (ops.def "grad").
enum class GradRule : uint8_t { Rule, Custom, None };
/// Test tolerance class (docs/testing.md).
enum class TolClass : uint8_t { A, B, C, D, N };

enum class Op : uint8_t {
#define DESCENT_OP(Name, name, arity, kind, api, in, out, fold, grad, tol, glsl, ref) Name,
#include "descent/ops.def"
#undef DESCENT_OP
};

inline constexpr int kOpCount = 0
#define DESCENT_OP(Name, name, arity, kind, api, in, out, fold, grad, tol, glsl, ref) +1
#include "descent/ops.def"
#undef DESCENT_OP
    ;

struct OpInfo {
  std::string_view name;
  int arity;
  OpKind kind;
  OpApi api;
  OperandRule operands;
  ResultRule result;
  bool fold;              // exact in float32: constant folding may evaluate it
  GradRule grad;
  TolClass tolerance;
  std::string_view glsl;  // expression over a, b, c (elementwise ops only)
};

namespace op_table {
constexpr bool Y = true, N = false;
}  // namespace op_table

inline constexpr OpInfo kOpInfo[kOpCount] = {
#define DESCENT_OP(Name, name, arity, kind, api, in, out, fold, grad, tol, glsl, ref)                    \
  {#name,           arity,           OpKind::kind,   OpApi::api, OperandRule::in, ResultRule::out, \
   op_table::fold, GradRule::grad, TolClass::tol, glsl},
#include "descent/ops.def"
#undef DESCENT_OP
};

constexpr const OpInfo& info(Op op) { return kOpInfo[static_cast<int>(op)]; }
/// A pure function of its operands at one element (fusable by linear index).
constexpr bool is_elementwise(Op op) { return info(op).kind == OpKind::Elementwise; }
/// Computed at one output element from reads of its operands: Elementwise and Gather.
constexpr bool is_per_element(Op op) { return is_elementwise(op) || info(op).kind == OpKind::Gather; }
constexpr bool is_reduce(Op op) { return info(op).kind == OpKind::Reduce; }
constexpr bool is_matmul(Op op) { return info(op).kind == OpKind::MatMul; }
/// Ops that compute a stored value (a kernel output can hold them).
constexpr bool is_computed(Op op) { return is_per_element(op) || is_reduce(op) || is_matmul(op); }
/// Leaves computed from coordinates alone: inlined into every consumer, never stored.
constexpr bool is_inline_leaf(Op op) { return op == Op::Literal || op == Op::Coord || op == Op::Rand; }
/// Integer op on u32 operands.
constexpr bool takes_u32(Op op) { return info(op).operands == OperandRule::U32; }

/// Float64 reference semantics of an elementwise op (src/ref and constant folding use this).
double eval_elementwise(Op op, double a, double b, double c);

}  // namespace descent::detail
