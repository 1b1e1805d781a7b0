// Fusion: groups IR nodes into kernels. Elementwise nodes join a producer's kernel when they read
// it at the same linear index and no path leaves and re-enters the kernel; a reduction absorbs the
// elementwise kernel that only feeds it; a matmul takes its consumers as an epilogue and computes
// operands made by a single elementwise node (feeding only matmuls) in its loads. No GLSL and
// no Vulkan here.
#pragma once
#include <vector>

#include "fuse/kernel_spec.hpp"
#include "graph/ir.hpp"

namespace descent::detail {

struct FusionOptions {
  bool enabled = true;   // false: one kernel per computed node (DESCENT_DISABLE_FUSION=1)
  int max_bindings = 15; // buffers one kernel may bind (push-constant space)
  // Inline a single-node elementwise producer (e.g. an im2col copy) into the operand loads of the
  // float32 matmuls that are its only users, so its result is never stored.
  bool matmul_prologue = true;
};

/// Kernels in a valid execution order (dependencies first; ties by smallest node id).
std::vector<KernelSpec> build_kernels(const IrGraph& g, const FusionOptions& options);

}  // namespace descent::detail
