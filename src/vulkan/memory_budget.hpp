// Device memory budget: process-wide accounting of the device memory descent allocates on each
// Vulkan memory heap, so that descent never asks the driver for more than the heap holds (some
// drivers, lavapipe among them, grant any request and let the kernel's OOM killer end the process).
// Every vkAllocateMemory in descent first takes a MemoryReservation. No allocation happens here.
#pragma once
#include <vulkan/vulkan.h>

#include <cstdint>
#include <optional>
#include <string>

namespace descent::vk {

class Context;

/// What one memory heap allows, seen from this process.
struct HeapBudget {
  uint32_t heap = 0;    // index into VkPhysicalDeviceMemoryProperties::memoryHeaps
  uint64_t size = 0;    // VkMemoryHeap::size
  uint64_t limit = 0;   // what descent may hold on it: min(size, heapBudget, DESCENT_HEAP_LIMIT_MB)
  uint64_t in_use = 0;  // held by descent in this process (every Environment on this device)
  std::string limited_by;  // "" (the heap size), "DESCENT_HEAP_LIMIT_MB" or "VK_EXT_memory_budget"
  uint64_t room() const { return limit > in_use ? limit - in_use : 0; }
  /// "heap 0 (2048.0 MiB[, limited to 160.0 MiB by ...]) with 150.0 MiB in use by descent in this
  /// process"
  std::string describe() const;
};

/// The budget of the heap behind `memory_type`. With VK_EXT_memory_budget the driver's
/// heapBudget - heapUsage bounds what may be added (it sees other processes' use too).
HeapBudget device_memory_budget(const Context& ctx, uint32_t memory_type);

/// A move-only record of `bytes` held on one heap; destroying it gives them back to the budget.
/// Take it before vkAllocateMemory and destroy it after vkFreeMemory.
///   auto r = MemoryReservation::take(ctx, type, req.size);
///   if (!r) throw OutOfMemoryError(...);   // the driver is never asked
class MemoryReservation {
 public:
  MemoryReservation() = default;
  /// nullopt when holding `bytes` more would pass the heap's budget.
  static std::optional<MemoryReservation> take(const Context& ctx, uint32_t memory_type,
                                               uint64_t bytes);
  MemoryReservation(MemoryReservation&& other) noexcept;
  MemoryReservation& operator=(MemoryReservation&& other) noexcept;
  MemoryReservation(const MemoryReservation&) = delete;
  MemoryReservation& operator=(const MemoryReservation&) = delete;
  ~MemoryReservation() { reset(); }
  void reset();
  uint64_t bytes() const { return bytes_; }

 private:
  uint64_t* in_use_ = nullptr;  // the ledger entry of the heap (entries are never removed)
  uint64_t bytes_ = 0;
};

}  // namespace descent::vk
