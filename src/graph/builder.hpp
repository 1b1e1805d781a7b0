// ScopeState: the graph under construction behind Scope and Array. Adds nodes with shape checks
// and typed errors; view ops become Mov nodes whose edge carries the View (folded by the passes).
#pragma once
#include <map>
#include <string>

#include "descent/array.hpp"
#include "graph/ir.hpp"
#include "graph/parameter_table.hpp"
#include "graph/tape.hpp"

namespace descent::detail {

struct ScopeState {
  explicit ScopeState(const ParameterTable* p);
  ~ScopeState();
  const ParameterTable* params;  // the Environment's parameters (never null)
  Scope* owner = nullptr;
  uint32_t serial = 0;  // unique per scope in this process; Arrays carry it
  IrGraph ir;
  uint32_t next_rand_uid = 0;
  int colour = 0;
  std::map<uint32_t, NodeId> param_value;   // current value of a parameter in this scope
  std::map<uint32_t, NodeId> param_output;  // the Output node writing it
  std::map<uint32_t, std::string> param_writer;  // who wrote it (for the one-write-per-graph error)
  Tape tape;                                // differentiable ops (DualArray)

  const Shape& shape(NodeId id) const { return ir[id].shape; }
  NodeId add(Op op, const Shape& shape, std::vector<Arg> args);
  NodeId literal(float v);
  NodeId literal_u32(uint32_t v);
  DType dtype(NodeId id) const { return ir[id].dtype; }
  /// A Mov node reading `src` through `view` (view.input must be src's shape).
  NodeId view_node(NodeId src, const View& view);
  /// A copy of src (materialised unless fused away).
  NodeId copy(NodeId src);
  NodeId elementwise(Op op, const std::vector<NodeId>& operands, const char* name);
  NodeId reduce(Op op, NodeId src, int axis, const char* name);
};

/// The library's access to a Scope's recording state (tests use TestAccess).
struct ScopeAccess {
  static ScopeState& state(Scope& s);
};

/// The live Scope with this serial, or nullptr once it has ended.
Scope* live_scope(uint32_t serial);

/// Access to Array internals for the library (not part of the public API).
struct ArrayAccess {
  static Array make(Scope* s, NodeId id);
  static NodeId node(const Array& a) { return a.node_; }
  /// The Array's scope; throws UsageError for an empty Array or one whose Scope has ended.
  static Scope* scope(const Array& a);
};

}  // namespace descent::detail
