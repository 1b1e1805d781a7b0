// The IR: a DAG of nodes in topological order (every argument has a smaller id than its user).
// Views live on argument edges. Built by the Scope, rewritten by the passes in src/graph/passes,
// read by src/fuse and src/ref. Knows nothing about kernels, GLSL or Vulkan.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "descent/shape.hpp"
#include "graph/op.hpp"
#include "graph/view.hpp"

namespace descent::detail {

using NodeId = uint32_t;
inline constexpr NodeId kNoNode = 0xffffffffu;

struct Arg {
  NodeId node = kNoNode;
  View view;  // view.input has the element count of `node`; view.output is what this node reads
};

struct Node {
  Op op = Op::Mov;
  Shape shape;
  std::vector<Arg> args;
  // Attributes (meaning depends on op):
  float literal = 0.0f;    // Literal value
  int axis = 0;            // Reduce axis; Coord: always 0 (a Coord node is [n] with value i)
  uint32_t param = 0;      // Input/Output parameter id
  uint32_t uid = 0;        // Rand stream id (unique per scope)
  int colour = 0;          // layer colour for .dot drawings
  bool pinned = false;     // Mov the user asked to materialise (Array::copy): never folded away
  DType dtype = DType::kF32;  // U32 literals keep their bits in `literal`
  bool alive = true;
};

class IrGraph {
 public:
  NodeId add(Node n);
  Node& operator[](NodeId id) { return nodes_[id]; }
  const Node& operator[](NodeId id) const { return nodes_[id]; }
  size_t size() const { return nodes_.size(); }
  std::vector<Node>& nodes() { return nodes_; }
  const std::vector<Node>& nodes() const { return nodes_; }

  /// Users of each node (alive nodes only), in increasing id order, one entry per argument edge.
  std::vector<std::vector<NodeId>> users() const;
  /// Removes dead nodes and renumbers so ids stay topological. Returns old->new id map.
  std::vector<NodeId> compact();
  /// Checks the invariants (topological args, arities, view shapes); DESCENT_ASSERT on failure.
  void validate() const;
  std::string dump() const;  // one line per node, for DESCENT_DEBUG=5

 private:
  std::vector<Node> nodes_;
};

}  // namespace descent::detail
