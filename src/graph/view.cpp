// View algebra (see view.hpp for the address formula). Every transform keeps the invariant that
// a kNone input axis is never read out of range; anything not expressible returns nullopt.
#include "graph/view.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "util/assert.hpp"
#include "util/hash.hpp"

namespace descent::detail {

View View::identity(const Shape& shape) {
  View v;
  v.input = shape;
  v.output = shape;
  for (int j = 0; j < shape.rank(); ++j) v.map[j] = AxisMap{static_cast<int8_t>(j), 1};
  return v;
}

View View::broadcast(const Shape& from, const Shape& to) { return identity(from).broadcast_to(to); }

View View::broadcast_to(const Shape& to) const {
  View v = *this;
  v.output = to;
  int lead = to.rank() - output.rank();
  DESCENT_ASSERT(lead >= 0, "broadcast to a lower rank");
  for (int j = 0; j < to.rank(); ++j) {
    int src = j - lead;
    if (src < 0) {
      v.map[j] = AxisMap{};
    } else if (output[src] == to[j]) {
      v.map[j] = map[src];
    } else {
      DESCENT_ASSERT(output[src] == 1, "broadcast of a non-unit axis");
      v.map[j] = AxisMap{};
    }
  }
  return v;
}

View View::permuted(const std::vector<int>& perm) const {
  View v = *this;
  v.output = output.permuted(perm);
  for (size_t j = 0; j < perm.size(); ++j) v.map[j] = map[perm[j]];
  return v;
}

View View::sliced(int axis, int64_t start, int64_t count, int64_t step) const {
  View v = *this;
  v.output = output.with_axis(axis, count);
  AxisMap& m = v.map[axis];
  if (m.input_axis >= 0) {
    v.offset[m.input_axis] += m.step * start;
    m.step *= step;
  }
  return v;
}

View View::windowed(int axis, int64_t count, int64_t size, int64_t stride) const {
  View v = *this;
  v.output = output.with_axis(axis, count).insert_axis(axis + 1, size);
  AxisMap m = map[axis];
  for (int j = output.rank() - 1; j > axis; --j) v.map[j + 1] = map[j];
  v.map[axis] = m.input_axis >= 0 ? AxisMap{m.input_axis, m.step * stride} : AxisMap{};
  v.map[axis + 1] = m;
  return v;
}

std::optional<View> View::padded(int axis, int64_t before, int64_t after, PadMode mode) const {
  // Padding output axis j is the composition of this view with a padded identity of our output.
  View outer = identity(output);
  outer.output = output.with_axis(axis, output[axis] + before + after);
  outer.offset[axis] = -before;
  outer.pad[axis] = mode;
  return compose(*this, outer);
}

std::optional<std::vector<AxisRun>> matching_axis_runs(const std::vector<int64_t>& a,
                                                       const std::vector<int64_t>& b) {
  std::vector<AxisRun> runs;
  size_t i = 0, k = 0;
  while (true) {
    while (i < a.size() && a[i] == 1) ++i;
    while (k < b.size() && b[k] == 1) ++k;
    if (i >= a.size() && k >= b.size()) return runs;
    if (i >= a.size() || k >= b.size()) return std::nullopt;
    size_t i2 = i + 1, k2 = k + 1;
    int64_t pa = a[i], pb = b[k];
    while (pa != pb) {
      if (pa < pb) {
        if (i2 >= a.size()) return std::nullopt;
        pa *= a[i2++];
      } else {
        if (k2 >= b.size()) return std::nullopt;
        pb *= b[k2++];
      }
    }
    runs.push_back({i, i2, k, k2});
    i = i2;
    k = k2;
  }
}

/// Reshape that keeps the input space (so padding and bounds stay as they are): each group of
/// old axes and new axes with equal products is one old axis split into new ones (they walk its
/// input axis with proportional steps), or several old axes walking one input axis contiguously
/// (steps s_i = s_{i+1} * n_{i+1}) merged into one; anything else is not expressible.
std::optional<View> View::reshaped_per_axis(const Shape& to) const {
  std::vector<int64_t> od = output.dims(), nd = to.dims();
  auto runs = matching_axis_runs(od, nd);
  if (!runs) return std::nullopt;
  View v = *this;
  v.output = to;
  for (int j = 0; j < kMaxRank; ++j) v.map[j] = AxisMap{};  // unit axes read coordinate 0
  for (const AxisRun& run : *runs) {
    const size_t i = run.a0, i2 = run.a1, k = run.b0, k2 = run.b1;
    std::vector<size_t> olds, news;
    for (size_t a = i; a < i2; ++a)
      if (od[a] != 1) olds.push_back(a);
    for (size_t b = k; b < k2; ++b)
      if (nd[b] != 1) news.push_back(b);
    AxisMap m;
    if (olds.size() == 1) {
      m = map[olds[0]];
    } else if (news.size() == 1) {
      // Merge: all old axes on one input axis (or all broadcast), contiguous in steps.
      m = map[olds.back()];
      for (size_t q = 0; q + 1 < olds.size(); ++q) {
        const AxisMap& a = map[olds[q]];
        const AxisMap& b = map[olds[q + 1]];
        if (a.input_axis != b.input_axis) return std::nullopt;
        if (a.input_axis >= 0 && a.step != b.step * od[olds[q + 1]]) return std::nullopt;
      }
    } else {
      return std::nullopt;
    }
    // New axes of the group walk m's input axis, the last one with m's step.
    int64_t step = m.step;
    for (size_t q = news.size(); q-- > 0;) {
      v.map[news[q]] = m.input_axis < 0 ? AxisMap{} : AxisMap{m.input_axis, step};
      step *= nd[news[q]];
    }
  }
  return v;
}

std::optional<View> View::reshaped(const Shape& to) const {
  DESCENT_ASSERT(to.element_count() == output.element_count(), "reshape changes element count");
  int64_t base = 0;
  if (is_linear(&base) && base == 0 && input.element_count() == to.element_count()) {
    return identity(to);  // reinterpret the dense source buffer with the new shape
  }
  if (any_bounds()) return reshaped_per_axis(to);
  // Affine view: merge/split axes while strides stay consistent (as for strided arrays).
  std::vector<int64_t> st = output_strides(&base);
  std::vector<int64_t> od = output.dims(), nd = to.dims();
  std::vector<int64_t> new_st(nd.size(), 0);  // unit axes: stride 0
  auto runs = matching_axis_runs(od, nd);
  if (!runs) return std::nullopt;
  for (const AxisRun& run : *runs) {
    const size_t i = run.a0, i2 = run.a1, k = run.b0, k2 = run.b1;
    // Old axes in the group must be mergeable (ignoring unit axes).
    int64_t inner_stride = 0;
    bool first = true;
    int64_t expect = 0;
    for (size_t a = i2; a-- > i;) {
      if (od[a] == 1) continue;
      if (first) {
        inner_stride = st[a];
        expect = st[a] * od[a];
        first = false;
      } else {
        if (st[a] != expect) return std::nullopt;
        expect = st[a] * od[a];
      }
    }
    int64_t acc = inner_stride;
    for (size_t b = k2; b-- > k;) {
      new_st[b] = nd[b] == 1 ? 0 : acc;
      acc *= nd[b];
    }
  }
  View v;
  v.input = Shape{input.element_count()};
  v.output = to;
  v.offset[0] = base;
  for (int j = 0; j < to.rank(); ++j) {
    v.map[j] = (new_st[j] == 0 && to[j] != 1) ? AxisMap{} : AxisMap{0, new_st[j]};
  }
  return v;
}

std::optional<View> View::compose(const View& inner, const View& outer) {
  DESCENT_ASSERT(inner.output == outer.input, "compose: shape mismatch");
  View r;
  r.input = inner.input;
  r.output = outer.output;
  r.offset = inner.offset;
  r.pad = inner.pad;
  for (int j = 0; j < outer.input.rank(); ++j) {
    const AxisMap& a = inner.map[j];
    bool bounded = outer.needs_bounds(j);
    if (a.input_axis < 0) {
      // Inner broadcasts this axis: the coordinate is irrelevant, unless it must read zeros.
      if (bounded && outer.pad[j] == PadMode::kZero) return std::nullopt;
      continue;
    }
    int i = a.input_axis;
    if (bounded) {
      // The bound test on middle axis j moves to input axis i only if j walks all of i, alone,
      // one element per step (then c_i in range <=> middle coordinate in range).
      if (a.step != 1 && a.step != -1) return std::nullopt;
      if (inner.input[i] != inner.output[j]) return std::nullopt;
      for (int k = 0; k < inner.output.rank(); ++k)
        if (k != j && inner.map[k].input_axis == i) return std::nullopt;
      auto [lo, hi] = inner.input_range(i);
      if (lo != 0 || hi != inner.input[i] - 1) return std::nullopt;
      r.pad[i] = outer.pad[j];
    }
    r.offset[i] += a.step * outer.offset[j];
  }
  for (int k = 0; k < outer.output.rank(); ++k) {
    const AxisMap& b = outer.map[k];
    if (b.input_axis < 0) {
      r.map[k] = AxisMap{};
      continue;
    }
    const AxisMap& a = inner.map[b.input_axis];
    r.map[k] = a.input_axis < 0 ? AxisMap{} : AxisMap{a.input_axis, a.step * b.step};
  }
  return r;
}

std::pair<int64_t, int64_t> View::input_range(int i) const {
  int64_t lo = offset[i], hi = offset[i];
  for (int j = 0; j < output.rank(); ++j) {
    if (map[j].input_axis != i) continue;
    int64_t span = map[j].step * (output[j] - 1);
    if (span < 0) lo += span;
    else hi += span;
  }
  return {lo, hi};
}

bool View::needs_bounds(int i) const {
  auto [lo, hi] = input_range(i);
  return lo < 0 || hi >= input[i];
}

bool View::any_bounds() const {
  for (int i = 0; i < input.rank(); ++i)
    if (needs_bounds(i)) return true;
  return false;
}

bool View::unit_stride(int axis) const {
  if (any_bounds()) return false;
  int64_t base = 0;
  return output_strides(&base)[static_cast<size_t>(axis)] == 1;
}

std::vector<int64_t> View::output_strides(int64_t* base) const {
  auto in_st = input.strides();
  int64_t b = 0;
  for (int i = 0; i < input.rank(); ++i) b += offset[i] * in_st[i];
  std::vector<int64_t> st(output.rank(), 0);
  for (int j = 0; j < output.rank(); ++j)
    if (map[j].input_axis >= 0) st[j] = map[j].step * in_st[map[j].input_axis];
  if (base) *base = b;
  return st;
}

bool View::is_linear(int64_t* base) const {
  if (any_bounds()) return false;
  int64_t b = 0;
  auto st = output_strides(&b);
  auto dense = output.strides();
  for (int j = 0; j < output.rank(); ++j)
    if (output[j] != 1 && st[j] != dense[j]) return false;
  if (base) *base = b;
  return true;
}

bool View::is_identity() const {
  int64_t base = -1;
  return input.element_count() == output.element_count() && is_linear(&base) && base == 0;
}

bool View::address(const int64_t* o, int64_t* flat) const {
  auto in_st = input.strides();
  int64_t f = 0;
  for (int i = 0; i < input.rank(); ++i) {
    int64_t c = offset[i];
    for (int j = 0; j < output.rank(); ++j)
      if (map[j].input_axis == i) c += map[j].step * o[j];
    if (c < 0 || c >= input[i]) {
      DESCENT_ASSERT(pad[i] != PadMode::kNone, "view reads out of range on an unpadded axis");
      if (pad[i] == PadMode::kZero) return false;
      c = std::clamp<int64_t>(c, 0, input[i] - 1);
    }
    f += c * in_st[i];
  }
  *flat = f;
  return true;
}

bool View::operator==(const View& o) const {
  if (input != o.input || output != o.output) return false;
  for (int i = 0; i < input.rank(); ++i) {
    if (offset[i] != o.offset[i]) return false;
    // Pad modes only matter where they can trigger.
    bool b = needs_bounds(i);
    if (b != o.needs_bounds(i) || (b && pad[i] != o.pad[i])) return false;
  }
  for (int j = 0; j < output.rank(); ++j)
    if (!(map[j] == o.map[j])) return false;
  return true;
}

size_t View::hash() const {
  Hasher h;
  for (int64_t d : input.dims()) h.add(d);
  h.add(-1);
  for (int64_t d : output.dims()) h.add(d);
  for (int i = 0; i < input.rank(); ++i) {
    h.add(offset[i]);
    h.add(needs_bounds(i) ? static_cast<int>(pad[i]) + 1 : 0);
  }
  for (int j = 0; j < output.rank(); ++j) {
    h.add(map[j].input_axis);
    h.add(map[j].step);
  }
  return h.value();
}

std::string View::str() const {
  std::string s = fmt::format("{}->{} (", input.str(), output.str());
  for (int j = 0; j < output.rank(); ++j) {
    if (j) s += ", ";
    if (map[j].input_axis < 0) s += "bc";
    else s += fmt::format("i{}*{}", map[j].input_axis, map[j].step);
  }
  s += ") off[";
  for (int i = 0; i < input.rank(); ++i) {
    if (i) s += ",";
    s += fmt::format("{}", offset[i]);
    if (needs_bounds(i)) s += pad[i] == PadMode::kZero ? "z" : "c";
  }
  return s + "]";
}

}  // namespace descent::detail
