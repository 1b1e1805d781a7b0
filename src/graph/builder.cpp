// Graph construction: Array methods and operators record IR nodes through ScopeState, checking
// shapes and axes up front and throwing ShapeError with the op name and every shape involved.
#include "graph/builder.hpp"
#include "graph/array_ops.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <limits>
#include <mutex>
#include <numeric>
#include <unordered_map>

#include "descent/environment.hpp"
#include "util/assert.hpp"

namespace descent {
namespace detail {

namespace {
// Live scopes by serial. Scopes are created and ended on the building thread; the mutex keeps
// concurrent graph building in different threads safe.
std::mutex g_scopes_mutex;
std::unordered_map<uint32_t, Scope*> g_scopes;
uint32_t g_next_serial = 1;
}  // namespace

ScopeState::ScopeState(const ParameterTable* p) : params(p) {
  std::lock_guard<std::mutex> lock(g_scopes_mutex);
  serial = g_next_serial++;
  if (g_next_serial == 0) g_next_serial = 1;
}

ScopeState::~ScopeState() {
  std::lock_guard<std::mutex> lock(g_scopes_mutex);
  g_scopes.erase(serial);
}

Scope* live_scope(uint32_t serial) {
  std::lock_guard<std::mutex> lock(g_scopes_mutex);
  auto it = g_scopes.find(serial);
  return it == g_scopes.end() ? nullptr : it->second;
}

void register_scope(uint32_t serial, Scope* s) {
  std::lock_guard<std::mutex> lock(g_scopes_mutex);
  g_scopes[serial] = s;
}

Array ArrayAccess::make(Scope* s, NodeId id) { return Array(ScopeAccess::state(*s).serial, id); }

Scope* ArrayAccess::scope(const Array& a) {
  if (a.scope_id_ == 0) throw UsageError("descent: use of an empty Array (default-constructed)");
  Scope* s = live_scope(a.scope_id_);
  if (!s) {
    throw UsageError("descent: this Array belongs to a Scope that has ended; an Array is only valid "
                     "inside the build_graph callback that recorded it");
  }
  return s;
}

namespace {
/// Element type of a new node, from the op table's result rule.
DType result_dtype(const IrGraph& ir, Op op, const std::vector<Arg>& args) {
  switch (detail::info(op).result) {
    case detail::ResultRule::F32: return DType::kF32;
    case detail::ResultRule::U32: return DType::kU32;
    case detail::ResultRule::Arg0: return ir[args.at(0).node].dtype;
    case detail::ResultRule::Arg1: return ir[args.at(1).node].dtype;
    case detail::ResultRule::Set: break;  // leaves: their creator sets the type
  }
  return DType::kF32;
}
}  // namespace

NodeId ScopeState::add(Op op, const Shape& shape, std::vector<Arg> args) {
  Node n;
  n.op = op;
  n.shape = shape;
  n.dtype = args.empty() ? DType::kF32 : result_dtype(ir, op, args);
  n.args = std::move(args);
  n.colour = colour;
  return ir.add(std::move(n));
}

NodeId ScopeState::literal_u32(uint32_t v) {
  NodeId id = literal(0.0f);
  std::memcpy(&ir[id].literal, &v, 4);  // U32 literals keep their bits
  ir[id].dtype = DType::kU32;
  return id;
}

NodeId ScopeState::literal(float v) {
  Node n;
  n.op = Op::Literal;
  n.literal = v;
  n.colour = colour;
  return ir.add(std::move(n));
}

NodeId ScopeState::view_node(NodeId src, const View& view) {
  DESCENT_ASSERT(view.input == shape(src), "view_node: view does not start at the source shape");
  return add(Op::Mov, view.output, {Arg{src, view}});
}

NodeId ScopeState::copy(NodeId src) {
  NodeId id = add(Op::Mov, shape(src), {Arg{src, View::identity(shape(src))}});
  ir[id].pinned = true;
  return id;
}

NodeId ScopeState::elementwise(Op op, const std::vector<NodeId>& operands, const char* name) {
  Shape out = shape(operands[0]);
  for (size_t i = 1; i < operands.size(); ++i) {
    try {
      out = broadcast_shapes(out, shape(operands[i]), name);
    } catch (const ShapeError&) {
      std::string shapes;
      for (NodeId o : operands) shapes += (shapes.empty() ? "" : ", ") + shape(o).str();
      throw ShapeError(fmt::format("{}: operand shapes {} cannot be broadcast together", name,
                                   shapes));
    }
  }
  std::vector<Arg> args;
  for (NodeId o : operands) args.push_back(Arg{o, View::broadcast(shape(o), out)});
  return add(op, out, std::move(args));
}

NodeId ScopeState::reduce(Op op, NodeId src, int axis, const char* name) {
  const Shape& s = shape(src);
  int ax = s.axis(axis, name);
  NodeId id = add(op, s.with_axis(ax, 1), {Arg{src, View::identity(s)}});
  ir[id].axis = ax;
  return id;
}

}  // namespace detail

using detail::ArrayAccess;
using detail::NodeId;
using detail::Op;
using detail::ScopeState;
using detail::View;

namespace detail::array_ops {

ScopeState& st(const Array& a) { return ScopeAccess::state(*ArrayAccess::scope(a)); }
NodeId id(const Array& a) { return ArrayAccess::node(a); }
Array wrap(const Array& like, NodeId n) { return ArrayAccess::make(ArrayAccess::scope(like), n); }

void same_scope(const Array& a, const Array& b, const char* op) {
  if (ArrayAccess::scope(a) != ArrayAccess::scope(b)) {
    throw UsageError(fmt::format("{}: arrays come from different scopes (graphs); an Array is only "
                                 "valid inside the build_graph callback that made it", op));
  }
}

DType dtype_of(const Array& a) { return st(a).dtype(id(a)); }

/// Rejects a float op on U32 data (or an integer op on F32 data) with a message naming both.
void require(const Array& a, DType want, const std::string& op) {
  DType got = dtype_of(a);
  if (got != want) {
    throw UsageError(fmt::format("{}: needs {} operands but got a {} array of shape {}; convert "
                                 "with to_f32() / to_u32()", op, dtype_name(want), dtype_name(got),
                                 a.shape().str()));
  }
}

Array unary(const Array& a, Op op) {
  std::string name(detail::info(op).name);
  require(a, detail::takes_u32(op) ? DType::kU32 : DType::kF32, name);
  return wrap(a, st(a).elementwise(op, {id(a)}, name.c_str()));
}

/// The integer counterpart of a float op, for U32 operands (the op itself when there is none), from
/// the op table's DESCENT_U32_TWIN rows.
Op u32_op(Op op) {
#define DESCENT_U32_TWIN(f, u) \
  if (op == Op::f) return Op::u;
#define DESCENT_OP(...)
#include "descent/ops.def"
#undef DESCENT_OP
#undef DESCENT_U32_TWIN
  return op;
}

Array binary(const Array& a, const Array& b, Op op) {
  std::string name(detail::info(op).name);
  same_scope(a, b, name.c_str());
  bool integer = detail::takes_u32(op);
  if (!integer && dtype_of(a) == DType::kU32) {
    Op u = u32_op(op);
    if (op == Op::Gt) return binary(b, a, Op::ULt);
    if (u == op) {
      throw UsageError(fmt::format("{}: not defined for u32 arrays ({} and {}); convert with "
                                   "to_f32()", name, a.shape().str(), b.shape().str()));
    }
    op = u;
    name = detail::info(op).name;
    integer = true;
  }
  require(a, integer ? DType::kU32 : DType::kF32, name);
  require(b, integer ? DType::kU32 : DType::kF32, name);
  return wrap(a, st(a).elementwise(op, {id(a), id(b)}, name.c_str()));
}

/// A scalar operand for `like`: a U32 literal for U32 arrays (exact integers only), else F32.
Array scalar(const Array& like, float v) {
  if (dtype_of(like) == DType::kU32) {
    if (!(v >= 0.0f && v < 4294967296.0f && v == std::floor(v))) {
      throw UsageError(fmt::format("scalar {} used with a u32 array: only non-negative integers "
                                   "apply", v));
    }
    return wrap(like, st(like).literal_u32(static_cast<uint32_t>(v)));
  }
  return wrap(like, st(like).literal(v));
}

}  // namespace detail::array_ops

using namespace detail::array_ops;

Shape Array::shape() const { return st(*this).shape(node_); }
DType Array::dtype() const { return dtype_of(*this); }
// Per-element methods: one per op-table row with api Method (descent/ops.def).
#define DESCENT_METHOD_Method_1(Name, name) \
  Array Array::name() const { return unary(*this, Op::Name); }
#define DESCENT_METHOD_Method_2(Name, name) \
  Array Array::name(const Array& other) const { return binary(*this, other, Op::Name); }
#define DESCENT_METHOD_Custom_0(Name, name)
#define DESCENT_METHOD_Custom_1(Name, name)
#define DESCENT_METHOD_Custom_2(Name, name)
#define DESCENT_METHOD_Custom_3(Name, name)
#define DESCENT_METHOD_None_0(Name, name)
#define DESCENT_METHOD_None_1(Name, name)
#define DESCENT_METHOD_None_2(Name, name)
#define DESCENT_METHOD_None_3(Name, name)
#define DESCENT_OP(Name, name, arity, kind, api, ...) DESCENT_METHOD_##api##_##arity(Name, name)
#include "descent/ops.def"
#undef DESCENT_OP
#undef DESCENT_METHOD_Method_1
#undef DESCENT_METHOD_Method_2
#undef DESCENT_METHOD_Custom_0
#undef DESCENT_METHOD_Custom_1
#undef DESCENT_METHOD_Custom_2
#undef DESCENT_METHOD_Custom_3
#undef DESCENT_METHOD_None_0
#undef DESCENT_METHOD_None_1
#undef DESCENT_METHOD_None_2
#undef DESCENT_METHOD_None_3

Array Array::square() const { return binary(*this, *this, Op::Mul); }
Array Array::leaky_relu(float alpha) const {
  // x > 0 ? x : alpha * x, as one select so its gradient rule stays a select too.
  return gt(scalar(*this, 0.0f)).select(*this, *this * alpha);
}
Array Array::pow(float e) const {
  // The exponents PyTorch's pow kernels special-case, computed the same way (x^2 is exactly x*x).
  if (e == 1.0f) return *this;
  if (e == 2.0f) return *this * *this;
  if (e == 3.0f) return *this * *this * *this;
  if (e == 0.5f) return sqrt();
  if (e == -0.5f) return rsqrt();
  if (e == -1.0f) return reciprocal();
  if (e == -2.0f) return (*this * *this).reciprocal();
  return binary(*this, scalar(*this, e), Op::Pow);
}
Array Array::select(const Array& t, const Array& f) const {
  same_scope(*this, t, "select");
  same_scope(*this, f, "select");
  require(*this, DType::kF32, "select (condition)");
  require(f, dtype_of(t), "select (both branches)");
  return wrap(*this, st(*this).elementwise(Op::Select, {id(*this), id(t), id(f)}, "select"));
}

Array Array::reduce_sum(int axis, bool keep_dims) const {
  require(*this, DType::kF32, "reduce_sum");
  ScopeState& s = st(*this);
  int ax = s.shape(node_).axis(axis, "reduce_sum");
  Array r = s.shape(node_)[ax] == 1 ? *this : wrap(*this, s.reduce(Op::ReduceSum, node_, ax, "reduce_sum"));
  return keep_dims ? r : r.remove_axis(ax);
}

Array Array::reduce_max(int axis, bool keep_dims) const {
  require(*this, DType::kF32, "reduce_max");
  ScopeState& s = st(*this);
  int ax = s.shape(node_).axis(axis, "reduce_max");
  Array r = s.shape(node_)[ax] == 1 ? *this : wrap(*this, s.reduce(Op::ReduceMax, node_, ax, "reduce_max"));
  return keep_dims ? r : r.remove_axis(ax);
}

Array Array::reduce_sum(const std::vector<int>& axes, bool keep_dims) const {
  Shape s = shape();
  std::vector<int> norm;
  for (int a : axes) norm.push_back(s.axis(a, "reduce_sum"));
  std::sort(norm.begin(), norm.end());
  if (std::adjacent_find(norm.begin(), norm.end()) != norm.end())
    throw ShapeError(fmt::format("reduce_sum: repeated axis in {} for shape {}", fmt::join(axes, ", "), s.str()));
  // A run of adjacent axes that ends at the last axis (a row reduction over contiguous memory)
  // is merged by a free reshape and reduced as one axis: one kernel, not one per axis. Other runs
  // stay per axis: merging them leaves a column reduction with a short inner extent, which
  // coalesces badly on GPUs (measured 10x slower for [784000, 16] than [1000, 12544] + 2 small).
  std::vector<int64_t> merged;
  std::vector<int> reduce_at;
  auto in_tail_run = [&](int j) {
    for (int q = j; q < s.rank(); ++q)
      if (!std::binary_search(norm.begin(), norm.end(), q)) return false;
    return true;
  };
  for (int j = 0; j < s.rank(); ++j) {
    bool red = std::binary_search(norm.begin(), norm.end(), j);
    bool joins = red && j > 0 && in_tail_run(j - 1);
    if (joins) merged.back() *= s[j];
    else {
      if (red) reduce_at.push_back(static_cast<int>(merged.size()));
      merged.push_back(s[j]);
    }
  }
  Array r = reshape(Shape(merged));
  for (int a : reduce_at) r = r.reduce_sum(a, true);
  Shape kept = s;
  for (int a : norm) kept = kept.with_axis(a, 1);
  r = r.reshape(kept);
  if (!keep_dims)
    for (auto it = norm.rbegin(); it != norm.rend(); ++it) r = r.remove_axis(*it);
  return r;
}

Array Array::matmul(const Array& other, MatMulPrecision precision) const {
  same_scope(*this, other, "matmul");
  require(*this, DType::kF32, "matmul");
  require(other, DType::kF32, "matmul");
  ScopeState& s = st(*this);
  Shape a = s.shape(node_), b = s.shape(ArrayAccess::node(other));
  if (a.rank() < 2 || b.rank() < 2) {
    throw ShapeError(fmt::format("matmul: operands need rank >= 2, got {} and {} (reshape a vector "
                                 "to [1, n] or [n, 1] first)", a.str(), b.str()));
  }
  int64_t m = a[-2], k = a[-1], k2 = b[-2], n = b[-1];
  if (k != k2) {
    throw ShapeError(fmt::format("matmul: inner extents differ: {} x {} (K = {} vs {})", a.str(),
                                 b.str(), k, k2));
  }
  Shape batch_a = a, batch_b = b;
  while (batch_a.rank() > a.rank() - 2) batch_a = batch_a.remove_axis(-1);
  while (batch_b.rank() > b.rank() - 2) batch_b = batch_b.remove_axis(-1);
  Shape batch;
  try {
    batch = broadcast_shapes(batch_a, batch_b, "matmul");
  } catch (const ShapeError&) {
    throw ShapeError(fmt::format("matmul: batch axes of {} and {} cannot be broadcast together",
                                 a.str(), b.str()));
  }
  auto full = [&](int64_t r, int64_t c) {
    std::vector<int64_t> d = batch.dims();
    d.push_back(r);
    d.push_back(c);
    return Shape(d);
  };
  Shape out = full(m, n);
  NodeId id = s.add(Op::MatMul, out,
                    {detail::Arg{node_, View::broadcast(a, full(m, k))},
                     detail::Arg{ArrayAccess::node(other), View::broadcast(b, full(k, n))}});
  s.ir[id].axis = precision == MatMulPrecision::kFloat16Inputs ? 1 : 0;  // see ops.def
  return wrap(*this, id);
}

Array Array::broadcast(const Shape& to) const {
  Shape s = shape();
  Shape b = broadcast_shapes(s, to, "broadcast");
  if (b != to) {
    throw ShapeError(fmt::format("broadcast: shape {} cannot be broadcast to {}", s.str(), to.str()));
  }
  if (s == to) return *this;
  return wrap(*this, st(*this).view_node(node_, View::broadcast(s, to)));
}

Array Array::reshape(const Shape& to) const {
  Shape s = shape();
  if (s.element_count() != to.element_count()) {
    throw ShapeError(fmt::format("reshape: cannot reshape {} ({} elements) to {} ({} elements)",
                                 s.str(), s.element_count(), to.str(), to.element_count()));
  }
  if (s == to) return *this;
  auto v = View::identity(s).reshaped(to);
  DESCENT_ASSERT(v.has_value(), "reshape of an identity view must succeed");
  // The edge view reinterprets the source buffer with the new shape.
  return wrap(*this, st(*this).add(Op::Mov, to, {detail::Arg{node_, *v}}));
}

Array Array::flatten() const {
  Shape s = shape();
  if (s.rank() < 1) throw ShapeError("flatten: needs rank >= 1, got a scalar");
  return reshape(Shape{s[0], s.element_count() / s[0]});
}

Array Array::transpose() const {
  Shape s = shape();
  if (s.rank() < 2) throw ShapeError(fmt::format("transpose: needs rank >= 2, got {}", s.str()));
  std::vector<int> perm(s.rank());
  std::iota(perm.begin(), perm.end(), 0);
  std::swap(perm[s.rank() - 1], perm[s.rank() - 2]);
  return permute(perm);
}

Array Array::permute(const std::vector<int>& perm) const {
  Shape s = shape();
  std::vector<int> p;
  std::vector<bool> seen(s.rank(), false);
  if (static_cast<int>(perm.size()) != s.rank())
    throw ShapeError(fmt::format("permute: permutation [{}] has {} entries for shape {}", fmt::join(perm, ", "), perm.size(), s.str()));
  for (int a : perm) {
    int ax = s.axis(a, "permute");
    if (seen[ax]) throw ShapeError(fmt::format("permute: [{}] is not a permutation of the axes of {}", fmt::join(perm, ", "), s.str()));
    seen[ax] = true;
    p.push_back(ax);
  }
  return wrap(*this, st(*this).view_node(node_, View::identity(s).permuted(p)));
}

Array Array::slice(int axis, int64_t start, int64_t stop, int64_t step) const {
  Shape s = shape();
  int ax = s.axis(axis, "slice");
  int64_t n = s[ax];
  if (step == 0) throw ShapeError(fmt::format("slice: step 0 on axis {} of {}", axis, s.str()));
  // Python semantics: negative indices count from the end, then clamp.
  auto norm = [&](int64_t i, int64_t lo, int64_t hi) {
    if (i < 0) i += n;
    return std::clamp(i, lo, hi);
  };
  const int64_t asked_start = start, asked_stop = stop;
  int64_t count;
  if (step > 0) {
    start = norm(start, 0, n);
    stop = norm(stop, 0, n);
    count = stop > start ? (stop - start + step - 1) / step : 0;
  } else {
    start = norm(start, -1, n - 1);
    stop = norm(stop, -1, n - 1);
    count = start > stop ? (start - stop - step - 1) / (-step) : 0;
  }
  if (count <= 0) {
    throw ShapeError(fmt::format("slice: [{}:{}:{}] of axis {} (extent {}) of {} is empty (descent has "
                                 "no empty arrays)", asked_start, asked_stop, step, axis, n, s.str()));
  }
  return wrap(*this, st(*this).view_node(node_, View::identity(s).sliced(ax, start, count, step)));
}

Array Array::pad(int axis, int64_t before, int64_t after, PadMode mode) const {
  Shape s = shape();
  int ax = s.axis(axis, "pad");
  if (before < 0 || after < 0)
    throw ShapeError(fmt::format("pad: negative padding ({}, {}) on axis {} of {}; use slice to crop", before, after, axis, s.str()));
  if (before == 0 && after == 0) return *this;
  auto m = mode == PadMode::kZero ? detail::PadMode::kZero : detail::PadMode::kClamp;
  auto v = View::identity(s).padded(ax, before, after, m);
  DESCENT_ASSERT(v.has_value(), "padding an identity view must succeed");
  return wrap(*this, st(*this).view_node(node_, *v));
}

Array Array::windows(int axis, int64_t size, int64_t stride) const {
  Shape s = shape();
  int ax = s.axis(axis, "windows");
  if (size < 1 || size > s[ax] || stride < 1) {
    throw ShapeError(fmt::format("windows: size {} and stride {} do not fit axis {} (extent {}) of {}; "
                                 "need 1 <= size <= extent and stride >= 1", size, stride, axis, s[ax], s.str()));
  }
  if (s.rank() >= kMaxRank)
    throw ShapeError(fmt::format("windows: shape {} already has the maximum rank {}", s.str(), kMaxRank));
  int64_t count = (s[ax] - size) / stride + 1;
  return wrap(*this, st(*this).view_node(node_, View::identity(s).windowed(ax, count, size, stride)));
}

Array Array::insert_axis(int axis) const { return reshape(shape().insert_axis(axis, 1)); }

Array Array::remove_axis(int axis) const {
  Shape s = shape();
  int ax = s.axis(axis, "remove_axis");
  if (s[ax] != 1) throw ShapeError(fmt::format("remove_axis: axis {} of {} has extent {}, not 1", axis, s.str(), s[ax]));
  return reshape(s.remove_axis(ax));
}

Array Array::copy() const { return wrap(*this, st(*this).copy(node_)); }

Array operator+(const Array& a, const Array& b) { return binary(a, b, Op::Add); }
Array operator-(const Array& a, const Array& b) { return binary(a, b, Op::Sub); }
Array operator*(const Array& a, const Array& b) { return binary(a, b, Op::Mul); }
Array operator/(const Array& a, const Array& b) { return binary(a, b, Op::Div); }
Array operator+(const Array& a, float b) { return a + scalar(a, b); }
Array operator-(const Array& a, float b) { return a - scalar(a, b); }
Array operator*(const Array& a, float b) { return a * scalar(a, b); }
Array operator/(const Array& a, float b) { return a / scalar(a, b); }
Array operator+(float a, const Array& b) { return scalar(b, a) + b; }
Array operator-(float a, const Array& b) { return scalar(b, a) - b; }
Array operator*(float a, const Array& b) { return scalar(b, a) * b; }
Array operator/(float a, const Array& b) { return scalar(b, a) / b; }
Array operator-(const Array& a) { return unary(a, Op::Neg); }
Array& operator+=(Array& a, const Array& b) { return a = a + b; }
Array operator%(const Array& a, const Array& b) { return binary(a, b, Op::URem); }
Array operator^(const Array& a, const Array& b) { return binary(a, b, Op::UXor); }
Array operator<<(const Array& a, const Array& b) { return binary(a, b, Op::UShl); }
Array operator>>(const Array& a, const Array& b) { return binary(a, b, Op::UShr); }

}  // namespace descent
