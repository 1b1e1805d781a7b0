// ScopeState: the graph under construction behind Scope and Array. Adds nodes with shape checks
// and typed errors; view ops become Mov nodes whose edge carries the View (folded by the passes).
#pragma once
#include <map>
#include <string>

#include "descent/array.hpp"
#include "graph/ir.hpp"

namespace descent::detail {

struct EnvironmentState;

struct ScopeState {
  explicit ScopeState(EnvironmentState* e) : env(e) {}
  EnvironmentState* env;
  Scope* owner = nullptr;
  IrGraph ir;
  uint32_t next_rand_uid = 0;
  int colour = 0;
  std::map<uint32_t, NodeId> param_value;   // current value of a parameter in this scope
  std::map<uint32_t, NodeId> param_output;  // the Output node writing it

  const Shape& shape(NodeId id) const { return ir[id].shape; }
  NodeId add(Op op, const Shape& shape, std::vector<Arg> args);
  NodeId literal(float v);
  /// A Mov node reading `src` through `view` (view.input must be src's shape).
  NodeId view_node(NodeId src, const View& view);
  /// A copy of src (materialised unless fused away).
  NodeId copy(NodeId src);
  NodeId elementwise(Op op, const std::vector<NodeId>& operands, const char* name);
  NodeId reduce(Op op, NodeId src, int axis, const char* name);
};

/// Access to Array internals for the library (not part of the public API).
struct ArrayAccess {
  static Array make(Scope* s, NodeId id) { return Array(s, id); }
  static NodeId node(const Array& a) { return a.node_; }
  static Scope* scope(const Array& a) { return a.scope_; }
};

}  // namespace descent::detail
