// Device memory for arrays: a sub-allocating heap of big blocks. Each block is one VkDeviceMemory
// (device-address capable) bound to one storage VkBuffer; an Allocation is a 256-byte aligned range
// of a block. Blocks stay within the memory heap's budget (vulkan/memory_budget.hpp). It must not
// track GPU use: free() is immediate, callers wait for the GPU first.
#pragma once
#include <vulkan/vulkan.h>

#include <cstdint>
#include <map>
#include <unordered_map>
#include <vector>

#include "vulkan/handle.hpp"
#include "vulkan/memory_budget.hpp"

namespace descent::vk {

class Context;

struct Allocation {
  VkBuffer buffer = VK_NULL_HANDLE;  // the block's buffer; the range is [offset, offset + size)
  uint64_t offset = 0, size = 0;
  uint64_t address = 0;  // device address of the first byte (buffer address + offset)
  uint32_t block = 0;
  uint32_t id = 0;  // unique per heap, never 0 for a valid allocation
  bool valid() const { return buffer != VK_NULL_HANDLE; }
};

/// Example:
///   Heap heap(ctx);
///   Allocation a = heap.alloc(n * sizeof(float));  // a.address goes into push constants
///   ...; transfer.wait(serial); heap.free(a);
class Heap {
 public:
  static constexpr uint64_t kAlignment = 256;  // offsets and sizes; >= any storage alignment

  /// `block_size` is clamped to the device's maxMemoryAllocationSize.
  explicit Heap(Context& ctx, uint64_t block_size = uint64_t(256) << 20);
  ~Heap();
  Heap(const Heap&) = delete;
  Heap& operator=(const Heap&) = delete;

  /// Requests larger than the block size get a block of their own. A new block is never larger
  /// than the budget's room (so near the limit blocks shrink, down to the request), and empty
  /// blocks go back to the driver when the room is too small. Throws OutOfMemoryError (bytes,
  /// heap size, in use, what to do) when the request would pass the heap's budget, before the
  /// driver is asked, or when the device refuses; the heap stays fully usable afterwards.
  Allocation alloc(uint64_t bytes);
  /// Immediate: the caller guarantees the GPU no longer uses `a`. Freeing twice is a bug (assert).
  void free(const Allocation& a);

  struct Stats {
    uint64_t blocks = 0, block_bytes = 0, used_bytes = 0, largest_free = 0;
    size_t live_allocations = 0;
  };
  Stats stats() const;
  uint64_t block_size() const { return block_size_; }
  /// The budget of the memory heap the blocks come from.
  HeapBudget budget() const;

  /// Test hook: after `n` more successful vkAllocateMemory calls, the next one fails as if the
  /// device were out of memory (so 0 fails the very next one); fires once. -1 disables.
  void set_fail_after(int64_t n) { fail_after_ = n; }

 private:
  struct Block {  // size 0: released (the slot stays so that block indices remain valid)
    MemoryReservation reservation;  // destroyed last: after the memory is freed
    UniqueMemory memory;  // declared before the buffer so the buffer is destroyed first
    UniqueBuffer buffer;
    uint64_t size = 0, address = 0, used = 0;
    std::map<uint64_t, uint64_t> free_ranges;  // offset -> size, coalesced, ordered by offset
  };
  struct Live {
    uint32_t block;
    uint64_t offset, size;
  };
  uint32_t add_block(uint64_t bytes, uint64_t request);
  uint32_t new_block(uint64_t size);
  bool try_place(uint32_t block, uint64_t bytes, uint64_t* offset);
  bool release_empty_blocks();
  [[noreturn]] void throw_out_of_memory(uint64_t block, uint64_t request, const char* why) const;

  Context& ctx_;
  uint64_t block_size_;
  uint32_t memory_type_ = UINT32_MAX;  // chosen at construction (a probe buffer's requirements)
  std::vector<Block> blocks_;
  std::unordered_map<uint32_t, Live> live_;
  uint32_t next_id_ = 1;
  int64_t fail_after_ = -1;
};

}  // namespace descent::vk
