// The process-wide ledger behind MemoryReservation: bytes held per (device, memory heap), checked
// against the heap size, VK_EXT_memory_budget and DESCENT_HEAP_LIMIT_MB. Bookkeeping only: it must
// not allocate, free or map device memory.
#include "vulkan/memory_budget.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <mutex>
#include <utility>

#include "util/flags.hpp"
#include "vulkan/context.hpp"

namespace descent::vk {
namespace {

struct Ledger {
  std::mutex mutex;
  // Keyed by deviceUUID, so every Context (and Environment) on one physical device shares it.
  std::map<std::pair<std::string, uint32_t>, uint64_t> in_use;
};
Ledger& ledger() {
  static Ledger l;
  return l;
}

uint32_t heap_of(const Context& ctx, uint32_t memory_type) {
  return ctx.memory_properties().memoryTypes[memory_type].heapIndex;
}

/// The budget with the ledger's mutex held; `in_use` is the ledger entry.
HeapBudget budget_locked(const Context& ctx, uint32_t heap, uint64_t in_use) {
  HeapBudget b;
  b.heap = heap;
  b.size = ctx.memory_properties().memoryHeaps[heap].size;
  b.limit = b.size;
  b.in_use = in_use;
  if (ctx.info().has_memory_budget) {
    VkPhysicalDeviceMemoryBudgetPropertiesEXT mb{
        VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_MEMORY_BUDGET_PROPERTIES_EXT};
    VkPhysicalDeviceMemoryProperties2 props{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_MEMORY_PROPERTIES_2,
                                            &mb};
    vkGetPhysicalDeviceMemoryProperties2(ctx.physical_device(), &props);
    // heapUsage already counts what descent holds; the driver's room is what may be added.
    uint64_t driver_room = mb.heapBudget[heap] > mb.heapUsage[heap]
                               ? mb.heapBudget[heap] - mb.heapUsage[heap] : 0;
    if (in_use + driver_room < b.limit) {
      b.limit = in_use + driver_room;
      b.limited_by = "VK_EXT_memory_budget";
    }
  }
  const int limit_mb = detail::flags().heap_limit_mb;
  if (limit_mb > 0 && (static_cast<uint64_t>(limit_mb) << 20) < b.limit) {
    b.limit = static_cast<uint64_t>(limit_mb) << 20;
    b.limited_by = "DESCENT_HEAP_LIMIT_MB";
  }
  return b;
}

std::string mib(uint64_t bytes) { return fmt::format("{:.1f} MiB", static_cast<double>(bytes) / (1 << 20)); }

}  // namespace

std::string HeapBudget::describe() const {
  std::string limit_text =
      limited_by.empty() ? "" : fmt::format(", limited to {} by {}", mib(limit), limited_by);
  return fmt::format("heap {} ({}{}) with {} in use by descent in this process", heap, mib(size),
                     limit_text, mib(in_use));
}

HeapBudget device_memory_budget(const Context& ctx, uint32_t memory_type) {
  Ledger& l = ledger();
  std::lock_guard<std::mutex> lock(l.mutex);
  uint32_t heap = heap_of(ctx, memory_type);
  return budget_locked(ctx, heap, l.in_use[{ctx.info().device_uuid, heap}]);
}

std::optional<MemoryReservation> MemoryReservation::take(const Context& ctx, uint32_t memory_type,
                                                         uint64_t bytes) {
  Ledger& l = ledger();
  std::lock_guard<std::mutex> lock(l.mutex);
  uint32_t heap = heap_of(ctx, memory_type);
  uint64_t& in_use = l.in_use[{ctx.info().device_uuid, heap}];
  if (bytes > budget_locked(ctx, heap, in_use).room()) return std::nullopt;
  in_use += bytes;
  MemoryReservation r;
  r.in_use_ = &in_use;  // std::map nodes never move
  r.bytes_ = bytes;
  return r;
}

MemoryReservation::MemoryReservation(MemoryReservation&& other) noexcept
    : in_use_(std::exchange(other.in_use_, nullptr)), bytes_(std::exchange(other.bytes_, 0)) {}

MemoryReservation& MemoryReservation::operator=(MemoryReservation&& other) noexcept {
  if (this != &other) {
    reset();
    in_use_ = std::exchange(other.in_use_, nullptr);
    bytes_ = std::exchange(other.bytes_, 0);
  }
  return *this;
}

void MemoryReservation::reset() {
  if (!in_use_) return;
  std::lock_guard<std::mutex> lock(ledger().mutex);
  *in_use_ -= bytes_;
  in_use_ = nullptr;
  bytes_ = 0;
}

}  // namespace descent::vk
