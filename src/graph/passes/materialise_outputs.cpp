// Pass rule: every Output reads, through an identity view, a computed node that no other Output
// reads; anything else (a parameter, a literal, a view) gets a copy node, so each parameter write
// has exactly one kernel output to bind. Matmul operands that are inlined leaves (literals,
// coordinates, random numbers) get a copy too, and so do gathered values: those kernels read
// them from memory.
#include <set>

#include "graph/passes/passes.hpp"

namespace descent::detail {

bool materialise_outputs(IrGraph& g) {
  bool changed = false;
  std::set<NodeId> claimed;
  size_t n0 = g.size();
  for (NodeId id = 0; id < n0; ++id) {
    if (!g[id].alive || g[id].op != Op::Output) continue;
    Arg a = g[id].args[0];
    const Node& src = g[a.node];
    bool computed = is_computed(src.op);
    bool ok = computed && a.view.is_identity() && !claimed.count(a.node);
    if (ok) {
      claimed.insert(a.node);
      continue;
    }
    Node copy;
    copy.op = Op::Mov;
    copy.shape = g[id].shape;
    copy.dtype = g[a.node].dtype;
    copy.args = {a};
    copy.colour = g[id].colour;
    copy.pinned = true;
    NodeId c = g.add(std::move(copy));
    g[id].args[0] = Arg{c, View::identity(g[id].shape)};
    claimed.insert(c);
    changed = true;
  }
  for (NodeId id = 0; id < n0; ++id) {
    bool gather = g[id].op == Op::Gather;
    if (!g[id].alive || (!is_matmul(g[id].op) && !gather)) continue;
    for (size_t i = 0; i < (gather ? 1u : 2u); ++i) {
      Arg a = g[id].args[i];
      if (!is_inline_leaf(g[a.node].op)) continue;
      Node copy;
      copy.op = Op::Mov;
      copy.shape = a.view.output;
      copy.dtype = g[a.node].dtype;
      copy.args = {a};
      copy.pinned = true;
      NodeId c = g.add(std::move(copy));
      g[id].args[i] = Arg{c, View::identity(a.view.output)};
      changed = true;
    }
  }
  return changed;
}

}  // namespace descent::detail
