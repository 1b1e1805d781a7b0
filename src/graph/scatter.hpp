// scatter_add's two strategies (see Array::scatter_add in include/descent/array.hpp): the dense
// contribution reduction (composites.cpp) and the sort-based one (scatter_sort.cpp), and the rule
// that picks between them. Internal to src/graph; both build only existing IR ops. Tests force a
// strategy through scatter_strategy_override(); it is not public API.
#pragma once
#include <cstdint>

#include "descent/array.hpp"

namespace descent::detail {

enum class ScatterStrategy : uint8_t {
  kAuto,       // by size (scatter_uses_sort)
  kDense,      // the contribution reduction
  kSort,       // the sort, with (target, k) packed into one u32 key where it fits
  kSortPairs,  // the sort, always on (target, k) pairs (what large tables use; tests only)
};

/// The size rule of kAuto: sort when targets x updates >= kScatterSortMinWork and targets >=
/// log2(updates)^2 (log2 rounded up). Measured on lavapipe (2 cores, bench/bench_scatter.cpp,
/// numbers in docs/perf/HISTORY.md): the dense kernel's cost per update grows with the targets,
/// the sort's with log2(updates)^2 (its stage count), and they cross near targets =
/// log2(updates)^2 (128-256 targets at 4,096-65,536 updates), so a plain product threshold
/// would sort 64 targets x 16,384 updates (2.4x slower than dense). Below the minimum work
/// both take about a millisecond and dense compiles 3 kernels instead of about 25.
inline constexpr int64_t kScatterSortMinWork = int64_t{1} << 16;

/// Strategy forced for every scatter_add built from now on (kAuto: by size). Tests only;
/// single-threaded use, like mutable_flags().
ScatterStrategy& scatter_strategy_override();

/// True when scatter_add with `targets` entries along its axis and `updates` indices sorts.
bool scatter_uses_sort(int64_t targets, int64_t updates);

/// The sort strategy. `acc` [.., m, ..] and `values` [.., n, ..] along `axis` (shapes already
/// checked); `checked` is the 1-D u32 indices after CheckIndex against m (so bad indices set the
/// error flag); `pairs`: never pack target and k into one key.
Array scatter_add_sorted(const Array& acc, const Array& values, int axis, const Array& checked,
                         bool pairs);

}  // namespace descent::detail
