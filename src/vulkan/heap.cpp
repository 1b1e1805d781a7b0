// Block allocation (vkAllocateMemory + buffer + device address) and a first-fit free list per
// block with coalescing. Blocks live until the heap is destroyed. It must not submit GPU work or
// wait on the GPU; lifetime of allocations versus in-flight work is the caller's business.
#include "vulkan/heap.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <iterator>

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
                   kAlignment)) {}

Heap::~Heap() = default;  // each block destroys its buffer, then its memory (member order)

uint32_t Heap::add_block(uint64_t bytes) {
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
  if (memory_type_ == UINT32_MAX)
    memory_type_ =
        ctx_.find_memory_type(req.memoryTypeBits, 0, VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT);
  VkPhysicalDeviceMemoryProperties props;
  vkGetPhysicalDeviceMemoryProperties(ctx_.physical_device(), &props);
  uint32_t heap_index = props.memoryTypes[memory_type_].heapIndex;

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
    Stats s = stats();
    throw OutOfMemoryError(
        fmt::format(
            "out of device memory: could not allocate a block of {} bytes on heap {} "
            "({} bytes in {} blocks already, {} in use); free arrays or use smaller batches",
            req.size, heap_index, s.block_bytes, s.blocks, s.used_bytes),
        req.size);
  }
  VK_CHECK(vkAllocateMemory_result);
  UniqueMemory memory(device, raw_memory);
  VK_CHECK(vkBindBufferMemory(device, raw_buffer, raw_memory, 0));

  VkBufferDeviceAddressInfo address_info{VK_STRUCTURE_TYPE_BUFFER_DEVICE_ADDRESS_INFO};
  address_info.buffer = raw_buffer;
  Block block;
  block.address = vkGetBufferDeviceAddress(device, &address_info);
  block.size = bytes;
  block.free_ranges.emplace(0, bytes);
  block.buffer = std::move(buffer);
  block.memory = std::move(memory);
  auto index = static_cast<uint32_t>(blocks_.size());
  ctx_.set_name(VK_OBJECT_TYPE_BUFFER, raw_buffer, fmt::format("descent heap block {}", index));
  ctx_.set_name(VK_OBJECT_TYPE_DEVICE_MEMORY, raw_memory,
                fmt::format("descent heap block {} memory", index));
  blocks_.push_back(std::move(block));
  return index;
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
    index = add_block(std::max(size, block_size_));
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
  s.blocks = blocks_.size();
  for (const Block& b : blocks_) {
    s.block_bytes += b.size;
    s.used_bytes += b.used;
    for (const auto& [offset, size] : b.free_ranges)
      s.largest_free = std::max(s.largest_free, size);
  }
  s.live_allocations = live_.size();
  return s;
}

}  // namespace descent::vk
