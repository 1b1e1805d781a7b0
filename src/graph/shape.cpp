// Shape arithmetic and NumPy broadcasting (pure value code; no graph, no device).
#include "descent/shape.hpp"

#include <fmt/format.h>

#include "descent/errors.hpp"

namespace descent {

Shape::Shape(std::initializer_list<int64_t> extents) : Shape(std::vector<int64_t>(extents)) {}

Shape::Shape(const std::vector<int64_t>& extents) {
  if (extents.size() > static_cast<size_t>(kMaxRank)) {
    throw ShapeError(fmt::format("shape has rank {} but descent supports at most {} axes",
                                 extents.size(), kMaxRank));
  }
  rank_ = static_cast<int>(extents.size());
  int64_t count = 1;
  for (int i = 0; i < rank_; ++i) {
    if (extents[i] < 1) {
      throw ShapeError(fmt::format("shape [{}] has extent {} on axis {}: every extent must be >= 1",
                                   fmt::join(extents, ", "), extents[i], i));
    }
    dims_[i] = extents[i];
    count *= extents[i];
    // Shaders index with 32-bit signed integers; keep every array addressable by them.
    if (count > (int64_t{1} << 31) - 1) {
      throw ShapeError(fmt::format("shape [{}] has more than 2^31-1 elements",
                                   fmt::join(extents, ", ")));
    }
  }
}

int64_t Shape::element_count() const {
  int64_t n = 1;
  for (int i = 0; i < rank_; ++i) n *= dims_[i];
  return n;
}

std::vector<int64_t> Shape::strides() const {
  std::vector<int64_t> s(rank_);
  int64_t acc = 1;
  for (int i = rank_ - 1; i >= 0; --i) {
    s[i] = acc;
    acc *= dims_[i];
  }
  return s;
}

int Shape::axis(int axis, const char* op) const {
  int a = normalise(axis);
  if (a < 0 || a >= rank_) {
    throw ShapeError(fmt::format("{}: axis {} is out of range for shape {} (rank {})", op, axis,
                                 str(), rank_));
  }
  return a;
}

void Shape::bad_index(int axis) const {
  throw ShapeError(
      fmt::format("Shape[]: axis {} is out of range for shape {} (rank {}); axes "
                  "count from 0, or from -1 at the end",
                  axis, str(), rank_));
}

Shape Shape::with_axis(int ax, int64_t extent) const {
  auto d = dims();
  d[static_cast<size_t>(axis(ax))] = extent;
  return Shape(d);
}

Shape Shape::insert_axis(int ax, int64_t extent) const {
  if (ax < 0) ax += rank_ + 1;
  if (ax < 0 || ax > rank_) {
    throw ShapeError(fmt::format("insert_axis: axis {} out of range for shape {}", ax, str()));
  }
  auto d = dims();
  d.insert(d.begin() + ax, extent);
  return Shape(d);
}

Shape Shape::remove_axis(int ax) const {
  auto d = dims();
  d.erase(d.begin() + axis(ax, "remove_axis"));
  return Shape(d);
}

Shape Shape::permuted(const std::vector<int>& perm) const {
  std::vector<int64_t> d(perm.size());
  for (size_t i = 0; i < perm.size(); ++i) d[i] = (*this)[perm[i]];
  return Shape(d);
}

bool Shape::operator==(const Shape& o) const {
  if (rank_ != o.rank_) return false;
  for (int i = 0; i < rank_; ++i)
    if (dims_[i] != o.dims_[i]) return false;
  return true;
}

std::string Shape::str() const { return fmt::format("[{}]", fmt::join(dims(), ", ")); }

Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op) {
  int r = std::max(a.rank(), b.rank());
  std::vector<int64_t> out(r);
  for (int i = 0; i < r; ++i) {
    int ia = a.rank() - r + i, ib = b.rank() - r + i;
    int64_t da = ia >= 0 ? a[ia] : 1, db = ib >= 0 ? b[ib] : 1;
    if (da != db && da != 1 && db != 1) {
      throw ShapeError(fmt::format("{}: shapes {} and {} cannot be broadcast together (axis {} "
                                   "has {} vs {})", op, a.str(), b.str(), i - r, da, db));
    }
    out[i] = std::max(da, db);
  }
  return Shape(out);
}

}  // namespace descent
