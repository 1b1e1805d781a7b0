// Memory plan: decides where every kernel output lives (a parameter's buffer when it may be
// written in place, else an arena range reused by liveness) and adds copy kernels where a
// parameter cannot be written in place. Pure planning: allocates nothing on the device.
#pragma once
#include <unordered_map>
#include <vector>

#include "fuse/kernel_spec.hpp"
#include "runtime/state.hpp"

namespace descent::detail {

struct MemoryPlan {
  std::unordered_map<NodeId, Storage> storage;
  uint64_t arena_bytes = 0;
};

/// May append copy kernels to `kernels` (parameter writes that cannot happen in place).
MemoryPlan plan_memory(const IrGraph& g, std::vector<KernelSpec>& kernels);

}  // namespace descent::detail
