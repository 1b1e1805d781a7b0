// The one owner of queue submission: host<->device copies through a persistently mapped staging
// ring, the pending transfer command buffer, submit() of recorded command buffers, and completion
// tracking (timeline semaphore, or fences). Nothing else in descent calls vkQueueSubmit. It must
// not allocate arrays (heap.cpp) or build pipelines. Not thread-safe: one owner thread.
#pragma once
#include <vulkan/vulkan.h>

#include <cstdint>
#include <deque>
#include <memory>
#include <span>
#include <vector>

#include "vulkan/commands.hpp"
#include "vulkan/handle.hpp"
#include "vulkan/heap.hpp"
#include "vulkan/memory_budget.hpp"

namespace descent::vk {

class Context;

/// Example:
///   Transfer t(ctx);
///   t.upload(a, 0, host.data(), bytes);          // recorded, not yet submitted
///   uint64_t s = t.submit(std::array{cb.handle()});  // one vkQueueSubmit: uploads, then cb
///   t.download(a, 0, host.data(), bytes);        // blocking
class Transfer {
 public:
  /// use_fences: test hook forcing the fence path even when timeline semaphores exist.
  explicit Transfer(Context& ctx, uint64_t staging_bytes = uint64_t(64) << 20,
                    bool use_fences = false);
  ~Transfer();  // waits for the queue to go idle; unsubmitted pending work is discarded
  Transfer(const Transfer&) = delete;
  Transfer& operator=(const Transfer&) = delete;

  /// Host -> device via the staging ring, recorded into the pending command buffer; submitted by
  /// the next submit()/flush(). `src` may be reused as soon as this returns. Any size (chunked;
  /// when the ring is full it flushes and waits for the oldest region).
  void upload(const Allocation& dst, uint64_t dst_offset, const void* src, uint64_t bytes);
  /// Small writes (<= 65536 bytes, offset and size multiples of 4) via vkCmdUpdateBuffer.
  void update(const Allocation& dst, uint64_t dst_offset, const void* src, uint64_t bytes);
  /// Zeroes a range (offset multiple of 4; size rounded up to 4 within the allocation).
  void fill_zero(const Allocation& dst, uint64_t dst_offset, uint64_t bytes);
  /// Device -> host, blocking: submits pending work plus copies into staging, waits, copies out.
  void download(const Allocation& src, uint64_t src_offset, void* dst, uint64_t bytes);

  /// One vkQueueSubmit of [pending transfer commands if any, then `cbs` in order]. The pending
  /// command buffer starts and ends with full barriers; every other command buffer must begin
  /// with CommandBuffer::compute_barrier(). Returns the submission's serial (1, 2, ...).
  uint64_t submit(std::span<const VkCommandBuffer> cbs);
  uint64_t flush();  // submit({}) if anything is pending; returns the last serial
  void wait(uint64_t serial);
  void wait_idle();  // flush() and wait for everything
  bool is_complete(uint64_t serial);

  uint64_t submit_count() const { return submit_count_; }  // total vkQueueSubmit calls
  uint64_t last_serial() const { return last_submitted_; }
  bool uses_timeline_semaphore() const { return timeline_; }
  uint64_t staging_bytes() const { return staging_size_; }

 private:
  struct Region {  // a range of the staging ring; serial 0 = used by unsubmitted commands
    uint64_t offset, size, serial;
  };
  struct InFlight {
    uint64_t serial;
    std::unique_ptr<CommandBuffer> cb;  // null when the submission had no pending commands
    UniqueFence fence;                  // fence path only
  };
  struct Range {
    VkBuffer buffer;
    uint64_t begin, end;
  };

  template <typename F>
  auto guarded(F&& f) -> decltype(f());
  void check_alive() const;
  CommandBuffer& pending();
  void before_access(VkBuffer buffer, uint64_t begin, uint64_t end, bool write);
  uint64_t reserve(uint64_t bytes);
  void poll();
  void retire();
  uint64_t submit_unguarded(std::span<const VkCommandBuffer> cbs);
  void wait_unguarded(uint64_t serial);

  Context& ctx_;
  bool timeline_ = false;
  UniqueSemaphore semaphore_;
  std::vector<UniqueFence> free_fences_;

  MemoryReservation staging_reservation_;  // the ring's bytes in the heap's budget
  UniqueMemory staging_memory_;  // declared before the buffer: destroyed after it
  UniqueBuffer staging_;
  uint8_t* mapped_ = nullptr;
  bool coherent_ = true;
  uint64_t staging_size_ = 0, align_ = 256, max_chunk_ = 0;
  std::deque<Region> regions_;  // allocation order, oldest first

  std::unique_ptr<CommandBuffer> pending_;
  std::vector<Range> pending_writes_;  // since the pending buffer's last barrier
  std::vector<std::unique_ptr<CommandBuffer>> free_cbs_;
  std::deque<InFlight> in_flight_;

  uint64_t last_submitted_ = 0, completed_ = 0, submit_count_ = 0;
};

}  // namespace descent::vk
