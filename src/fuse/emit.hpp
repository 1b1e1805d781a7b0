// Emission: turns one cluster of IR nodes into a KernelSpec (instructions, bindings, label).
#pragma once
#include <vector>

#include "fuse/kernel_spec.hpp"

namespace descent::detail {

/// `members` in increasing id order; `anchor` is the reduce (last member) or matmul (first member)
/// node the kernel is built around, or kNoNode for a purely elementwise kernel.
KernelSpec emit_kernel(const IrGraph& g, const std::vector<std::vector<NodeId>>& users,
                       const std::vector<NodeId>& members, const std::vector<int>& cluster_of,
                       int cluster, NodeId reduce);

}  // namespace descent::detail
