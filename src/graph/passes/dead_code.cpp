// Pass rule: a node survives only if some Output (parameter write) or device check that must run
// without users (check_finite) depends on it.
#include "graph/passes/passes.hpp"

namespace descent::detail {

bool eliminate_dead_code(IrGraph& g) {
  std::vector<uint8_t> live(g.size(), 0);
  for (NodeId id = static_cast<NodeId>(g.size()); id-- > 0;) {
    Node& n = g[id];
    if (!n.alive) continue;
    if (n.op == Op::Output || n.op == Op::CheckFinite) live[id] = 1;
    if (!live[id]) continue;
    for (const Arg& a : n.args) live[a.node] = 1;
  }
  bool changed = false;
  for (NodeId id = 0; id < g.size(); ++id) {
    if (g[id].alive && !live[id]) {
      g[id].alive = false;
      changed = true;
    }
  }
  return changed;
}

}  // namespace descent::detail
