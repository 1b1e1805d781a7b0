// Derivative rules: every DualArray op, its forward Array op and its backward closure, side by
// side in one place. Backward closures build ordinary Array ops (so gradients fuse like anything
// else). Tie rules (docs/semantics.md): min/max split the gradient equally at ties, as PyTorch;
// reduce_max sends it to the first maximum (or first NaN), as torch.max(dim). The tape plumbing
// is in dual_array.cpp; conv2d/max_pool2d (compositions of these rules) are in conv.cpp.
#include <fmt/format.h>

#include <numeric>

#include "descent/environment.hpp"
#include "graph/builder.hpp"
#include "graph/dual_array.hpp"

namespace descent {

using detail::ArrayAccess;
using detail::record;
using detail::unbroadcast;

namespace {
Array zeros_like(const Array& a) { return a.scope().literal(0.0f).broadcast(a.shape()); }

/// One-input op: value and d(value)/d(input) * g.
DualArray unary(const DualArray& a, const Array& value,
                std::function<Array(const Array& g)> rule) {
  return record(value, {a}, [rule](const Array& g) { return std::vector<Array>{rule(g)}; });
}

/// Two-input broadcasting op: the rules give full-shape gradients; unbroadcast sums them back.
DualArray binary(const DualArray& a, const DualArray& b, const Array& value,
                 std::function<Array(const Array& g)> rule_a,
                 std::function<Array(const Array& g)> rule_b) {
  Shape sa = a.shape(), sb = b.shape();
  bool need_a = a.requires_grad(), need_b = b.requires_grad();
  DualArray r = record(value, {a, b}, [=](const Array& g) {
    return std::vector<Array>{need_a ? unbroadcast(rule_a(g), sa) : Array(),
                              need_b ? unbroadcast(rule_b(g), sb) : Array()};
  });
  detail::note_rank_broadcast(r, sa, sb);
  return r;
}

/// Places g (extent `count` on `axis`) at positions start, start + step, ... (step > 0) of an axis
/// of extent n, zeros elsewhere: the gradient of a strided slice.
Array place_strided(const Array& g, int axis, int64_t n, int64_t start, int64_t step) {
  int64_t count = g.shape()[axis];
  Array spread = g;
  if (step > 1) {
    // [.., count, step, ..] whose element (i, r) is g[i] for r == 0 and 0 otherwise (position
    // i + r * count is past the end for r >= 1 and reads the zero padding), then merged.
    Shape gs = g.shape();
    detail::View v = detail::View::identity(gs);
    v.output = gs.insert_axis(axis + 1, step);
    for (int j = gs.rank(); j > axis + 1; --j) v.map[j] = v.map[j - 1];
    v.map[axis + 1] = detail::AxisMap{static_cast<int8_t>(axis), count};
    v.pad[axis] = detail::PadMode::kZero;
    detail::ScopeState& st = detail::ScopeAccess::state(*ArrayAccess::scope(g));
    Array spread2 = ArrayAccess::make(ArrayAccess::scope(g), st.view_node(ArrayAccess::node(g), v));
    spread = spread2.reshape(gs.with_axis(axis, count * step));
  }
  int64_t len = std::min(spread.shape()[axis], n - start);
  if (len < spread.shape()[axis]) spread = spread.slice(axis, 0, len);
  return spread.pad(axis, start, n - start - len);
}

/// Gradient of windows(axis, size, stride) on an axis of extent n: dx[y] sums g[w, e] over
/// w * stride + e == y. Written as Q = ceil(size / stride) shifted zero-padded views of g on a
/// [Y, stride] grid (y = Y * stride + r), summed per element: gather-style, deterministic.
Array windows_backward(const Array& g, int axis, int64_t n, int64_t size, int64_t stride) {
  Shape gs = g.shape();  // [.., count, size, ..]
  int64_t count = gs[axis];
  int64_t q_count = (size + stride - 1) / stride;
  int64_t y_count = count + q_count - 1;
  Scope* scope = ArrayAccess::scope(g);
  Array sum;
  for (int64_t q = 0; q < q_count; ++q) {
    detail::View v = detail::View::identity(gs);
    v.output = gs.with_axis(axis, y_count).with_axis(axis + 1, stride);
    v.offset[axis] = -q;
    v.offset[axis + 1] = q * stride;
    v.pad[axis] = detail::PadMode::kZero;
    v.pad[axis + 1] = detail::PadMode::kZero;
    Array term = ArrayAccess::make(scope, detail::ScopeAccess::state(*scope).view_node(ArrayAccess::node(g), v));
    sum = sum.valid() ? sum + term : term;
  }
  Shape merged = gs.with_axis(axis, y_count * stride).remove_axis(axis + 1);
  Array flat = sum.reshape(merged);
  int64_t have = y_count * stride;
  if (have > n) return flat.slice(axis, 0, n);
  if (have < n) return flat.pad(axis, 0, n - have);
  return flat;
}
}  // namespace

// ---- per-element math ----------------------------------------------------------------------

// The derivative of every op-table row with grad Rule (descent/ops.def): rules::<Name>(a, out, g)
// gives d(out)/da * g for a unary op; rules::<Name>::da / ::db the full-shape gradients of a binary
// one (binary() sums them back over broadcast axes). A row without its rule does not compile.
namespace rules {

Array Exp(const Array&, const Array& c, const Array& g) { return g * c; }
Array Log(const Array& a, const Array&, const Array& g) { return g / a; }
Array Sin(const Array& a, const Array&, const Array& g) { return g * a.cos(); }
Array Cos(const Array& a, const Array&, const Array& g) { return -(g * a.sin()); }
// g * 0.5 * rsqrt(a), not g * 0.5 / sqrt(a): NVIDIA's compiler rewrites a division by an in-kernel
// sqrt into a multiply by its rsqrt, so fused and unfused runs would round differently.
Array Sqrt(const Array& a, const Array&, const Array& g) { return g * 0.5f * a.rsqrt(); }
Array Rsqrt(const Array& a, const Array& c, const Array& g) { return g * -0.5f * c / a; }
Array Abs(const Array& a, const Array&, const Array& g) {
  Array zero = zeros_like(a);
  return a.gt(zero).select(g, a.lt(zero).select(-g, zero));
}
Array Recip(const Array&, const Array& c, const Array& g) { return -(g * c * c); }
Array Sigmoid(const Array&, const Array& c, const Array& g) { return g * c * (1.0f - c); }
Array Tanh(const Array&, const Array& c, const Array& g) { return g * (1.0f - c * c); }
// d erf(a)/da = 2 / sqrt(pi) exp(-a^2).
Array Erf(const Array& a, const Array&, const Array& g) { return g * (1.1283791670955126f * (-(a * a)).exp()); }
Array Relu(const Array& a, const Array&, const Array& g) { return a.gt(zeros_like(a)).select(g, zeros_like(a)); }

// pow, as torch.pow: d/da = b a^(b-1), 0 where b == 0 (so 0^0 has gradient 0, not 0 * inf);
// d/db = log(a) a^b, 0 where a == 0 and b >= 0.
struct Pow {
  static Array da(const Array& a, const Array& b, const Array&, const Array& g) {
    Array d = g * b * a.pow(b - 1.0f);
    return b.eq(zeros_like(b)).select(zeros_like(d), d);
  }
  static Array db(const Array& a, const Array& b, const Array& c, const Array& g) {
    Array d = g * a.log() * c;
    Array at_zero = a.eq(zeros_like(a)) * b.ge(zeros_like(b));
    return at_zero.select(zeros_like(d), d);
  }
};

// min/max, as torch.minimum/maximum: the operand that was picked gets the gradient, ties split it
// equally (g / 2 each), and where either operand is NaN both get it.
Array half_at_ties(const Array& a, const Array& b, const Array& g) { return a.eq(b).select(g * 0.5f, g); }
struct Min {
  static Array da(const Array& a, const Array& b, const Array&, const Array& g) {
    return a.gt(b).select(zeros_like(g), half_at_ties(a, b, g));
  }
  static Array db(const Array& a, const Array& b, const Array&, const Array& g) {
    return a.lt(b).select(zeros_like(g), half_at_ties(a, b, g));
  }
};
struct Max {
  static Array da(const Array& a, const Array& b, const Array&, const Array& g) {
    return a.lt(b).select(zeros_like(g), half_at_ties(a, b, g));
  }
  static Array db(const Array& a, const Array& b, const Array&, const Array& g) {
    return a.gt(b).select(zeros_like(g), half_at_ties(a, b, g));
  }
};

}  // namespace rules

// The DualArray methods of those rows: the forward Array op and its rule.
#define DESCENT_DUAL_Rule_1(Name, name)                                                   \
  DualArray DualArray::name() const {                                                     \
    Array a = value_, c = value_.name();                                                  \
    return unary(*this, c, [a, c](const Array& g) { return rules::Name(a, c, g); });      \
  }
#define DESCENT_DUAL_Rule_2(Name, name)                                                   \
  DualArray DualArray::name(const DualArray& o) const {                                   \
    Array a = value_, b = o.value_, c = value_.name(o.value_);                            \
    return binary(*this, o, c, [a, b, c](const Array& g) { return rules::Name::da(a, b, c, g); }, \
                  [a, b, c](const Array& g) { return rules::Name::db(a, b, c, g); });     \
  }
#define DESCENT_DUAL_Custom_0(Name, name)
#define DESCENT_DUAL_Custom_1(Name, name)
#define DESCENT_DUAL_Custom_2(Name, name)
#define DESCENT_DUAL_Custom_3(Name, name)
#define DESCENT_DUAL_None_0(Name, name)
#define DESCENT_DUAL_None_1(Name, name)
#define DESCENT_DUAL_None_2(Name, name)
#define DESCENT_DUAL_None_3(Name, name)
#define DESCENT_OP(Name, name, arity, kind, api, in, out, fold, grad, ...) \
  DESCENT_DUAL_##grad##_##arity(Name, name)
#include "descent/ops.def"
#undef DESCENT_OP

DualArray DualArray::square() const {
  Array a = value_;
  return unary(*this, a.square(), [a](const Array& g) { return g * (a * 2.0f); });
}
DualArray DualArray::leaky_relu(float alpha) const {
  Array a = value_;
  return unary(*this, a.leaky_relu(alpha), [a, alpha](const Array& g) {
    return a.gt(zeros_like(a)).select(g, g * alpha);
  });
}
DualArray DualArray::pow(float e) const {
  // The exponents Array::pow(float) computes as products (x^2 = x*x, ...) keep that exactness.
  Array a = value_;
  if (e == 0.0f) return DualArray(a.pow(e));
  return unary(*this, a.pow(e), [a, e](const Array& g) { return g * (e * a.pow(e - 1.0f)); });
}
DualArray DualArray::where(const Array& cond, const DualArray& o) const {
  Array value = cond.select(value_, o.value_);
  Array c = cond;
  return binary(*this, o, value, [c](const Array& g) { return c.select(g, zeros_like(g)); },
                [c](const Array& g) { return c.select(zeros_like(g), g); });
}

DualArray operator+(const DualArray& a, const DualArray& b) {
  return binary(a, b, a.value() + b.value(), [](const Array& g) { return g; },
                [](const Array& g) { return g; });
}
DualArray operator-(const DualArray& a, const DualArray& b) {
  return binary(a, b, a.value() - b.value(), [](const Array& g) { return g; },
                [](const Array& g) { return -g; });
}
DualArray operator*(const DualArray& a, const DualArray& b) {
  Array av = a.value(), bv = b.value();
  return binary(a, b, av * bv, [bv](const Array& g) { return g * bv; },
                [av](const Array& g) { return g * av; });
}
DualArray operator/(const DualArray& a, const DualArray& b) {
  Array bv = b.value(), c = a.value() / b.value();
  return binary(a, b, c, [bv](const Array& g) { return g / bv; },
                [bv, c](const Array& g) { return -(g * c / bv); });
}
DualArray operator-(const DualArray& a) {
  return unary(a, -a.value(), [](const Array& g) { return -g; });
}
DualArray operator+(const DualArray& a, float b) { return unary(a, a.value() + b, [](const Array& g) { return g; }); }
DualArray operator-(const DualArray& a, float b) { return unary(a, a.value() - b, [](const Array& g) { return g; }); }
DualArray operator*(const DualArray& a, float b) { return unary(a, a.value() * b, [b](const Array& g) { return g * b; }); }
DualArray operator/(const DualArray& a, float b) { return unary(a, a.value() / b, [b](const Array& g) { return g / b; }); }
DualArray operator+(float a, const DualArray& b) { return b + a; }
DualArray operator-(float a, const DualArray& b) { return unary(b, a - b.value(), [](const Array& g) { return -g; }); }
DualArray operator*(float a, const DualArray& b) { return b * a; }
DualArray operator/(float a, const DualArray& b) {
  Array bv = b.value(), c = a / b.value();
  return unary(b, c, [bv, c](const Array& g) { return -(g * c / bv); });
}
DualArray& operator+=(DualArray& a, const DualArray& b) { return a = a + b; }

// ---- reductions and matmul -----------------------------------------------------------------

DualArray DualArray::reduce_sum(int axis, bool keep_dims) const {
  Shape s = shape();
  int ax = s.axis(axis, "reduce_sum");
  return unary(*this, value_.reduce_sum(ax, keep_dims),
               [s, ax](const Array& g) { return g.reshape(s.with_axis(ax, 1)).broadcast(s); });
}
DualArray DualArray::reduce_sum(const std::vector<int>& axes, bool keep_dims) const {
  Shape s = shape();
  Shape kept = s;
  for (int a : axes) kept = kept.with_axis(s.axis(a, "reduce_sum"), 1);
  return unary(*this, value_.reduce_sum(axes, keep_dims),
               [s, kept](const Array& g) { return g.reshape(kept).broadcast(s); });
}
DualArray DualArray::reduce_max(int axis, bool keep_dims) const {
  Shape s = shape();
  int ax = s.axis(axis, "reduce_max");
  Array a = value_;
  return unary(*this, a.reduce_max(ax, keep_dims), [a, s, ax](const Array& g) {
    Array first = a.argmax(ax, true).broadcast(s);
    Array hit = a.scope().coord(s, ax).eq(first);
    return hit.select(g.reshape(s.with_axis(ax, 1)).broadcast(s), zeros_like(a));
  });
}

DualArray DualArray::matmul(const DualArray& o, MatMulPrecision precision) const {
  Array a = value_, b = o.value_;
  Shape sa = a.shape(), sb = b.shape();
  bool need_a = requires_grad(), need_b = o.requires_grad();
  return record(a.matmul(b, precision), {*this, o}, [=](const Array& g) {
    return std::vector<Array>{
        need_a ? unbroadcast(g.matmul(b.transpose(), precision), sa) : Array(),
        need_b ? unbroadcast(a.transpose().matmul(g, precision), sb) : Array()};
  });
}

// ---- views ---------------------------------------------------------------------------------

DualArray DualArray::broadcast(const Shape& to) const {
  Shape s = shape();
  return unary(*this, value_.broadcast(to), [s](const Array& g) { return unbroadcast(g, s); });
}
DualArray DualArray::reshape(const Shape& to) const {
  Shape s = shape();
  return unary(*this, value_.reshape(to), [s](const Array& g) { return g.reshape(s); });
}
DualArray DualArray::flatten() const {
  Shape s = shape();
  return unary(*this, value_.flatten(), [s](const Array& g) { return g.reshape(s); });
}
DualArray DualArray::insert_axis(int axis) const {
  Shape s = shape();
  return unary(*this, value_.insert_axis(axis), [s](const Array& g) { return g.reshape(s); });
}
DualArray DualArray::remove_axis(int axis) const {
  Shape s = shape();
  return unary(*this, value_.remove_axis(axis), [s](const Array& g) { return g.reshape(s); });
}
DualArray DualArray::transpose() const {
  return unary(*this, value_.transpose(), [](const Array& g) { return g.transpose(); });
}
DualArray DualArray::permute(const std::vector<int>& perm) const {
  Array v = value_.permute(perm);
  int r = shape().rank();
  std::vector<int> inverse(static_cast<size_t>(r));
  for (int i = 0; i < r; ++i) inverse[static_cast<size_t>(shape().axis(perm[static_cast<size_t>(i)]))] = i;
  return unary(*this, v, [inverse](const Array& g) { return g.permute(inverse); });
}
DualArray DualArray::slice(int axis, int64_t start, int64_t stop, int64_t step) const {
  Shape s = shape();
  int ax = s.axis(axis, "slice");
  Array v = value_.slice(ax, start, stop, step);
  int64_t n = s[ax], count = v.shape()[ax];
  // Normalised first position (as Array::slice computes it).
  int64_t first = start < 0 ? start + n : start;
  first = step > 0 ? std::clamp<int64_t>(first, 0, n) : std::clamp<int64_t>(first, -1, n - 1);
  return unary(*this, v, [=](const Array& g) {
    if (step > 0) return place_strided(g, ax, n, first, step);
    // Reverse g so positions increase, then place from the lowest position.
    Array rev = g.slice(ax, count - 1, -count - 1, -1);
    return place_strided(rev, ax, n, first + (count - 1) * step, -step);
  });
}
DualArray DualArray::pad(int axis, int64_t before, int64_t after, PadMode mode) const {
  Shape s = shape();
  int ax = s.axis(axis, "pad");
  int64_t n = s[ax];
  return unary(*this, value_.pad(ax, before, after, mode), [=](const Array& g) {
    Array inner = g.slice(ax, before, before + n);
    if (mode == PadMode::kZero) return inner;
    // Replicate: the edge elements also receive everything read from the padding.
    if (before > 0) inner = inner + g.slice(ax, 0, before).reduce_sum(ax, true).pad(ax, 0, n - 1);
    if (after > 0) inner = inner + g.slice(ax, before + n, before + n + after).reduce_sum(ax, true).pad(ax, n - 1, 0);
    return inner;
  });
}
DualArray DualArray::windows(int axis, int64_t size, int64_t stride) const {
  Shape s = shape();
  int ax = s.axis(axis, "windows");
  return unary(*this, value_.windows(ax, size, stride), [=](const Array& g) {
    return windows_backward(g, ax, s[ax], size, stride);
  });
}
DualArray DualArray::concat(const DualArray& other, int axis) const {
  return descent::concat({*this, other}, axis);
}
DualArray concat(const std::vector<DualArray>& parts, int axis) {
  if (parts.empty()) throw ShapeError("concat: no arrays given");
  std::vector<Array> values;
  for (const DualArray& p : parts) values.push_back(p.value());
  Array v = concat(values, axis);
  int ax = v.shape().axis(axis, "concat");
  std::vector<std::pair<int64_t, int64_t>> ranges;
  int64_t off = 0;
  for (const DualArray& p : parts) {
    int64_t n = p.shape()[ax];
    ranges.emplace_back(off, off + n);
    off += n;
  }
  return record(v, parts, [ranges, ax](const Array& g) {
    std::vector<Array> r;
    for (auto [b, e] : ranges) r.push_back(g.slice(ax, b, e));
    return r;
  });
}

// ---- gather and scatter --------------------------------------------------------------------

DualArray DualArray::gather(int axis, const Array& indices) const {
  Shape s = shape();
  int ax = s.axis(axis, "gather");
  return unary(*this, value_.gather(ax, indices), [s, ax, indices](const Array& g) {
    return g.scope().literal(0.0f).broadcast(s).scatter_add(g, ax, indices);
  });
}
DualArray DualArray::scatter_add(const DualArray& values, int axis, const Array& indices) const {
  int ax = shape().axis(axis, "scatter_add");
  bool need_acc = requires_grad(), need_values = values.requires_grad();
  return record(value_.scatter_add(values.value_, ax, indices), {*this, values},
                [=](const Array& g) {
                  return std::vector<Array>{need_acc ? g : Array(),
                                            need_values ? g.gather(ax, indices) : Array()};
                });
}

}  // namespace descent
