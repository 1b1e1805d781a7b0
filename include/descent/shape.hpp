// Shape: the extents of a dense row-major array (rank 0..8; rank 0 is a scalar of one element).
// Pure value type with no device or graph knowledge. Negative axes count from the end.
#pragma once
#include <array>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

namespace descent {

inline constexpr int kMaxRank = 8;

/// Element type of an array. Every element is 4 bytes; U32 arrays hold unsigned integers
/// (indices, hashes) and support integer arithmetic, comparisons, gather and conversions.
enum class DType : uint8_t { kF32, kU32 };
inline const char* dtype_name(DType t) { return t == DType::kF32 ? "f32" : "u32"; }

/// Extents of an array, outermost first. Extents are >= 1 (no empty arrays).
///   Shape s{2, 3};  s.rank() == 2;  s.element_count() == 6;  s[-1] == 3
class Shape {
 public:
  Shape() = default;  // rank 0: a scalar
  Shape(std::initializer_list<int64_t> extents);
  explicit Shape(const std::vector<int64_t>& extents);

  int rank() const { return rank_; }
  /// Extent of `axis` (negative counts from the end); ShapeError naming the axis and the shape
  /// when it is outside [-rank, rank).
  int64_t operator[](int axis) const { return dims_[checked(axis)]; }
  int64_t& at(int axis) { return dims_[checked(axis)]; }
  int64_t element_count() const;
  std::vector<int64_t> dims() const { return {dims_.begin(), dims_.begin() + rank_}; }
  /// Row-major strides in elements (innermost 1).
  std::vector<int64_t> strides() const;

  /// Maps a possibly negative axis to [0, rank); throws ShapeError naming `op` when out of range.
  int axis(int axis, const char* op = "axis") const;

  Shape with_axis(int axis, int64_t extent) const;  // extent of one axis replaced
  Shape insert_axis(int axis, int64_t extent) const;  // axis in [0, rank]
  Shape remove_axis(int axis) const;
  Shape permuted(const std::vector<int>& perm) const;

  bool operator==(const Shape& o) const;
  bool operator!=(const Shape& o) const { return !(*this == o); }
  std::string str() const;  // "[2, 3]"

 private:
  int normalise(int axis) const { return axis < 0 ? axis + rank_ : axis; }
  /// One unsigned compare covers both ends (a negative result wraps to a huge value); the
  /// throwing path is out of line so the check stays cheap where shapes are indexed in loops.
  size_t checked(int axis) const {
    const unsigned a = static_cast<unsigned>(normalise(axis));
    if (a >= static_cast<unsigned>(rank_)) bad_index(axis);
    return a;
  }
  [[noreturn]] void bad_index(int axis) const;
  std::array<int64_t, kMaxRank> dims_{};
  int rank_ = 0;
};

/// NumPy broadcasting of two shapes; throws ShapeError naming `op` and both shapes.
Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op);

}  // namespace descent
