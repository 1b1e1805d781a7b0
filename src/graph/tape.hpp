// Tape: the record of differentiable ops in one Scope (reverse-mode autodiff). Entry i holds the
// tape ids of its inputs and a closure mapping the gradient of its value to the inputs' gradients.
// The sweep (src/graph/dual_array.cpp) walks it once, in reverse, after set_loss(). Holds no
// derivative rules itself (those are in src/graph/autodiff.cpp).
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "descent/array.hpp"

namespace descent::detail {

using Backward = std::function<std::vector<Array>(const Array& grad)>;

struct TapeEntry {
  std::vector<uint32_t> inputs;  // tape ids; 0 for inputs that need no gradient
  Backward backward;             // empty for leaves (parameters)
  Shape shape;
};

struct Tape {
  std::vector<TapeEntry> entries = std::vector<TapeEntry>(1);  // entry 0: "no gradient"
  uint32_t loss = 0;                      // tape id of the loss once set_loss() ran
  Array seed;                             // dLoss/dLoss: 1 / batch, broadcast
  bool swept = false;
  std::vector<Array> grads;               // by tape id, after the sweep (invalid: no gradient)
  std::map<uint32_t, uint32_t> param_leaf;  // parameter id -> leaf tape id
  std::vector<uint32_t> param_order;        // parameter ids in order of first scope.parameter()
  std::map<uint32_t, std::string> rank_broadcasts;  // tape id -> "[B, 1] and [B] -> [B, B]" 
};

}  // namespace descent::detail
