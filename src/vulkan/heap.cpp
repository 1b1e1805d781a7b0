// Block allocation (vkAllocateMemory + buffer + device address) and a first-fit free list per
// block with coalescing. Blocks live until the heap is destroyed. It must not submit GPU work or
// wait on the GPU; lifetime of allocations versus in-flight work is the caller's business.
#include "vulkan/heap.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <iterator>
#include <optional>

#include "descent/errors.hpp"
#include "util/assert.hpp"
#include "vulkan/check.hpp"
#include "vulkan/context.hpp"

namespace descent::vk {
namespace {
uint64_t round_up(uint64_t x, uint64_t a) { return (x + a - 1) / a * a; }
constexpr VkBufferUsageFlags kUsage =
    VK_BUFFER_USAGE_STORAGE_BUFFER_BIT | VK_BUFFER_USAGE_TRANSFER_SRC_BIT |
    VK_BUFFER_USAGE_TRANSFER_DST_BIT | VK_BUFFER_USAGE_SHADER_DEVICE_ADDRESS_BIT;
}  // namespace

Heap::Heap(Context& ctx, uint64_t block_size)
    : ctx_(ctx),
      block_size_(
          round_up(std::clamp<uint64_t>(block_size, kAlignment,
                                        ctx.info().max_allocation_size / kAlignment * kAlignment),
                   kAlignment)) {
  // The memory type (and so the heap whose budget applies) from a probe buffer's requirements:
  // storage buffers of one usage share their memoryTypeBits.
  VkBufferCreateInfo info{VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO};
  info.size = kAlignment;
  info.usage = kUsage;
  info.sharingMode = VK_SHARING_MODE_EXCLUSIVE;
  VkBuffer raw = VK_NULL_HANDLE;
  VK_CHECK(vkCreateBuffer(ctx.device(), &info, nullptr, &raw));
  UniqueBuffer probe(ctx.device(), raw);
  VkMemoryRequirements req;
  vkGetBufferMemoryRequirements(ctx.device(), raw, &req);
  memory_type_ = ctx.find_memory_type(req.memoryTypeBits, 0, VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT);
}

Heap::~Heap() = default;  // each block destroys its buffer, then its memory (member order)

HeapBudget Heap::budget() const { return device_memory_budget(ctx_, memory_type_); }

void Heap::throw_out_of_memory(uint64_t block, uint64_t request, const char* why) const {
  Stats s = stats();
  HeapBudget b = budget();
  throw OutOfMemoryError(
      fmt::format("out of device memory: an array of {} bytes needs a new block of {} bytes on "
                  "{}: {} (this Environment: {} bytes in {} blocks, {} in use, largest free piece "
                  "{}); destroy Graphs or Environments you no longer need, use smaller batches or "
                  "arrays, or pick a device with more memory (DESCENT_DEVICE)",
                  request, block, b.describe(), why, s.block_bytes, s.blocks, s.used_bytes,
                  s.largest_free),
      block, b.size, b.in_use);
}

uint32_t Heap::add_block(uint64_t bytes, uint64_t request) {
  VkDevice device = ctx_.device();
  VkBufferCreateInfo buffer_info{VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO};
  buffer_info.size = bytes;
  buffer_info.usage = kUsage;
  buffer_info.sharingMode = VK_SHARING_MODE_EXCLUSIVE;
  VkBuffer raw_buffer = VK_NULL_HANDLE;
  VK_CHECK(vkCreateBuffer(device, &buffer_info, nullptr, &raw_buffer));
  UniqueBuffer buffer(device, raw_buffer);

  VkMemoryRequirements req;
  vkGetBufferMemoryRequirements(device, raw_buffer, &req);
  DESCENT_ASSERT(req.memoryTypeBits & (1u << memory_type_), "heap block memory type changed");
  std::optional<MemoryReservation> reservation = MemoryReservation::take(ctx_, memory_type_, req.size);
  if (!reservation) throw_out_of_memory(req.size, request, "more than its budget allows");

  VkMemoryAllocateFlagsInfo flags{VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_FLAGS_INFO};
  flags.flags = VK_MEMORY_ALLOCATE_DEVICE_ADDRESS_BIT;
  VkMemoryAllocateInfo alloc_info{VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO, &flags};
  alloc_info.allocationSize = req.size;
  alloc_info.memoryTypeIndex = memory_type_;
  VkDeviceMemory raw_memory = VK_NULL_HANDLE;
  VkResult vkAllocateMemory_result;  // or the test hook's simulated failure
  if (fail_after_ == 0) {
    fail_after_ = -1;
    vkAllocateMemory_result = VK_ERROR_OUT_OF_DEVICE_MEMORY;  // simulated by the test hook
  } else {
    if (fail_after_ > 0) --fail_after_;
    vkAllocateMemory_result = vkAllocateMemory(device, &alloc_info, nullptr, &raw_memory);
  }
  if (vkAllocateMemory_result == VK_ERROR_OUT_OF_DEVICE_MEMORY ||
      vkAllocateMemory_result == VK_ERROR_OUT_OF_HOST_MEMORY) {
    reservation->reset();
    throw_out_of_memory(req.size, request, "the device refused it");
  }
  VK_CHECK(vkAllocateMemory_result);
  UniqueMemory memory(device, raw_memory);
  VK_CHECK(vkBindBufferMemory(device, raw_buffer, raw_memory, 0));

  VkBufferDeviceAddressInfo address_info{VK_STRUCTURE_TYPE_BUFFER_DEVICE_ADDRESS_INFO};
  address_info.buffer = raw_buffer;
  uint32_t index = new_block(bytes);
  Block& block = blocks_[index];
  block.address = vkGetBufferDeviceAddress(device, &address_info);
  block.buffer = std::move(buffer);
  block.memory = std::move(memory);
  block.reservation = std::move(*reservation);
  ctx_.set_name(VK_OBJECT_TYPE_BUFFER, raw_buffer, fmt::format("descent heap block {}", index));
  ctx_.set_name(VK_OBJECT_TYPE_DEVICE_MEMORY, raw_memory,
                fmt::format("descent heap block {} memory", index));
  return index;
}

// A released slot if there is one (indices of live blocks never change), else a new one.
uint32_t Heap::new_block(uint64_t size) {
  uint32_t index = 0;
  while (index < blocks_.size() && blocks_[index].size != 0) ++index;
  if (index == blocks_.size()) blocks_.emplace_back();
  Block& b = blocks_[index];
  b.size = size;
  b.used = 0;
  b.free_ranges.clear();
  b.free_ranges.emplace(0, size);
  return index;
}

// Gives every block without a live allocation back to the driver (and the budget).
bool Heap::release_empty_blocks() {
  bool any = false;
  for (Block& b : blocks_) {
    if (b.size == 0 || b.used != 0) continue;
    b.buffer.reset();
    b.memory.reset();
    b.reservation.reset();
    b.size = b.address = 0;
    b.free_ranges.clear();
    any = true;
  }
  return any;
}

bool Heap::try_place(uint32_t index, uint64_t bytes, uint64_t* offset) {
  Block& b = blocks_[index];
  for (auto it = b.free_ranges.begin(); it != b.free_ranges.end(); ++it) {
    if (it->second < bytes) continue;
    *offset = it->first;
    uint64_t rest = it->second - bytes;
    b.free_ranges.erase(it);
    if (rest > 0) b.free_ranges.emplace(*offset + bytes, rest);
    b.used += bytes;
    return true;
  }
  return false;
}

Allocation Heap::alloc(uint64_t bytes) {
  // Sizes are rounded to the alignment too, so every free range starts aligned.
  uint64_t size = round_up(std::max<uint64_t>(bytes, 1), kAlignment);
  if (size > ctx_.info().max_allocation_size) {
    throw OutOfMemoryError(
        fmt::format("an array of {} bytes exceeds the device's maxMemoryAllocationSize ({} bytes) "
                    "on '{}'; split it or use smaller batches",
                    bytes, ctx_.info().max_allocation_size, ctx_.info().name),
        bytes);
  }
  uint64_t offset = 0;
  uint32_t index = 0;
  bool placed = false;
  for (; index < blocks_.size() && !placed; ++index) placed = try_place(index, size, &offset);
  if (placed) {
    --index;
  } else {
    // A block of the usual size where the budget has room for it; near the limit empty blocks go
    // back to the driver first, and the new block shrinks to the room (down to the request).
    uint64_t want = std::max(size, block_size_);
    if (budget().room() < want) release_empty_blocks();
    uint64_t block = std::max(size, std::min(want, budget().room() / kAlignment * kAlignment));
    index = add_block(block, bytes);
    placed = try_place(index, size, &offset);
    DESCENT_ASSERT(placed, "a fresh heap block must fit its first allocation");
  }
  const Block& b = blocks_[index];
  Allocation a;
  a.buffer = b.buffer.get();
  a.offset = offset;
  a.size = size;
  a.address = b.address + offset;
  a.block = index;
  a.id = next_id_++;
  live_.emplace(a.id, Live{index, offset, size});
  return a;
}

void Heap::free(const Allocation& a) {
  if (!a.valid()) return;
  auto it = live_.find(a.id);
  DESCENT_ASSERT(it != live_.end() && it->second.block == a.block && it->second.offset == a.offset,
                 fmt::format("heap free of allocation {} that is not live (double free?)", a.id));
  Live live = it->second;
  live_.erase(it);
  Block& b = blocks_[live.block];
  b.used -= live.size;
  auto [pos, inserted] = b.free_ranges.emplace(live.offset, live.size);
  DESCENT_ASSERT(inserted, "heap free range already free");
  // Coalesce with the following and then the preceding free range.
  auto next = std::next(pos);
  if (next != b.free_ranges.end() && pos->first + pos->second == next->first) {
    pos->second += next->second;
    b.free_ranges.erase(next);
  }
  if (pos != b.free_ranges.begin()) {
    auto prev = std::prev(pos);
    if (prev->first + prev->second == pos->first) {
      prev->second += pos->second;
      b.free_ranges.erase(pos);
    }
  }
}

Heap::Stats Heap::stats() const {
  Stats s;
  for (const Block& b : blocks_) {
    if (b.size == 0) continue;  // released
    ++s.blocks;
    s.block_bytes += b.size;
    s.used_bytes += b.used;
    for (const auto& [offset, size] : b.free_ranges)
      s.largest_free = std::max(s.largest_free, size);
  }
  s.live_allocations = live_.size();
  return s;
}

}  // namespace descent::vk
