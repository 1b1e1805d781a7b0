// Staging ring, pending transfer commands, queue submission and completion tracking. The only
// vkQueueSubmit in descent. Ordering rule: the pending transfer command buffer starts and ends
// with full barriers, and every other descent command buffer starts with one, so submission
// order on the single queue is execution order for all memory descent touches.
#include "vulkan/transfer.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <optional>

#include "descent/errors.hpp"
#include "util/assert.hpp"
#include "vulkan/check.hpp"
#include "vulkan/context.hpp"

namespace descent::vk {
namespace {
constexpr size_t kMaxFencesInFlight = 8;  // fence path: older submissions are waited for first
uint64_t round_up(uint64_t x, uint64_t a) { return (x + a - 1) / a * a; }
}  // namespace

template <typename F>
auto Transfer::guarded(F&& f) -> decltype(f()) {
  check_alive();
  try {
    return f();
  } catch (const DeviceLostError&) {
    ctx_.mark_device_lost();  // every later call on this device fails fast in check_alive()
    throw;
  }
}

void Transfer::check_alive() const {
  if (ctx_.device_lost())
    throw DeviceError(
        "device lost: the Vulkan device stopped responding earlier (driver reset, "
        "hang or crash); create a new Environment");
}

Transfer::Transfer(Context& ctx, uint64_t staging_bytes, bool use_fences) : ctx_(ctx) {
  VkDevice device = ctx.device();
  timeline_ = ctx.info().has_timeline_semaphore && !use_fences;
  if (timeline_) {
    VkSemaphoreTypeCreateInfo type{VK_STRUCTURE_TYPE_SEMAPHORE_TYPE_CREATE_INFO};
    type.semaphoreType = VK_SEMAPHORE_TYPE_TIMELINE;
    type.initialValue = 0;
    VkSemaphoreCreateInfo info{VK_STRUCTURE_TYPE_SEMAPHORE_CREATE_INFO, &type};
    VkSemaphore sem = VK_NULL_HANDLE;
    VK_CHECK(vkCreateSemaphore(device, &info, nullptr, &sem));
    semaphore_ = UniqueSemaphore(device, sem);
    ctx.set_name(VK_OBJECT_TYPE_SEMAPHORE, sem, "descent timeline");
  }

  // Regions are aligned for copies (256) and for flushing non-coherent memory.
  VkPhysicalDeviceProperties props;
  vkGetPhysicalDeviceProperties(ctx.physical_device(), &props);
  align_ = std::max<uint64_t>(256, props.limits.nonCoherentAtomSize);
  staging_size_ = round_up(std::max<uint64_t>(staging_bytes, 4 * align_), align_);
  // Quarter-ring chunks let the host fill one chunk while the GPU copies the previous ones.
  max_chunk_ = std::max(align_, staging_size_ / 4 / align_ * align_);

  VkBufferCreateInfo buffer_info{VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO};
  buffer_info.size = staging_size_;
  buffer_info.usage = VK_BUFFER_USAGE_TRANSFER_SRC_BIT | VK_BUFFER_USAGE_TRANSFER_DST_BIT;
  buffer_info.sharingMode = VK_SHARING_MODE_EXCLUSIVE;
  VkBuffer buffer = VK_NULL_HANDLE;
  VK_CHECK(vkCreateBuffer(device, &buffer_info, nullptr, &buffer));
  staging_ = UniqueBuffer(device, buffer);
  VkMemoryRequirements req;
  vkGetBufferMemoryRequirements(device, buffer, &req);
  constexpr VkMemoryPropertyFlags kVisible = VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT;
  constexpr VkMemoryPropertyFlags kCoherent = VK_MEMORY_PROPERTY_HOST_COHERENT_BIT;
  uint32_t type = UINT32_MAX;
  try {  // coherent preferred (cached too when possible: faster downloads), else flush by hand
    type = ctx.find_memory_type(req.memoryTypeBits, kVisible | kCoherent,
                                VK_MEMORY_PROPERTY_HOST_CACHED_BIT);
  } catch (const DeviceError&) {
    type = ctx.find_memory_type(req.memoryTypeBits, kVisible, VK_MEMORY_PROPERTY_HOST_CACHED_BIT);
    coherent_ = false;
  }
  std::optional<MemoryReservation> reservation = MemoryReservation::take(ctx, type, req.size);
  if (!reservation) {
    HeapBudget b = device_memory_budget(ctx, type);
    throw OutOfMemoryError(
        fmt::format("out of device memory: the staging ring for uploads and downloads ({} bytes) "
                    "does not fit on {}; destroy Environments you no longer need or raise "
                    "DESCENT_HEAP_LIMIT_MB", req.size, b.describe()),
        req.size, b.size, b.in_use);
  }
  staging_reservation_ = std::move(*reservation);
  VkMemoryAllocateInfo alloc_info{VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO};
  alloc_info.allocationSize = req.size;
  alloc_info.memoryTypeIndex = type;
  VkDeviceMemory memory = VK_NULL_HANDLE;
  VK_CHECK(vkAllocateMemory(device, &alloc_info, nullptr, &memory));
  staging_memory_ = UniqueMemory(device, memory);
  VK_CHECK(vkBindBufferMemory(device, buffer, memory, 0));
  void* mapped = nullptr;
  VK_CHECK(vkMapMemory(device, memory, 0, VK_WHOLE_SIZE, 0, &mapped));  // unmapped by vkFreeMemory
  mapped_ = static_cast<uint8_t*>(mapped);
  ctx.set_name(VK_OBJECT_TYPE_BUFFER, buffer, "descent staging ring");
}

Transfer::~Transfer() {
  // Everything in flight must finish before command buffers and staging memory are destroyed.
  // The result is ignored: after device loss, destruction proceeds anyway.
  vkQueueWaitIdle(ctx_.queue());
}

CommandBuffer& Transfer::pending() {
  if (!pending_) {
    if (free_cbs_.empty()) {
      free_cbs_.push_back(std::make_unique<CommandBuffer>(ctx_, "descent transfer commands"));
    }
    pending_ = std::move(free_cbs_.back());
    free_cbs_.pop_back();
    pending_->begin(/*simultaneous_use=*/false);
    pending_->compute_barrier();  // orders these copies after everything submitted before
  }
  return *pending_;
}

// Inserts a barrier when [begin, end) of `buffer` overlaps a write recorded in the pending
// buffer since its last barrier (two copies to one range, or a copy then a read-back).
void Transfer::before_access(VkBuffer buffer, uint64_t begin, uint64_t end, bool write) {
  CommandBuffer& cb = pending();
  for (const Range& r : pending_writes_) {
    if (r.buffer == buffer && r.begin < end && begin < r.end) {
      cb.compute_barrier();
      pending_writes_.clear();
      break;
    }
  }
  if (write) pending_writes_.push_back({buffer, begin, end});
}

uint64_t Transfer::reserve(uint64_t bytes) {
  uint64_t n = round_up(bytes, align_);
  DESCENT_ASSERT(n <= staging_size_, "staging chunk larger than the ring");
  for (;;) {
    poll();
    while (!regions_.empty() && regions_.front().serial != 0 &&
           regions_.front().serial <= completed_)
      regions_.pop_front();
    if (regions_.empty()) {
      regions_.push_back({0, n, 0});
      return 0;
    }
    const Region& front = regions_.front();
    const Region& back = regions_.back();
    uint64_t head = back.offset + back.size;
    std::optional<uint64_t> place;
    if (back.offset >= front.offset) {  // live regions are contiguous [front, head)
      if (head + n <= staging_size_)
        place = head;
      else if (n <= front.offset)
        place = 0;                          // wrap; [head, end) stays unused this lap
    } else if (head + n <= front.offset) {  // wrapped: free space is [head, front)
      place = head;
    }
    if (place) {
      regions_.push_back({*place, n, 0});
      return *place;
    }
    // Full: the oldest region becomes reusable once its submission completes.
    if (regions_.front().serial == 0) submit_unguarded({});
    wait_unguarded(regions_.front().serial);
  }
}

void Transfer::upload(const Allocation& dst, uint64_t dst_offset, const void* src, uint64_t bytes) {
  DESCENT_ASSERT(dst.valid() && dst_offset + bytes <= dst.size,
                 fmt::format("upload of {} bytes at {} into an allocation of {}", bytes, dst_offset,
                             dst.size));
  guarded([&] {
    const auto* from = static_cast<const uint8_t*>(src);
    for (uint64_t done = 0; done < bytes;) {
      uint64_t n = std::min(bytes - done, max_chunk_);
      uint64_t at = reserve(n);
      std::memcpy(mapped_ + at, from + done, n);
      if (!coherent_) {
        VkMappedMemoryRange range{VK_STRUCTURE_TYPE_MAPPED_MEMORY_RANGE, nullptr,
                                  staging_memory_.get(), at, round_up(n, align_)};
        VK_CHECK(vkFlushMappedMemoryRanges(ctx_.device(), 1, &range));
      }
      uint64_t to = dst.offset + dst_offset + done;
      before_access(dst.buffer, to, to + n, /*write=*/true);
      pending().copy_buffer(staging_.get(), at, dst.buffer, to, n);
      done += n;
    }
  });
}

void Transfer::update(const Allocation& dst, uint64_t dst_offset, const void* src, uint64_t bytes) {
  DESCENT_ASSERT(dst.valid() && dst_offset + bytes <= dst.size, "update out of range");
  guarded([&] {
    uint64_t to = dst.offset + dst_offset;
    before_access(dst.buffer, to, to + bytes, /*write=*/true);
    pending().update_buffer(dst.buffer, to, src, bytes);
  });
}

void Transfer::fill_zero(const Allocation& dst, uint64_t dst_offset, uint64_t bytes) {
  uint64_t n = round_up(bytes, 4);  // allocations are 256-byte multiples, so this stays inside
  DESCENT_ASSERT(dst.valid() && dst_offset % 4 == 0 && dst_offset + n <= dst.size,
                 "fill_zero out of range or misaligned");
  guarded([&] {
    uint64_t to = dst.offset + dst_offset;
    before_access(dst.buffer, to, to + n, /*write=*/true);
    pending().fill_buffer(dst.buffer, to, n, 0);
  });
}

void Transfer::download(const Allocation& src, uint64_t src_offset, void* dst, uint64_t bytes) {
  DESCENT_ASSERT(src.valid() && src_offset + bytes <= src.size,
                 fmt::format("download of {} bytes at {} from an allocation of {}", bytes,
                             src_offset, src.size));
  guarded([&] {
    auto* to = static_cast<uint8_t*>(dst);
    for (uint64_t done = 0; done < bytes;) {
      uint64_t n = std::min(bytes - done, max_chunk_);
      uint64_t at = reserve(n);
      uint64_t from = src.offset + src_offset + done;
      before_access(src.buffer, from, from + n, /*write=*/false);
      pending().copy_buffer(src.buffer, from, staging_.get(), at, n);
      wait_unguarded(submit_unguarded({}));  // the pending buffer ends with a host barrier
      if (!coherent_) {
        VkMappedMemoryRange range{VK_STRUCTURE_TYPE_MAPPED_MEMORY_RANGE, nullptr,
                                  staging_memory_.get(), at, round_up(n, align_)};
        VK_CHECK(vkInvalidateMappedMemoryRanges(ctx_.device(), 1, &range));
      }
      std::memcpy(to + done, mapped_ + at, n);
      done += n;
    }
  });
}

uint64_t Transfer::submit(std::span<const VkCommandBuffer> cbs) {
  return guarded([&] { return submit_unguarded(cbs); });
}

uint64_t Transfer::submit_unguarded(std::span<const VkCommandBuffer> cbs) {
  std::vector<VkCommandBuffer> list;
  list.reserve(cbs.size() + 1);
  if (pending_) {
    pending_->compute_barrier();    // later command buffers see these copies
    pending_->host_read_barrier();  // and so does the host, after waiting (downloads)
    pending_->end();
    list.push_back(pending_->handle());
  }
  list.insert(list.end(), cbs.begin(), cbs.end());
  if (!timeline_ && in_flight_.size() >= kMaxFencesInFlight)
    wait_unguarded(in_flight_.front().serial);

  uint64_t serial = last_submitted_ + 1;
  VkTimelineSemaphoreSubmitInfo timeline{VK_STRUCTURE_TYPE_TIMELINE_SEMAPHORE_SUBMIT_INFO};
  VkSubmitInfo info{VK_STRUCTURE_TYPE_SUBMIT_INFO};
  info.commandBufferCount = static_cast<uint32_t>(list.size());
  info.pCommandBuffers = list.data();
  VkSemaphore semaphore = semaphore_.get();
  UniqueFence fence;
  if (timeline_) {
    timeline.signalSemaphoreValueCount = 1;
    timeline.pSignalSemaphoreValues = &serial;
    info.pNext = &timeline;
    info.signalSemaphoreCount = 1;
    info.pSignalSemaphores = &semaphore;
  } else if (!free_fences_.empty()) {
    fence = std::move(free_fences_.back());
    free_fences_.pop_back();
  } else {
    VkFenceCreateInfo fence_info{VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
    VkFence raw = VK_NULL_HANDLE;
    VK_CHECK(vkCreateFence(ctx_.device(), &fence_info, nullptr, &raw));
    fence = UniqueFence(ctx_.device(), raw);
  }
  try {
    VK_CHECK(vkQueueSubmit(ctx_.queue(), 1, &info, fence.get()));
  } catch (const Error&) {
    if (pending_) {  // not submitted: drop the pending copies and release their staging regions
      pending_->reset();
      free_cbs_.push_back(std::move(pending_));
      pending_writes_.clear();
      std::erase_if(regions_, [](const Region& region) { return region.serial == 0; });
    }
    if (fence) free_fences_.push_back(std::move(fence));
    throw;
  }

  last_submitted_ = serial;
  ++submit_count_;
  for (Region& region : regions_)
    if (region.serial == 0) region.serial = serial;
  pending_writes_.clear();
  in_flight_.push_back({serial, std::move(pending_), std::move(fence)});
  return serial;
}

uint64_t Transfer::flush() {
  return guarded([&] { return pending_ ? submit_unguarded({}) : last_submitted_; });
}

// Advances completed_ from the semaphore or fences without blocking, then recycles.
void Transfer::poll() {
  if (timeline_) {
    uint64_t value = 0;
    VK_CHECK(vkGetSemaphoreCounterValue(ctx_.device(), semaphore_.get(), &value));
    completed_ = std::max(completed_, value);
  } else {
    for (const InFlight& f : in_flight_) {
      VkResult vkGetFenceStatus_result = vkGetFenceStatus(ctx_.device(), f.fence.get());
      if (vkGetFenceStatus_result == VK_NOT_READY) break;
      VK_CHECK(vkGetFenceStatus_result);
      completed_ = std::max(completed_, f.serial);
    }
  }
  retire();
}

// Recycles the command buffers and fences of completed submissions. A signal of serial N also
// covers every earlier submission: its first synchronization scope includes all commands that
// precede it in submission order on the queue.
void Transfer::retire() {
  while (!in_flight_.empty() && in_flight_.front().serial <= completed_) {
    InFlight& f = in_flight_.front();
    if (f.cb) {
      f.cb->reset();
      free_cbs_.push_back(std::move(f.cb));
    }
    if (f.fence) {
      VkFence raw = f.fence.get();
      VK_CHECK(vkResetFences(ctx_.device(), 1, &raw));
      free_fences_.push_back(std::move(f.fence));
    }
    in_flight_.pop_front();
  }
}

void Transfer::wait(uint64_t serial) {
  guarded([&] { wait_unguarded(serial); });
}

void Transfer::wait_unguarded(uint64_t serial) {
  DESCENT_ASSERT(
      serial <= last_submitted_,
      fmt::format("wait for serial {} but only {} were submitted", serial, last_submitted_));
  if (serial <= completed_) return;
  if (timeline_) {
    VkSemaphore semaphore = semaphore_.get();
    VkSemaphoreWaitInfo info{VK_STRUCTURE_TYPE_SEMAPHORE_WAIT_INFO};
    info.semaphoreCount = 1;
    info.pSemaphores = &semaphore;
    info.pValues = &serial;
    VK_CHECK(vkWaitSemaphores(ctx_.device(), &info, UINT64_MAX));
  } else {
    auto it = std::find_if(in_flight_.begin(), in_flight_.end(),
                           [&](const InFlight& f) { return f.serial == serial; });
    DESCENT_ASSERT(it != in_flight_.end(), "no fence for an incomplete submission");
    VkFence raw = it->fence.get();
    VK_CHECK(vkWaitForFences(ctx_.device(), 1, &raw, VK_TRUE, UINT64_MAX));
  }
  completed_ = std::max(completed_, serial);
  retire();
}

void Transfer::wait_idle() {
  guarded([&] {
    if (pending_) submit_unguarded({});
    wait_unguarded(last_submitted_);
  });
}

bool Transfer::is_complete(uint64_t serial) {
  return guarded([&] {
    if (serial > completed_) poll();
    return serial <= completed_;
  });
}

}  // namespace descent::vk
