// IR container operations: users, compaction, validation and dumping.
#include "graph/ir.hpp"

#include <fmt/format.h>

#include "util/assert.hpp"

namespace descent::detail {

NodeId IrGraph::add(Node n) {
  nodes_.push_back(std::move(n));
  return static_cast<NodeId>(nodes_.size() - 1);
}

std::vector<std::vector<NodeId>> IrGraph::users() const {
  std::vector<std::vector<NodeId>> u(nodes_.size());
  for (NodeId id = 0; id < nodes_.size(); ++id) {
    if (!nodes_[id].alive) continue;
    for (const Arg& a : nodes_[id].args) u[a.node].push_back(id);
  }
  return u;
}

std::vector<NodeId> IrGraph::compact() {
  // Passes may append nodes that are used by earlier ones; order by a DFS post-order, visiting
  // arguments in order and roots by increasing id, so the result is deterministic.
  std::vector<NodeId> remap(nodes_.size(), kNoNode);
  std::vector<uint8_t> state(nodes_.size(), 0);
  std::vector<NodeId> order;
  std::vector<std::pair<NodeId, size_t>> stack;
  for (NodeId root = 0; root < nodes_.size(); ++root) {
    if (!nodes_[root].alive || state[root]) continue;
    stack.push_back({root, 0});
    state[root] = 1;
    while (!stack.empty()) {
      auto& [id, next] = stack.back();
      if (next < nodes_[id].args.size()) {
        NodeId a = nodes_[id].args[next++].node;
        DESCENT_ASSERT(nodes_[a].alive, "alive node uses a dead node");
        DESCENT_ASSERT(state[a] != 1, "cycle in IR");
        if (!state[a]) {
          state[a] = 1;
          stack.push_back({a, 0});
        }
      } else {
        state[id] = 2;
        order.push_back(id);
        stack.pop_back();
      }
    }
  }
  std::vector<Node> out;
  out.reserve(order.size());
  for (NodeId old : order) {
    remap[old] = static_cast<NodeId>(out.size());
    out.push_back(std::move(nodes_[old]));
  }
  for (Node& n : out)
    for (Arg& a : n.args) a.node = remap[a.node];
  nodes_ = std::move(out);
  return remap;
}

void IrGraph::validate() const {
  for (NodeId id = 0; id < nodes_.size(); ++id) {
    const Node& n = nodes_[id];
    if (!n.alive) continue;
    DESCENT_ASSERT(static_cast<int>(n.args.size()) == info(n.op).arity,
                   fmt::format("node {} ({}) has {} args", id, info(n.op).name, n.args.size()));
    for (const Arg& a : n.args) {
      DESCENT_ASSERT(a.node < id, fmt::format("node {} uses later node {}", id, a.node));
      DESCENT_ASSERT(nodes_[a.node].alive, fmt::format("node {} uses dead node {}", id, a.node));
      DESCENT_ASSERT(a.view.input.element_count() == nodes_[a.node].shape.element_count(),
                     fmt::format("node {} arg view {} does not fit source shape {}", id,
                                 a.view.str(), nodes_[a.node].shape.str()));
      bool gathered = n.op == Op::Gather && &a == &n.args[0];  // read at data-chosen positions
      if ((is_per_element(n.op) || n.op == Op::Output) && !gathered) {
        DESCENT_ASSERT(a.view.output == n.shape,
                       fmt::format("node {} reads {} but has shape {}", id, a.view.str(),
                                   n.shape.str()));
      }
    }
  }
}

std::string IrGraph::dump() const {
  std::string s;
  for (NodeId id = 0; id < nodes_.size(); ++id) {
    const Node& n = nodes_[id];
    if (!n.alive) continue;
    s += fmt::format("  %{} = {}", id, info(n.op).name);
    if (n.op == Op::Literal) s += fmt::format("({})", n.literal);
    if (n.op == Op::Input || n.op == Op::Output) s += fmt::format("(p{})", n.param);
    if (n.op == Op::Rand) s += fmt::format("(uid {})", n.uid);
    if (is_reduce(n.op)) s += fmt::format("(axis {})", n.axis);
    s += " " + n.shape.str();
    for (const Arg& a : n.args) {
      s += fmt::format(" %{}", a.node);
      if (!a.view.is_identity() || a.view.output != nodes_[a.node].shape)
        s += "{" + a.view.str() + "}";
    }
    s += "\n";
  }
  return s;
}

}  // namespace descent::detail
