// Emission: turns one cluster of IR nodes into a KernelSpec (instructions, bindings, label).
#pragma once
#include <array>
#include <vector>

#include "fuse/kernel_spec.hpp"

namespace descent::detail {

/// `members` in increasing id order; `anchor` is the reduce (last member) or matmul (first member)
/// node the kernel is built around, or kNoNode for a purely elementwise kernel. `prologue`: for a
/// matmul, the producers of operands A and B it computes in its loads (kNoNode: read memory).
KernelSpec emit_kernel(const IrGraph& g, const std::vector<std::vector<NodeId>>& users,
                       const std::vector<NodeId>& members, const std::vector<int>& cluster_of,
                       int cluster, NodeId reduce, std::array<NodeId, 2> prologue = {kNoNode, kNoNode});

}  // namespace descent::detail
