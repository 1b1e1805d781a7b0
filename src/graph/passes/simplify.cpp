// Pass rule: remove arithmetic that cannot change a value (x*1, 1*x, x+(-0), (-0)+x, x-0, x/1, unpinned
// identity copies) and fold ops whose operands are all literals, but only ops that are exact in
// float32 (add, sub, mul, neg, min, max, compares, select), so folding never changes a result.
#include <cmath>

#include "graph/passes/passes.hpp"

namespace descent::detail {

namespace {
bool is_literal(const IrGraph& g, const Arg& a, float v) {
  const Node& n = g[a.node];
  return n.op == Op::Literal && n.literal == v && !std::signbit(n.literal) == !std::signbit(v);
}

bool foldable(Op op) {
  static_assert(kOpCount == 51, "a new op: decide whether folding it is exact");
  switch (op) {
    case Op::Mov: case Op::Neg: case Op::Add: case Op::Sub: case Op::Mul: case Op::Min:
    case Op::Max: case Op::Lt: case Op::Le: case Op::Gt: case Op::Ge: case Op::Eq: case Op::Ne:
    case Op::Select: case Op::Abs: case Op::Relu:
      return true;
    default:
      return false;
  }
}

float fold_f32(Op op, float a, float b, float c) {
  // Evaluate in float32 exactly as the GPU does (these ops are exact or correctly rounded).
  switch (op) {
    case Op::Add: return a + b;
    case Op::Sub: return a - b;
    case Op::Mul: return a * b;
    default: return static_cast<float>(eval_elementwise(op, a, b, c));
  }
}

/// True if some user reads `id` through a view that can leave its extent (zero/clamp padding).
bool padded_use(const IrGraph& g, NodeId id) {
  for (const Node& u : g.nodes())
    if (u.alive)
      for (const Arg& a : u.args)
        if (a.node == id && a.view.any_bounds()) return true;
  return false;
}

/// Replace every use of `from` by `to` read through the use's own view (shapes must agree).
void forward(IrGraph& g, NodeId from, const Arg& to) {
  for (Node& n : g.nodes()) {
    if (!n.alive) continue;
    for (Arg& a : n.args) {
      if (a.node != from) continue;
      auto v = a.view.input == to.view.output ? View::compose(to.view, a.view) : std::nullopt;
      if (v) a = Arg{to.node, *v};
    }
  }
}
}  // namespace

bool simplify_arithmetic(IrGraph& g) {
  bool changed = false;
  for (NodeId id = 0; id < g.size(); ++id) {
    Node& n = g[id];
    if (!n.alive || !is_elementwise(n.op) || n.dtype != DType::kF32) continue;
    bool all_literal = !n.args.empty();
    for (const Arg& a : n.args)
      all_literal = all_literal && g[a.node].op == Op::Literal && g[a.node].dtype == DType::kF32;
    if (all_literal && foldable(n.op) && n.shape.element_count() == 1 && !n.pinned &&
        !padded_use(g, id)) {
      float v[3] = {0, 0, 0};
      for (size_t i = 0; i < n.args.size(); ++i) v[i] = g[n.args[i].node].literal;
      n.literal = fold_f32(n.op, v[0], v[1], v[2]);
      n.op = Op::Literal;
      n.args.clear();
      n.shape = Shape{};
      // Users read a rank-0 literal now: re-base their views on it.
      for (Node& u : g.nodes())
        for (Arg& a : u.args)
          if (a.node == id) a.view = View::broadcast(Shape{}, a.view.output);
      changed = true;
      continue;
    }
    const Arg* keep = nullptr;
    if (n.op == Op::Mul && is_literal(g, n.args[1], 1.0f)) keep = &n.args[0];
    else if (n.op == Op::Mul && is_literal(g, n.args[0], 1.0f)) keep = &n.args[1];
    // x + (+0) is not x when x is -0; x + (-0) is x for every x, x - (+0) too.
    else if (n.op == Op::Add && is_literal(g, n.args[1], -0.0f)) keep = &n.args[0];
    else if (n.op == Op::Add && is_literal(g, n.args[0], -0.0f)) keep = &n.args[1];
    else if (n.op == Op::Sub && is_literal(g, n.args[1], 0.0f)) keep = &n.args[0];
    else if (n.op == Op::Div && is_literal(g, n.args[1], 1.0f)) keep = &n.args[0];
    else if (n.op == Op::Mov && !n.pinned) keep = &n.args[0];
    if (!keep || keep->view.output != n.shape) continue;
    // x + 0 with x of a smaller (broadcast) shape would change the shape: only forward when the
    // kept operand already has the node's shape through its view.
    bool used_by_output = false;
    for (const Node& u : g.nodes())
      if (u.alive && u.op == Op::Output)
        for (const Arg& a : u.args) used_by_output = used_by_output || a.node == id;
    if (used_by_output) continue;
    forward(g, id, *keep);
    changed = true;
  }
  if (changed) eliminate_dead_code(g);
  return changed;
}

}  // namespace descent::detail
