// Draws the optimised IR as a Graphviz digraph: one coloured box (subgraph cluster) per kernel,
// parameters as outlined nodes, literals as plain text, non-identity views as "V" edge labels.
#include "runtime/dot.hpp"

#include <fmt/format.h>

#include <map>

#include "util/hash.hpp"

namespace descent::detail {

namespace {
std::string node_label(const CompiledGraph& cg, NodeId id) {
  const Node& n = cg.ir[id];
  std::string name(info(n.op).name);
  if (n.op == Op::Literal) return fmt::format("{:g}", n.literal);
  if (n.op == Op::Input || n.op == Op::Output) {
    const auto& p = cg.env ? cg.env->params[n.param].name : std::string("?");
    return fmt::format("{}\\n{}\\n{}", name, p, n.shape.str());
  }
  if (is_reduce(n.op)) name += fmt::format("({})", n.axis);
  return fmt::format("{}\\n{}", name, n.shape.str());
}

std::string colour(size_t k) {
  Hasher h;
  h.add(k);
  uint64_t x = h.value();
  return fmt::format("#{:06x}", ((x >> 40 ^ x >> 20 ^ x) & 0x7f7f7f) | 0x808080);
}
}  // namespace

std::string graph_dot(const CompiledGraph& cg) {
  std::string s = "digraph G {\n  node [shape=box, fontname=\"Helvetica\"];\n";
  std::map<NodeId, size_t> kernel_of;
  for (size_t k = 0; k < cg.kernels.size(); ++k)
    for (NodeId m : cg.kernels[k].members) kernel_of.emplace(m, k);
  s += fmt::format("  label=\"{} kernel{}\";\n", cg.kernels.size(), cg.kernels.size() == 1 ? "" : "s");
  for (size_t k = 0; k < cg.kernels.size(); ++k) {
    s += fmt::format("  subgraph cluster{} {{\n    style=filled; color=\"{}\"; label=\"{}\";\n", k,
                     colour(k), cg.kernels[k].label);
    for (NodeId m : cg.kernels[k].members)
      if (cg.ir[m].op != Op::Output)
        s += fmt::format("    n{} [label=\"{}\", style=filled, fillcolor=white];\n", m, node_label(cg, m));
    s += "  }\n";
  }
  for (NodeId id = 0; id < cg.ir.size(); ++id) {
    const Node& n = cg.ir[id];
    if (!n.alive) continue;
    auto it = kernel_of.find(id);
    if (it == kernel_of.end() || n.op == Op::Output) {
      const char* style = n.op == Op::Literal ? "shape=plaintext" : "style=solid";
      s += fmt::format("  n{} [label=\"{}\", {}];\n", id, node_label(cg, id), style);
    }
    for (const Arg& a : n.args) {
      bool plain = a.view.is_identity() && a.view.output == cg.ir[a.node].shape;
      s += fmt::format("  n{} -> n{}{};\n", a.node, id, plain ? "" : " [label=\"V\"]");
    }
  }
  return s + "}\n";
}

}  // namespace descent::detail
