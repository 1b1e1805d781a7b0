// GPU timestamp queries: a RAII VkQueryPool of TIMESTAMP queries and reading them back in
// nanoseconds. Recording writes/resets is CommandBuffer's job; this must not submit work.
#pragma once
#include <vulkan/vulkan.h>

#include <cstdint>
#include <vector>

#include "vulkan/handle.hpp"

namespace descent::vk {

class Context;

/// Example (per-kernel GPU times, DESCENT_DEBUG=2):
///   TimestampPool ts(ctx, 2 * kernels);
///   cb.reset_queries(ts.handle(), 0, 2 * kernels); cb.write_timestamp(ts.handle(), 0); ...
///   transfer.wait(transfer.submit(...)); auto ns = ts.read_ns(0, 2 * kernels);
class TimestampPool {
 public:
  /// Creates no pool when !supported(ctx); handle() is then VK_NULL_HANDLE.
  TimestampPool(Context& ctx, uint32_t count);
  static bool supported(const Context& ctx);
  bool supported() const { return pool_.get() != VK_NULL_HANDLE; }

  VkQueryPool handle() const { return pool_.get(); }
  uint32_t count() const { return count_; }
  /// Waits for queries [first, first + count) (they must have been reset and written) and returns
  /// their values in ns, masked to timestamp_valid_bits. Only differences are meaningful.
  std::vector<double> read_ns(uint32_t first, uint32_t count);
  /// Host-side reset (hostQueryReset); false if the feature is unavailable: record
  /// CommandBuffer::reset_queries instead.
  bool reset_from_host(uint32_t first, uint32_t count);

 private:
  Context* ctx_;
  UniqueQueryPool pool_;
  uint32_t count_ = 0;
};

}  // namespace descent::vk
