// Pass rule: a Mov's view is composed into each user's edge when one View can express both, so the
// user reads the Mov's source directly (zero copy). A Mov keeps the users it cannot fold into; it
// then becomes a real copy. Outputs always keep their Mov (a parameter write needs a buffer).
#include "graph/passes/passes.hpp"

namespace descent::detail {

namespace {
/// `outer` was built against a shape with inner.output's element count; make the shapes meet.
std::optional<View> fold(const View& inner, const View& outer) {
  if (inner.output == outer.input) return View::compose(inner, outer);
  auto re = inner.reshaped(outer.input);
  if (!re) return std::nullopt;
  return View::compose(*re, outer);
}
}  // namespace

bool fold_views(IrGraph& g) {
  bool changed = false;
  for (NodeId id = 0; id < g.size(); ++id) {
    Node& user = g[id];
    if (!user.alive) continue;
    for (Arg& a : user.args) {
      // Follow chains of Movs as far as they fold.
      while (true) {
        const Node& src = g[a.node];
        if (src.op != Op::Mov || src.pinned) break;
        auto v = fold(src.args[0].view, a.view);
        if (!v) break;
        // An Output takes a value only element for element (a reshape at most).
        if (user.op == Op::Output && !v->is_identity()) break;
        a = Arg{src.args[0].node, *v};
        changed = true;
      }
    }
  }
  if (changed) eliminate_dead_code(g);
  return changed;
}

}  // namespace descent::detail
