// Command pools and command buffers with the few recording helpers descent uses (barriers,
// dispatch with push constants, copies, timestamps, labels). Recording only: it must not submit
// or wait (transfer.cpp owns the queue).
#pragma once
#include <vulkan/vulkan.h>

#include <cstdint>
#include <string>

#include "vulkan/handle.hpp"

namespace descent::vk {

class Context;
class ComputePipeline;

/// A VkCommandPool for the context's queue family, with RESET_COMMAND_BUFFER.
class CommandPool {
 public:
  explicit CommandPool(Context& ctx);
  VkCommandPool handle() const { return pool_.get(); }

 private:
  UniqueCommandPool pool_;
};

/// One primary command buffer with its own pool. Example:
///   CommandBuffer cb(ctx, "step");
///   cb.begin(/*simultaneous_use=*/true);
///   cb.compute_barrier();            // every descent command buffer starts with this
///   cb.dispatch(pipeline, &push, sizeof push, groups, 1, 1);
///   cb.end();
///   transfer.submit(std::array{cb.handle()});
class CommandBuffer {
 public:
  explicit CommandBuffer(Context& ctx, const std::string& name = "descent commands");
  CommandBuffer(CommandBuffer&&) noexcept = default;
  CommandBuffer& operator=(CommandBuffer&&) noexcept = default;

  VkCommandBuffer handle() const { return cb_; }
  /// simultaneous_use: the buffer may be pending several times at once (a compiled graph
  /// re-submitted every step); otherwise ONE_TIME_SUBMIT.
  void begin(bool simultaneous_use);
  void end();
  void reset();  // back to the initial state; the caller ensures it is not pending

  /// Full compute/transfer memory barrier: all prior shader/transfer writes become visible to
  /// all later shader/transfer reads and writes.
  void compute_barrier();
  /// Prior shader/transfer writes become visible to the host (before a fence/semaphore the host
  /// waits on and then reads mapped memory).
  void host_read_barrier();

  void dispatch(const ComputePipeline& pipeline, const void* push_data, uint32_t push_bytes,
                uint32_t gx, uint32_t gy, uint32_t gz);
  void write_timestamp(VkQueryPool pool, uint32_t query,
                       VkPipelineStageFlagBits stage = VK_PIPELINE_STAGE_BOTTOM_OF_PIPE_BIT);
  void reset_queries(VkQueryPool pool, uint32_t first, uint32_t count);
  void begin_label(const char* name);  // no-ops without VK_EXT_debug_utils
  void end_label();

  void copy_buffer(VkBuffer src, uint64_t src_offset, VkBuffer dst, uint64_t dst_offset,
                   uint64_t bytes);
  /// offset and bytes multiples of 4.
  void fill_buffer(VkBuffer dst, uint64_t offset, uint64_t bytes, uint32_t value = 0);
  /// offset and bytes multiples of 4, bytes <= 65536 (vkCmdUpdateBuffer's limits).
  void update_buffer(VkBuffer dst, uint64_t offset, const void* data, uint64_t bytes);

 private:
  Context* ctx_;
  CommandPool pool_;
  VkCommandBuffer cb_ = VK_NULL_HANDLE;  // freed with pool_
  VkPipeline bound_ = VK_NULL_HANDLE;    // skips redundant binds within one recording
};

}  // namespace descent::vk
