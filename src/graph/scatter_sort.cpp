// Sort-based scatter_add (see scatter.hpp and the summation order in include/descent/array.hpp):
// bitonic sort of (target, k) keys, values gathered in sorted order, a segmented Hillis-Steele
// scan, and a binary search for the end of each target's segment. Built from existing IR ops only
// (u32 arithmetic, gather, select), so fusion and the float64 reference apply unchanged. No
// atomics, no float reordering that depends on scheduling; no gather index can leave its array.
#include <fmt/format.h>

#include <bit>
#include <map>
#include <utility>
#include <vector>

#include "descent/environment.hpp"
#include "graph/array_ops.hpp"
#include "graph/scatter.hpp"

namespace descent::detail {

using namespace array_ops;

namespace {

/// Sort stages fused into one kernel: s stages read 2^s positions of the previous array. On
/// lavapipe a data-dependent read costs about as much as a whole copy kernel, so fewer
/// dispatches only pay up to s = 2 (65,536 keys, CPU time of a whole hash-grid scatter_add:
/// s=1 365 ms, s=2 300 ms, s=3 330 ms; bench_scatter on a loaded 2-core machine).
constexpr int kStagesPerKernel = 2;
/// Entries after the keys: slot 0 carries the next stage; 4 keeps the arrays vec4-sized.
constexpr int64_t kSlots = 4;

Array lit(const Array& like, uint32_t v) { return wrap(like, st(like).literal_u32(v)); }

/// 0, 1, ..., n-1 as u32. coord() is a float, exact only below 2^24; above that the index is
/// assembled from two exact float coordinates. `salt` lengthens the coordinate leaf (unread
/// past n) so that common-subexpression elimination cannot merge the index arithmetic of
/// different kernels: merged, it would be computed once, stored and re-read by every later
/// stage (measured: 11 extra loads per element per sort kernel, 3x slower on lavapipe).
Array iota_u32(Scope& s, int64_t n, int64_t salt = 0) {
  if (n + salt <= (int64_t{1} << 24)) return s.coord(n + salt).slice(0, 0, n).to_u32();
  const int64_t cols = 4096;
  int64_t rows = (n + cols - 1) / cols;
  Shape sh{rows + salt, cols};
  Array hi = s.coord(sh, 0).to_u32(), lo = s.coord(sh, 1).to_u32();
  Array i = (hi << lit(hi, 12)) + lo;
  return i.reshape(Shape{(rows + salt) * cols}).slice(0, 0, n);
}

/// x shifted by d towards higher positions along `axis` (extent len): position i reads i - d,
/// and the first d positions read zero padding.
Array shift(const Array& x, int axis, int64_t len, int64_t d) {
  return x.pad(axis, d, 0).slice(axis, 0, len);  // one view (a slice of a pad always folds)
}

/// A [len] array placed along `axis` of `to` and broadcast to it.
Array along(const Array& v, int axis, const Shape& to) {
  std::vector<int64_t> dims(static_cast<size_t>(to.rank()), 1);
  dims[static_cast<size_t>(axis)] = v.shape()[0];
  return v.reshape(Shape(dims)).broadcast(to);
}

/// Sort keys: `hi` alone when target and k pack into one u32 (`lo` empty), else the pair
/// (hi = target, lo = k) compared lexicographically. Every real key is unique (k is), so the
/// sort is stable by construction; padding keys are all-ones and compare equal to each other.
/// Both arrays are [len + kSlots]: hi's first slot after the keys holds the next stage.
struct Keys {
  Array hi, lo;
};

/// A bitonic stage as data: block size k = 2^lk, partner distance j = 2^lj (u32 arrays). Stages
/// run lk = 1..log2(len), lj = lk-1..0; kernels read their stage from the key array instead of
/// baking it in, so every sort kernel has the same source and compiles once (on lavapipe each
/// distinct kernel costs 50-300 ms of LLVM compile at its first dispatch).
struct StageVar {
  Array lk, lj;
  StageVar next() const {
    Array block_done = lj.eq(lit(lj, 0));
    return {block_done.select(lk + lit(lk, 1), lk), block_done.select(lk, lj - lit(lj, 1))};
  }
  Array packed() const { return (lk << lit(lk, 8)) + lj; }
  static StageVar unpack(const Array& c) { return {c >> lit(c, 8), c % lit(c, 256)}; }
};

/// One kernel of kStagesPerKernel bitonic stages. After stage (k, j) position p holds
/// min(a[p], a[p^j]) when bit j of p equals bit k of p (ascending block, lower half, or
/// descending block, upper half), else the max. Intermediate values at positions i ^ X(S), for
/// subsets S of the kernel's stages (X(S) = xor of their j), are evaluated symbolically, so the
/// kernel reads its input at the 2^s positions i ^ X(S) only. Positions are taken modulo len:
/// that keeps the slot positions' reads in range and turns the stage after the last one
/// (j = len) into a no-op (every position meets itself), so the stage count need not divide.
class StageKernel {
 public:
  StageKernel(Scope& scope, const Keys& in, int64_t len, int salt)
      : in_(in), len_(len), raw_(iota_u32(scope, len + kSlots, salt)) {
    i_ = raw_ % lit(raw_, static_cast<uint32_t>(len));
    stages_.push_back(StageVar::unpack(in.hi.slice(0, len, len + 1).broadcast(raw_.shape())));
    for (int t = 1; t <= kStagesPerKernel; ++t) stages_.push_back(stages_.back().next());
  }

  Keys run() {
    Keys v = value(kStagesPerKernel, 0);
    Array is_key = raw_.lt(lit(raw_, static_cast<uint32_t>(len_)));
    Keys out;
    out.hi = is_key.select(v.hi, stages_.back().packed());
    if (v.lo.valid()) out.lo = is_key.select(v.lo, lit(raw_, 0));
    return out;
  }

 private:
  /// Position (i ^ X(S)) mod len (S a bit set of stage numbers). The modulo only acts in the
  /// stage after the last (j = len), where it makes partners coincide.
  Array position(uint32_t set) {
    if (set == 0) return i_;
    Array p = i_;
    for (int t = 0; t < kStagesPerKernel; ++t)
      if (set & (1u << t)) p = p ^ (lit(p, 1) << stages_[static_cast<size_t>(t)].lj);
    return p % lit(p, static_cast<uint32_t>(len_));
  }

  /// The keys after `level` stages at position i ^ X(set).
  Keys value(int level, uint32_t set) {
    auto key = std::make_pair(level, set);
    auto it = memo_.find(key);
    if (it != memo_.end()) return it->second;
    Keys r;
    if (level == 0 && set == 0) {
      r = in_;  // the element itself (slot positions read their own slot; discarded in run())
    } else if (level == 0) {
      Array idx = position(set);
      r.hi = in_.hi.gather(0, idx);
      if (in_.lo.valid()) r.lo = in_.lo.gather(0, idx);
    } else {
      int t = level - 1;
      Keys self = value(t, set), partner = value(t, set ^ (1u << t));
      Array less = self.hi.lt(partner.hi);
      if (self.lo.valid()) less = less.max(self.hi.eq(partner.hi) * self.lo.lt(partner.lo));
      // Take the partner when want_min XOR (self < partner); equal keys are interchangeable.
      const StageVar& sv = stages_[static_cast<size_t>(t)];
      Array p = position(set);
      Array bit_j = (p >> sv.lj) % lit(p, 2), bit_k = (p >> sv.lk) % lit(p, 2);
      Array take = bit_j.eq(bit_k).ne(less);
      r.hi = take.select(partner.hi, self.hi);
      if (self.lo.valid()) r.lo = take.select(partner.lo, self.lo);
    }
    memo_[key] = r;
    return r;
  }

  Keys in_;
  int64_t len_;
  Array raw_, i_;
  std::vector<StageVar> stages_;  // the kernel's stages, then the one after them
  std::map<std::pair<int, uint32_t>, Keys> memo_;
};

/// Bitonic sort of the first len entries of `keys` (len a power of two >= 2, the first stage
/// (lk 1, lj 0) in the slot): log2(len)(log2(len)+1)/2 stages, kStagesPerKernel per kernel.
/// Returns the number of kernels (each got its own iota salt).
int bitonic_sort(Scope& scope, Keys& keys, int64_t len) {
  int64_t t = std::countr_zero(static_cast<uint64_t>(len)), stages = t * (t + 1) / 2;
  int kernels = static_cast<int>((stages + kStagesPerKernel - 1) / kStagesPerKernel);
  for (int k = 1; k <= kernels; ++k) keys = StageKernel(scope, keys, len, k).run();
  return kernels;
}

/// Segmented inclusive scan, Hillis-Steele, of `run` ([.., len, ..] along `axis`) in sorted
/// order: after the step with distance d, position i holds the sum of the (up to) 2d positions
/// ending at i that share its target. Targets are compared as target + 1 so the zero padding of
/// the shifted copy matches no real position (a padding key's target + 1 may wrap to 0; padding
/// sums are never read).
Array segmented_scan(Array run, const Array& sorted_target, int axis, int64_t len) {
  Shape sn = run.shape();
  Array t1 = sorted_target + lit(sorted_target, 1);
  for (int64_t d = 1; d < len; d *= 2) {
    Array same = along(shift(t1, 0, len, d).eq(t1), axis, sn);
    run = same.select(run + shift(run, axis, len, d), run);
  }
  return run;
}

/// Per target j < m: c = number of sorted targets <= j (branch-free binary search: `bits`
/// probes, then one more because c may reach len); its segment ends at *end = c - 1, and *found
/// (1.0 / 0.0, [m]) says whether target[c - 1] == j. The step is data, so every probe compiles
/// to the same unfused kernels. Every probe index stays below len.
void segment_ends(Scope& scope, const Array& sorted_target, int64_t m, int bits, int salt,
                  Array* end, Array* found) {
  const int64_t len = sorted_target.shape()[0];
  Array j = iota_u32(scope, m, salt);
  Array c = lit(j, 0).broadcast(Shape{m});
  Array step = lit(j, static_cast<uint32_t>(len / 2)).broadcast(Shape{m});
  for (int b = 0; b < bits; ++b) {
    Array next = c + step;
    c = j.lt(sorted_target.gather(0, next - lit(c, 1))).select(c, next);
    step = step >> lit(step, 1);
  }
  c = j.lt(sorted_target.gather(0, c)).select(c, c + lit(c, 1));
  *end = lit(c, 0).lt(c).select(c - lit(c, 1), lit(c, 0));
  *found = sorted_target.gather(0, *end).eq(j);
}

}  // namespace

ScatterStrategy& scatter_strategy_override() {
  static ScatterStrategy s = ScatterStrategy::kAuto;
  return s;
}

bool scatter_uses_sort(int64_t targets, int64_t updates) {
  switch (scatter_strategy_override()) {
    case ScatterStrategy::kDense:
      return false;
    case ScatterStrategy::kSort:
    case ScatterStrategy::kSortPairs:
      return true;
    case ScatterStrategy::kAuto:
      break;
  }
  int64_t b = static_cast<int64_t>(std::bit_width(static_cast<uint64_t>(updates - 1)));
  return targets * updates >= kScatterSortMinWork && targets >= b * b;
}

Array scatter_add_sorted(const Array& acc, const Array& values, int axis, const Array& checked,
                         bool pairs) {
  Scope& scope = acc.scope();
  Shape s = acc.shape();
  const int64_t m = s[axis], n = checked.shape()[0];
  if (n > (int64_t{1} << 31) || m >= int64_t{0xffffffff}) {
    throw ShapeError(
        fmt::format("scatter_add: {} indices into {} targets exceed the sort-based "
                    "strategy's limits (2^31 indices, 2^32 - 1 targets)",
                    n, m));
  }
  const int bits = static_cast<int>(std::bit_width(static_cast<uint64_t>(n - 1)));
  const int64_t len = int64_t{1} << bits;  // padded to a power of two
  Array iota = iota_u32(scope, len);
  // Out-of-range indices (already flagged by CheckIndex) become target m: sorted after every
  // real target and never looked up, so they are dropped and nothing is written out of bounds.
  Array mm = lit(checked, static_cast<uint32_t>(m));
  Array target = checked.lt(mm).select(checked, mm);
  Array k = iota.slice(0, 0, n);
  Array real = iota.lt(lit(iota, static_cast<uint32_t>(n)));  // 1.0 below n, 0.0 in the padding
  Array ones = lit(iota, 0xffffffffu);
  // One u32 key (target << bits | k) when it fits in 31 bits, so every real key stays below the
  // all-ones padding key and target = key >> bits never exceeds m for real keys.
  const bool packed = !pairs && std::bit_width(static_cast<uint64_t>(m)) + bits <= 31;
  // Keys, padding keys, then the slots: the first stage (lk 1, lj 0) for the sort kernels.
  Array slots = lit(iota, 1u << 8).broadcast(Shape{kSlots});
  Keys keys;
  if (packed) {
    Array key = (target << lit(target, static_cast<uint32_t>(bits))) + k;
    keys.hi = real.select(key.pad(0, 0, len - n), ones).concat(slots, 0);
  } else {
    keys.hi = real.select(target.pad(0, 0, len - n), ones).concat(slots, 0);
    keys.lo = real.select(k.pad(0, 0, len - n), ones).concat(slots, 0);
  }
  int salt = len > 1 ? bitonic_sort(scope, keys, len) + 1 : 1;
  keys.hi = keys.hi.slice(0, 0, len);
  if (keys.lo.valid()) keys.lo = keys.lo.slice(0, 0, len);
  Array sorted_target = packed ? keys.hi >> lit(iota, static_cast<uint32_t>(bits)) : keys.hi;
  Array sorted_k =
      packed ? keys.hi % lit(iota, static_cast<uint32_t>(uint64_t{1} << bits)) : keys.lo;
  Array safe_k = sorted_k.lt(lit(iota, static_cast<uint32_t>(n))).select(sorted_k, lit(iota, 0));

  Array run = segmented_scan(values.gather(axis, safe_k), sorted_target, axis, len);
  Array end, found;
  segment_ends(scope, sorted_target, m, bits, salt, &end, &found);
  found = along(found, axis, s);
  // As the dense strategy: acc + (sum or +0), so both agree bit for bit where nothing lands.
  return acc + found.select(run.gather(axis, end), scope.literal(0.0f));
}

}  // namespace descent::detail
