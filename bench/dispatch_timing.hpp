// Shared by the benchmarks (bench_elementwise, bench_matmul, ...): the median of repeated timings, GPU timestamps around
// dispatches of one pipeline recorded back to back in one command buffer, and a spot check of a
// matrix product. Bench code only; uses library internals.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <span>
#include <vector>

#include "runtime/state.hpp"

namespace descent::bench {

inline double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

/// Median GPU ms of one dispatch of `pipe` (groups gx x gy): `warm` + `reps` dispatches with a
/// barrier between them in one command buffer and one submit; the first `warm` are not counted.
/// `warm_ms` > 0 raises `warm` so the uncounted dispatches last about that long: a GPU that was
/// idle (host work between measurements) runs at a low clock for tens of milliseconds (seen on the
/// H100: 345-1110 MHz instead of 1980 MHz), which a short measurement would otherwise include.
inline double time_dispatches(detail::EnvironmentState& s, const vk::ComputePipeline& pipe, const void* push,
                              uint32_t push_bytes, uint32_t gx, uint32_t gy, int reps, int warm,
                              double warm_ms = 0) {
  if (warm_ms > 0) {
    double est = time_dispatches(s, pipe, push, push_bytes, gx, gy, 3, 1);
    warm = std::clamp(static_cast<int>(warm_ms / std::max(est, 1e-3)), warm, 20000);
  }
  const int total = warm + reps;
  vk::TimestampPool ts(*s.ctx, 2 * static_cast<uint32_t>(total));
  vk::CommandBuffer cb(*s.ctx, "bench dispatches");
  cb.begin(false);
  cb.compute_barrier();
  cb.reset_queries(ts.handle(), 0, ts.count());
  for (int r = 0; r < total; ++r) {
    cb.write_timestamp(ts.handle(), 2 * r);
    cb.dispatch(pipe, push, push_bytes, gx, gy, 1);
    cb.write_timestamp(ts.handle(), 2 * r + 1);
    cb.compute_barrier();
  }
  cb.end();
  VkCommandBuffer h = cb.handle();
  s.transfer->wait(s.transfer->submit(std::span<const VkCommandBuffer>(&h, 1)));
  auto ns = ts.read_ns(0, ts.count());
  std::vector<double> t;
  for (int r = warm; r < total; ++r) t.push_back((ns[2 * r + 1] - ns[2 * r]) * 1e-6);
  return median(t);
}

/// Largest |c - a b| / sum |a_ik b_kj| over 64 spread-out outputs of c = a b: a row-major
/// [M, K] and c [M, N] as floats, b(k, j) whatever the benchmark's B layout is.
template <typename BAt>
double max_rel_error(const std::vector<float>& a, BAt b, const std::vector<float>& c, int64_t M, int64_t N,
                     int64_t K) {
  double worst = 0;
  for (int s = 0; s < 64; ++s) {
    int64_t i = (s * 7919) % M, j = (s * 104729) % N;
    double ref = 0, mag = 0;
    for (int64_t k = 0; k < K; ++k) {
      double t = static_cast<double>(a[static_cast<size_t>(i * K + k)]) * b(k, j);
      ref += t;
      mag += std::fabs(t);
    }
    worst = std::max(worst, std::fabs(c[static_cast<size_t>(i * N + j)] - ref) / mag);
  }
  return worst;
}

}  // namespace descent::bench
