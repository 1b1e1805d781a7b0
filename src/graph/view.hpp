// View: the one zero-copy mechanism. Maps each coordinate a consumer sees (output space) to an
// element of a dense source buffer (input space), with optional clamp/zero padding per input axis.
// Pure value algebra: no graph, no device. Used by passes, codegen (index expressions) and src/ref.
#pragma once
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "descent/shape.hpp"

namespace descent::detail {

/// What a read outside the source's extent on one input axis returns.
enum class PadMode : uint8_t {
  kNone,   // never out of range (checked when the view is built)
  kClamp,  // replicate the edge element
  kZero,   // read 0
};

/// Axes a[a0, a1) of one shape and b[b0, b1) of another whose extents have the same product.
struct AxisRun {
  size_t a0, a1, b0, b1;
};

/// Splits two shapes with equal element counts into matching runs of axes (the grouping a
/// reshape needs). Unit axes between runs belong to none; unit axes inside a run are part of
/// it; every non-unit axis is in exactly one run. nullopt when the counts differ.
std::optional<std::vector<AxisRun>> matching_axis_runs(const std::vector<int64_t>& a,
                                                       const std::vector<int64_t>& b);

/// One output axis: which input axis it walks and with what step; input_axis < 0 is a broadcast.
struct AxisMap {
  int8_t input_axis = -1;
  int64_t step = 0;
  bool operator==(const AxisMap&) const = default;
};

/// Address of output coordinate o on input axis i:  c_i = offset[i] + sum over output axes j that
/// map to i of step_j * o_j; out-of-range c_i is clamped or reads 0 according to pad[i].
/// flat index = sum_i c_i * stride_i(input). Several output axes may map to one input axis
/// (windows), none may (a broadcast source axis of extent 1 is still fine).
struct View {
  Shape input;   // dense shape of the source buffer (its element count is the buffer's)
  Shape output;  // shape the consumer sees
  std::array<int64_t, kMaxRank> offset{};
  std::array<AxisMap, kMaxRank> map{};
  std::array<PadMode, kMaxRank> pad{};

  static View identity(const Shape& shape);
  /// NumPy broadcast of `from` to `to` (caller has checked compatibility).
  static View broadcast(const Shape& from, const Shape& to);

  // Transforms of the output space; each returns the composed view (always possible).
  View broadcast_to(const Shape& to) const;
  View permuted(const std::vector<int>& perm) const;
  View sliced(int axis, int64_t start, int64_t count, int64_t step) const;
  /// Splits output axis `axis` (extent n) into (count, size) axes, window w element e reading
  /// position w*stride + e. Used for convolution and pooling windows.
  View windowed(int axis, int64_t count, int64_t size, int64_t stride) const;

  // Transforms that are not always expressible; nullopt means "materialise the source first".
  std::optional<View> padded(int axis, int64_t before, int64_t after, PadMode mode) const;
  std::optional<View> reshaped(const Shape& to) const;
  /// reshaped() for views with bounds: splits and merges along single input axes only.
  std::optional<View> reshaped_per_axis(const Shape& to) const;
  /// `outer` reads the output of `inner`: returns one view doing both, if expressible.
  static std::optional<View> compose(const View& inner, const View& outer);

  /// Min and max coordinate reached on input axis i over the whole output.
  std::pair<int64_t, int64_t> input_range(int i) const;
  /// True when input axis i can leave [0, extent) and so needs a clamp or zero test.
  bool needs_bounds(int i) const;
  bool any_bounds() const;
  /// Element address of output linear index l is base + l (no padding, no broadcast of extent>1).
  bool is_linear(int64_t* base = nullptr) const;
  /// is_linear with base 0 and equal element counts: the consumer may use its own linear index.
  bool is_identity() const;
  /// Effective element stride of each output axis (0 for broadcast), and the base address; only
  /// meaningful when !any_bounds().
  std::vector<int64_t> output_strides(int64_t* base) const;
  /// True when consecutive elements along output axis `axis` are adjacent in memory (no bounds).
  bool unit_stride(int axis) const;

  /// Reference address of one output coordinate. Returns false when it reads zero padding.
  bool address(const int64_t* out_coord, int64_t* flat) const;

  bool operator==(const View& o) const;
  size_t hash() const;
  std::string str() const;
};

}  // namespace descent::detail
