// Pass rule: two nodes with the same op, attributes, shape and argument edges (source and view)
// compute the same value; users of the later one use the earlier one. Outputs never merge, Rand
// nodes merge only with the same uid, and pinned copies stay distinct.
#include <unordered_map>

#include "graph/passes/passes.hpp"
#include "util/hash.hpp"

namespace descent::detail {

namespace {
uint64_t key(const Node& n) {
  Hasher h;
  h.add(static_cast<int>(n.op));
  for (int64_t d : n.shape.dims()) h.add(d);
  h.add(n.literal);
  h.add(n.axis);
  h.add(n.param);
  h.add(n.uid);
  h.add(static_cast<int>(n.dtype));
  for (const Arg& a : n.args) {
    h.add(a.node);
    h.add(a.view.hash());
  }
  return h.value();
}

bool same(const Node& a, const Node& b) {
  if (a.op != b.op || a.shape != b.shape || a.axis != b.axis || a.param != b.param ||
      a.uid != b.uid || a.dtype != b.dtype || a.args.size() != b.args.size())
    return false;
  // Literals compare by bits so -0 and 0 (and NaN payloads) stay apart.
  if (std::memcmp(&a.literal, &b.literal, sizeof(float)) != 0) return false;
  for (size_t i = 0; i < a.args.size(); ++i)
    if (a.args[i].node != b.args[i].node || !(a.args[i].view == b.args[i].view)) return false;
  return true;
}
}  // namespace

bool eliminate_common_subexpressions(IrGraph& g) {
  std::unordered_map<uint64_t, std::vector<NodeId>> seen;
  std::vector<NodeId> replace(g.size(), kNoNode);
  bool changed = false;
  for (NodeId id = 0; id < g.size(); ++id) {
    Node& n = g[id];
    if (!n.alive) continue;
    for (Arg& a : n.args)
      if (replace[a.node] != kNoNode) a.node = replace[a.node];
    if (n.op == Op::Output || n.pinned) continue;
    auto& bucket = seen[key(n)];
    bool merged = false;
    for (NodeId other : bucket) {
      if (same(g[other], n)) {
        replace[id] = other;
        n.alive = false;
        merged = changed = true;
        break;
      }
    }
    if (!merged) bucket.push_back(id);
  }
  return changed;
}

}  // namespace descent::detail
