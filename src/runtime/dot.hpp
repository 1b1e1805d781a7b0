// Graphviz drawing of a compiled graph: IR nodes, with each kernel's members inside one box.
#pragma once
#include <string>

#include "runtime/state.hpp"

namespace descent::detail {
std::string graph_dot(const CompiledGraph& g);
}
