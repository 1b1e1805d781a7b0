// Internal DualArray plumbing shared by dual_array.cpp (tape, loss, sweep), autodiff.cpp (the
// derivative rules) and conv.cpp: recording an op on the scope's tape. No derivative rules here.
#pragma once
#include <vector>

#include "descent/dual_array.hpp"
#include "graph/tape.hpp"

namespace descent {

struct DualAccess {
  static DualArray make(const Array& value, uint32_t tape) { return DualArray(value, tape); }
  static uint32_t tape(const DualArray& d) { return d.tape_; }
};

namespace detail {

/// `value` computed from `inputs`: a constant when no input needs a gradient, else a tape entry
/// whose `backward` returns one gradient per input (empty Array: none).
DualArray record(const Array& value, const std::vector<DualArray>& inputs, Backward backward);

/// Notes a differentiable two-operand op whose operands have different ranks and were both
/// broadcast to the same extents (pred [B, 1] - target [B] -> [B, B]): set_loss warns when the loss
/// depends on one. Does nothing for other ops.
void note_rank_broadcast(const DualArray& result, const Shape& a, const Shape& b);

/// Sums `g` (shape `from`, a broadcast of `to`) back to shape `to` (NumPy broadcasting rules).
Array unbroadcast(const Array& g, const Shape& to);

}  // namespace detail
}  // namespace descent
