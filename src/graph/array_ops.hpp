// Helpers shared by the Array method implementations (builder.cpp: primitives and views;
// composites.cpp: ops built from primitives). Internal to src/graph.
#pragma once
#include <string>

#include "descent/array.hpp"
#include "graph/builder.hpp"

namespace descent::detail::array_ops {

ScopeState& st(const Array& a);
NodeId id(const Array& a);
Array wrap(const Array& like, NodeId n);
/// Throws UsageError unless a and b come from the same live Scope.
void same_scope(const Array& a, const Array& b, const char* op);
DType dtype_of(const Array& a);
/// Throws UsageError naming `op` unless `a` has element type `want`.
void require(const Array& a, DType want, const std::string& op);
/// A scalar operand for `like`: a U32 literal for U32 arrays (exact integers only), else F32.
Array scalar(const Array& like, float v);

}  // namespace descent::detail::array_ops
