// Array: a cheap handle to a value in a graph under construction (node id + scope). Every method
// records an op in the Scope; nothing runs until the Environment runs the built Graph.
// Valid only while its Scope is alive (inside the build_graph callback); use after that throws
// UsageError.
#pragma once
#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

#include "descent/shape.hpp"

namespace descent {

class Scope;
namespace detail {
struct ArrayAccess;
}

/// Arithmetic of a matrix product.
enum class MatMulPrecision {
  kFloat32,        // float32 inputs and sums (default; every device)
  kFloat16Inputs,  // inputs rounded to float16, float32 sums, on tensor cores where the device has
                   // cooperative matrices (VK_NV_cooperative_matrix); elsewhere the float32 path
};

/// How `pad` fills the border.
enum class PadMode {
  kZero,       // read zeros outside the source (PyTorch's default for convolution)
  kReplicate,  // repeat the edge element (the original descent's only mode)
};

/// A float32 array value in a graph being built.
///   auto y = (x * 2.0f + 1.0f).exp().reduce_sum(-1);   // recorded, not computed
class Array {
 public:
  Array() = default;

  Shape shape() const;
  DType dtype() const;
  Scope& scope() const;
  bool valid() const { return scope_id_ != 0; }

  // Per-element math, comparisons and conversions: one method per row of the op table with api
  // Method (descent/ops.def lists them and states each one's NaN rule; docs/architecture.md its
  // precision), e.g. x.exp(), x.sqrt(), x.to_u32(), x.pow(y), x.min(y), x.lt(y). Unary ops take no
  // argument, binary ones another Array (broadcast NumPy-style); comparisons give 1.0 / 0.0.
#define DESCENT_DECL_Method_1(name) Array name() const;
#define DESCENT_DECL_Method_2(name) Array name(const Array& other) const;
#define DESCENT_DECL_Custom_0(name)
#define DESCENT_DECL_Custom_1(name)
#define DESCENT_DECL_Custom_2(name)
#define DESCENT_DECL_Custom_3(name)
#define DESCENT_DECL_None_0(name)
#define DESCENT_DECL_None_1(name)
#define DESCENT_DECL_None_2(name)
#define DESCENT_DECL_None_3(name)
#define DESCENT_OP(Name, name, arity, kind, api, ...) DESCENT_DECL_##api##_##arity(name)
#include "descent/ops.def"
#undef DESCENT_OP
#include "descent/detail/undef_decl.inc"
  Array square() const;
  Array leaky_relu(float alpha) const;
  /// As pow(Array), except that exponents 1, 2, 3, 0.5, -0.5, -1 and -2 are computed as x, x*x,
  /// x*x*x, sqrt, rsqrt, reciprocal and 1/(x*x), as PyTorch's pow kernels do.
  Array pow(float exponent) const;

  /// this != 0 ? if_true : if_false (all three broadcast together).
  Array select(const Array& if_true, const Array& if_false) const;
  /// condition != 0 ? this : other, DualArray's spelling (condition.select(*this, other)).
  Array where(const Array& condition, const Array& other) const { return condition.select(*this, other); }

  // Reductions over one axis, in a fixed (deterministic) order.
  Array reduce_sum(int axis, bool keep_dims = false) const;
  /// A row holding NaN gives NaN (as PyTorch); +0 beats -0.
  Array reduce_max(int axis, bool keep_dims = false) const;
  Array reduce_sum(const std::vector<int>& axes, bool keep_dims = false) const;

  /// Matrix product over the last two axes, [..., M, K] x [..., K, N] -> [..., M, N], with NumPy
  /// broadcasting of the leading (batch) axes. Operands may be any view (transposed, sliced,
  /// broadcast) without a copy; per-element ops on the result fuse into the matmul kernel.
  Array matmul(const Array& other, MatMulPrecision precision = MatMulPrecision::kFloat32) const;

  /// values[..., indices[k], ...] along `axis`: the result has `axis` resized to indices' length.
  /// `indices` is a 1-D u32 array. An out-of-range index reads the last element and makes the
  /// next host synchronisation (read_parameter, wait_idle) throw IndexError.
  Array gather(int axis, const Array& indices) const;
  /// These u32 indices, unchanged; any element >= limit makes the next host synchronisation
  /// (read_parameter, wait_idle) throw IndexError with `message` (name the op and what to do).
  Array check_index(uint32_t limit, const std::string& message) const;
  /// Checks every element on the device, in every run of the graph: a NaN or an infinity makes
  /// the next host synchronisation (read_parameter, wait_idle) throw NonFiniteError naming `what`
  /// and the first run in which a check fired. The graph keeps the check whether or not anything
  /// reads this array; values are unchanged. Cheap for a loss ([B, 1] or a scalar): one test per
  /// element inside the kernel that computes it. Checking every weight would cost a pass over
  /// them, so check the loss: a NaN batch, a NaN learning rate or a diverging step reaches it
  /// within one step (docs/reliability.md says what it covers).
  ///   descent::softmax_cross_entropy(logits, labels).set_loss().check_finite("training loss");
  void check_finite(const std::string& what) const;
  /// This array (the accumulator) plus `values` added at positions `indices` along `axis`:
  /// out[..., j, ...] = acc[..., j, ...] + sum over k with indices[k] == j of values[..., k, ...].
  /// `values` has this array's shape with `axis` resized to indices' length; `indices` is 1-D u32.
  /// Out-of-range indices are dropped (nothing is written out of bounds) and raise IndexError at
  /// the next host synchronisation.
  /// Deterministic: no atomics; bit-identical run to run, fused or not. With m = accumulator
  /// length along `axis`, n = indices length and f = the other elements, one of two strategies
  /// is chosen from the shapes alone (the sort when m x n >= 2^16 and m >= ceil(log2 n)^2, the
  /// measured crossover on lavapipe; their results may differ in the last bits):
  ///  - dense: one fused reduction over an [m, n] contribution matrix, m x n x f compare-selects.
  ///    Each output sums its contributions in increasing k in a fixed tree (serially from +0 on
  ///    CPU devices; see reduce() in src/codegen/generate.cpp), then acc + sum.
  ///  - sort: a bitonic sort of the (index, k) pairs, ceil(log2 n)(ceil(log2 n) + 1) / 2 stages
  ///    over n keys (independent of m and f), a segmented scan (ceil(log2 n) steps over n x f
  ///    values) and a binary search per target (m x ceil(log2 n) reads). A hash-grid level
  ///    (table [4096, 2], 65,536 updates) is 93 dispatches and 0.3 s of CPU on lavapipe (2
  ///    cores), dense 6 s (docs/perf/HISTORY.md). Each output is acc + S, or acc + 0
  ///    where nothing lands; S sums the contributions c_0..c_{L-1} (increasing k) in a fixed
  ///    tree: they are right-aligned in a row of 2^ceil(log2 L) slots (empty slots on the left)
  ///    and adjacent pairs are added level by level (earlier + later), a pair with one empty
  ///    half passing the other half through. L = 3: c_0 + (c_1 + c_2); L = 5:
  ///    c_0 + ((c_1 + c_2) + (c_3 + c_4)).
  ///   auto table = grid.scatter_add(features, 0, hashed_indices);   // [4096, 2] += [65536, 2]
  Array scatter_add(const Array& values, int axis, const Array& indices) const;

  /// [..., n] one-hot encoding of integer-valued elements: 1.0 where the value equals the index.
  Array one_hot(int64_t n) const;
  /// Index of the largest element along `axis`, as a float. Ties: the lowest index (as PyTorch).
  /// NaN counts as the largest value: a row holding NaN gives the index of its first NaN.
  Array argmax(int axis, bool keep_dims = false) const;
  /// This array followed by `other` along `axis` (see descent::concat).
  Array concat(const Array& other, int axis) const;

  // Views: zero-copy where the index map allows, otherwise a copy is made for you.
  Array broadcast(const Shape& to) const;
  Array reshape(const Shape& to) const;
  Array flatten() const;  // [n, ...] -> [n, rest]
  Array transpose() const;  // swaps the last two axes
  Array permute(const std::vector<int>& perm) const;
  /// Python-style slice of one axis: start, stop (exclusive) and step (may be negative).
  Array slice(int axis, int64_t start, int64_t stop, int64_t step = 1) const;
  Array pad(int axis, int64_t before, int64_t after, PadMode mode = PadMode::kZero) const;
  /// Sliding windows along one axis (PyTorch's unfold): axis n becomes two axes
  /// [(n - size) / stride + 1, size]; window w, element e reads position w*stride + e. Zero copy.
  Array windows(int axis, int64_t size, int64_t stride = 1) const;
  Array insert_axis(int axis) const;  // new unit axis
  Array remove_axis(int axis) const;  // drops a unit axis
  /// Forces a materialised copy (mostly for tests and debugging).
  Array copy() const;

 private:
  friend class Scope;
  friend struct detail::ArrayAccess;
  Array(uint32_t scope_id, uint32_t node) : scope_id_(scope_id), node_(node) {}
  uint32_t scope_id_ = 0;  // serial of the Scope that recorded it (0: empty); checked on every use
  uint32_t node_ = 0;
};

/// Joins arrays along `axis` (all other extents equal). One fused kernel reads every part through
/// a zero-padded view and selects by coordinate; no intermediate copies.
Array concat(const std::vector<Array>& parts, int axis);
inline Array concat(std::initializer_list<Array> parts, int axis) {
  return concat(std::vector<Array>(parts), axis);
}

Array operator+(const Array& a, const Array& b);
Array operator-(const Array& a, const Array& b);
Array operator*(const Array& a, const Array& b);
Array operator/(const Array& a, const Array& b);
Array operator+(const Array& a, float b);
Array operator-(const Array& a, float b);
Array operator*(const Array& a, float b);
Array operator/(const Array& a, float b);
Array operator+(float a, const Array& b);
Array operator-(float a, const Array& b);
Array operator*(float a, const Array& b);
Array operator/(float a, const Array& b);
Array operator-(const Array& a);
// Integer ops for u32 arrays (also +, -, *, eq, lt, gt above): remainder, xor, shifts.
Array operator%(const Array& a, const Array& b);
Array operator^(const Array& a, const Array& b);
Array operator<<(const Array& a, const Array& b);
Array operator>>(const Array& a, const Array& b);
Array& operator+=(Array& a, const Array& b);

}  // namespace descent
