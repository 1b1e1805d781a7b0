// The float64 reference interpreter: the executable specification of the IR and the test oracle.
// Evaluates the graph exactly as built (before any pass), one node at a time, with no fusion, no
// views folded and no device. Slow by design; never used to run real workloads.
#pragma once
#include <cstdint>
#include <map>
#include <vector>

#include "graph/ir.hpp"

namespace descent::detail {

struct RefOptions {
  uint32_t seed = 0;
  bool round_to_f32 = false;  // round every node's value to float32 (exact-class comparisons)
};

/// Values of every node (index = node id; dead nodes are empty).
std::vector<std::vector<double>> reference_values(
    const IrGraph& g, const std::map<uint32_t, std::vector<double>>& params, const RefOptions& o);

/// New parameter values written by the graph's Output nodes.
std::map<uint32_t, std::vector<double>> reference_run(
    const IrGraph& g, const std::map<uint32_t, std::vector<double>>& params, const RefOptions& o);

}  // namespace descent::detail
