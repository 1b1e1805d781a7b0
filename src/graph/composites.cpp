// Ops built from primitives: gather (a primitive with its own checks), scatter_add (the dense
// strategy here, the sort-based one in scatter_sort.cpp), one_hot, argmax and concat. They add
// IR nodes through the same checked helpers as builder.cpp.
#include <fmt/format.h>

#include <cstring>
#include <limits>

#include "descent/environment.hpp"
#include "graph/array_ops.hpp"
#include "graph/device_checks.hpp"
#include "graph/scatter.hpp"

namespace descent {

using detail::ArrayAccess;
using detail::NodeId;
using detail::Op;
using detail::View;
using namespace detail::array_ops;

Array Array::gather(int axis, const Array& indices) const {
  same_scope(*this, indices, "gather");
  Shape s = shape(), is = indices.shape();
  int ax = s.axis(axis, "gather");
  if (is.rank() != 1) {
    throw ShapeError(fmt::format("gather: indices must be 1-D, got {} (values {})", is.str(), s.str()));
  }
  require(indices, DType::kU32, "gather (indices)");
  Shape out = s.with_axis(ax, is[0]);
  // The index arg is read at each output element's coordinate along `axis`.
  View iv;
  iv.input = is;
  iv.output = out;
  iv.map[ax] = detail::AxisMap{0, 1};
  NodeId g = st(*this).add(Op::Gather, out, {detail::Arg{node_, View::identity(s)},
                                              detail::Arg{ArrayAccess::node(indices), iv}});
  st(*this).ir[g].axis = ax;
  return wrap(*this, g);
}
Scope& Array::scope() const { return *ArrayAccess::scope(*this); }


Array Array::scatter_add(const Array& values, int axis, const Array& indices) const {
  same_scope(*this, values, "scatter_add");
  same_scope(*this, indices, "scatter_add");
  require(*this, DType::kF32, "scatter_add (accumulator)");
  require(values, DType::kF32, "scatter_add (values)");
  require(indices, DType::kU32, "scatter_add (indices)");
  Shape s = shape(), vs = values.shape(), is = indices.shape();
  int ax = s.axis(axis, "scatter_add");
  if (is.rank() != 1 || vs != s.with_axis(ax, is[0])) {
    throw ShapeError(fmt::format("scatter_add: accumulator {} along axis {} needs values of shape {} "
                                 "and 1-D indices, got values {} and indices {}", s.str(), axis,
                                 s.with_axis(ax, is[0]).str(), vs.str(), is.str()));
  }
  if (s.rank() >= kMaxRank)
    throw ShapeError(fmt::format("scatter_add: shape {} already has the maximum rank {}", s.str(), kMaxRank));
  int64_t m = s[ax], n = is[0];
  Array checked = indices.check_index(static_cast<uint32_t>(m),
                                      "scatter_add: an index was out of range (the update was "
                                      "dropped); check the index arrays");
  if (detail::scatter_uses_sort(m, n)) {
    bool pairs = detail::scatter_strategy_override() == detail::ScatterStrategy::kSortPairs;
    return detail::scatter_add_sorted(*this, values, ax, checked, pairs);
  }
  // Dense strategy. Contribution matrix T = s with a new axis (length n) after `axis`: entry
  // (.., j, k, ..) is values[.., k, ..] where indices[k] == j, else 0; summing over k gives the
  // scattered sums.
  Shape t = s.insert_axis(ax + 1, n);
  std::vector<int64_t> idims(static_cast<size_t>(t.rank()), 1);
  idims[static_cast<size_t>(ax + 1)] = n;
  Array k_index = checked.reshape(Shape(idims)).broadcast(t);
  Array j_index = scope().coord(t, ax).to_u32();
  Array contrib = j_index.eq(k_index).select(values.insert_axis(ax).broadcast(t), scalar(*this, 0.0f));
  return *this + contrib.reduce_sum(ax + 1);
}

Array Array::one_hot(int64_t n) const {
  if (n < 1) throw ShapeError(fmt::format("one_hot: class count {} must be >= 1", n));
  Shape s = shape();
  if (s.rank() >= kMaxRank)
    throw ShapeError(fmt::format("one_hot: shape {} already has the maximum rank {}", s.str(), kMaxRank));
  Shape out = s.insert_axis(s.rank(), n);
  return scope().coord(out, -1).eq(insert_axis(s.rank()).broadcast(out));
}

Array Array::check_index(uint32_t limit, const std::string& message) const {
  if (dtype() != DType::kU32)
    throw UsageError(fmt::format("check_index: needs u32 indices, got {} {}", dtype_name(dtype()), shape().str()));
  auto& s = st(*this);
  NodeId bit = s.literal_u32(detail::device_check_bit(detail::CheckKind::kIndex, message));
  return wrap(*this, s.elementwise(Op::CheckIndex, {node_, s.literal_u32(limit), bit}, "check_index"));
}

void Array::check_finite(const std::string& what) const {
  if (dtype() != DType::kF32)
    throw UsageError(fmt::format("check_finite: needs a float32 array, got {} {}", dtype_name(dtype()), shape().str()));
  auto& s = st(*this);
  std::string message = fmt::format("check_finite: '{}' held NaN or infinity (NaN or Inf in the inputs, "
                                    "or a diverging update: check the data and the learning rate)", what);
  NodeId bit = s.literal_u32(detail::device_check_bit(detail::CheckKind::kNonFinite, message));
  s.elementwise(Op::CheckFinite, {node_, bit}, "check_finite");  // a root: dead-code elimination keeps it
}

Array Array::argmax(int axis, bool keep_dims) const {
  Shape s = shape();
  int ax = s.axis(axis, "argmax");
  // Lowest index among the maxima: the largest of -index over the positions equal to the max, or,
  // where the maximum is NaN (the row holds one), over the NaN positions.
  Array m = reduce_max(ax, true).broadcast(s);
  Array neg_index = -scope().coord(s, ax);
  Array lowest_inf = scope().literal(-std::numeric_limits<float>::infinity());
  Array hit = eq(m).max(ne(*this));
  Array r = -(hit.select(neg_index, lowest_inf).reduce_max(ax, true));
  return keep_dims ? r : r.remove_axis(ax);
}

Array Array::concat(const Array& other, int axis) const { return descent::concat({*this, other}, axis); }

Array concat(const std::vector<Array>& parts, int axis) {
  if (parts.empty()) throw ShapeError("concat: no arrays given");
  Shape s0 = parts[0].shape();
  int ax = s0.axis(axis, "concat");
  int64_t total = 0;
  std::vector<int64_t> offsets;
  for (size_t i = 0; i < parts.size(); ++i) {
    same_scope(parts[0], parts[i], "concat");
    Shape si = parts[i].shape();
    bool ok = si.rank() == s0.rank();
    for (int j = 0; ok && j < s0.rank(); ++j) ok = j == ax || si[j] == s0[j];
    if (!ok) {
      std::string all;
      for (const Array& p : parts) all += (all.empty() ? "" : ", ") + p.shape().str();
      throw ShapeError(fmt::format("concat: shapes {} differ outside axis {}", all, axis));
    }
    offsets.push_back(total);
    total += si[ax];
  }
  if (parts.size() == 1) return parts[0];
  Shape out = s0.with_axis(ax, total);
  // Later parts win where earlier ones end: r = coord < offset_i ? r_earlier : part_i.
  Array coord = parts[0].scope().coord(out, ax);
  Array r = parts[0].pad(ax, 0, total - parts[0].shape()[ax]);
  for (size_t i = 1; i < parts.size(); ++i) {
    int64_t n = parts[i].shape()[ax];
    Array padded = parts[i].pad(ax, offsets[i], total - offsets[i] - n);
    r = coord.lt(parts[0].scope().literal(static_cast<float>(offsets[i]))).select(r, padded);
  }
  return r;
}


}  // namespace descent
