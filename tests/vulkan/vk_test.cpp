// Tests of the Vulkan layer's context, heap and transfer paths (runs on lavapipe in CI).
// Shader compilation, pipelines, dispatch and validation are in vk_shader_test.cpp.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>

#include "descent/errors.hpp"
#include "vk_test_util.hpp"
#include "vulkan/heap.hpp"
#include "vulkan/transfer.hpp"

namespace descent::vk::test {
namespace {

constexpr uint64_t kMiB = uint64_t(1) << 20;

// With DESCENT_VALIDATION=1 the shared context runs every test under validation: any message
// fails the run.
class ValidationEnvironment : public ::testing::Environment {
 public:
  void TearDown() override {
    if (shared_context_slot()) expect_no_validation_messages(*shared_context_slot());
  }
};
[[maybe_unused]] const ::testing::Environment* const kValidationEnvironment =
    ::testing::AddGlobalTestEnvironment(new ValidationEnvironment);

TEST(Vulkan, ContextInfo) {
  Context& ctx = shared_context();
  const DeviceInfo& info = ctx.info();
  fmt::print("{}\n", describe(info));
  for (const std::string& d : ctx.list_devices()) fmt::print("  {}\n", d);
  EXPECT_GE(info.api_version, VK_API_VERSION_1_2);
  EXPECT_FALSE(info.name.empty());
  EXPECT_GE(info.max_push_constants_size, 128u);
  EXPECT_GT(info.max_allocation_size, 0u);
  EXPECT_EQ(info.cache_key.size(), 32u + 24u);
  EXPECT_FALSE(ctx.list_devices().empty());
  EXPECT_NE(ctx.device(), VK_NULL_HANDLE);
  EXPECT_NE(ctx.queue(), VK_NULL_HANDLE);
  EXPECT_FALSE(ctx.device_lost());
}

TEST(Vulkan, DeviceSelector) {
  auto by_index = Context::create({.device_selector = "0"});
  EXPECT_FALSE(by_index->info().name.empty());
  std::string part = by_index->info().name.substr(0, 4);
  for (char& c : part) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  auto by_name = Context::create({.device_selector = part});  // case-insensitive substring
  EXPECT_EQ(by_name->info().name, by_index->info().name);
  try {
    Context::create({.device_selector = "no-such-device-xyz"});
    FAIL() << "expected DeviceError";
  } catch (const DeviceError& e) {
    EXPECT_NE(std::string(e.what()).find("available devices"), std::string::npos) << e.what();
  }
  EXPECT_THROW(Context::create({.device_selector = "999"}), DeviceError);
  EXPECT_THROW(Context::create({.api_version = "0.9"}), DeviceError);
  auto v12 = Context::create({.api_version = "1.2"});
  EXPECT_EQ(VK_API_VERSION_MINOR(v12->info().api_version), 2u);
}

TEST(Vulkan, HeapAllocFreeCoalesce) {
  Context& ctx = shared_context();
  Heap heap(ctx, kMiB);
  Allocation a = heap.alloc(1000), b = heap.alloc(256 * uint64_t(1024)), c = heap.alloc(1);
  for (const Allocation& x : {a, b, c}) {
    EXPECT_TRUE(x.valid());
    EXPECT_EQ(x.offset % 256, 0u);
    EXPECT_EQ(x.address % 256, 0u);
    EXPECT_EQ(x.block, 0u);
  }
  EXPECT_EQ(a.size, 1024u);
  EXPECT_EQ(b.offset, 1024u);
  EXPECT_EQ(c.offset, 1024u + 256 * 1024);
  EXPECT_EQ(b.address, a.address + 1024);
  Heap::Stats s = heap.stats();
  EXPECT_EQ(s.blocks, 1u);
  EXPECT_EQ(s.live_allocations, 3u);
  EXPECT_EQ(s.used_bytes, 1024u + 256 * 1024 + 256);
  heap.free(a);
  heap.free(b);  // coalesces with a's range: one free range of 257 KiB at offset 0
  EXPECT_EQ(heap.stats().largest_free, kMiB - (1024 + 256 * 1024 + 256));
  Allocation d = heap.alloc(257 * uint64_t(1024));  // fits exactly in the coalesced hole
  EXPECT_EQ(d.offset, 0u);
  heap.free(c);
  heap.free(d);
  s = heap.stats();
  EXPECT_EQ(s.used_bytes, 0u);
  EXPECT_EQ(s.largest_free, kMiB);
  EXPECT_EQ(s.live_allocations, 0u);
  // A second block appears only when the first is full.
  Allocation e = heap.alloc(kMiB), f = heap.alloc(16);
  EXPECT_EQ(e.block, 0u);
  EXPECT_EQ(f.block, 1u);
  EXPECT_EQ(heap.stats().blocks, 2u);
  EXPECT_NE(e.id, f.id);
}

TEST(Vulkan, HeapLargeAllocation) {
  Context& ctx = shared_context();
  Heap heap(ctx);               // 256 MiB blocks
  uint64_t bytes = 300 * kMiB;  // > block size and > lavapipe's 128 MiB maxStorageBufferRange
  ASSERT_LE(bytes, ctx.info().max_allocation_size);
  Allocation big = heap.alloc(bytes);
  EXPECT_EQ(big.size, bytes);
  EXPECT_EQ(heap.stats().block_bytes, bytes);  // a block of its own
  Allocation small = heap.alloc(4096);
  EXPECT_NE(small.block, big.block);
  // The far end of the big allocation is reachable.
  Transfer t(ctx);
  std::vector<uint8_t> data = random_bytes(kMiB, 7), back(kMiB);
  t.upload(big, bytes - kMiB, data.data(), kMiB);
  t.download(big, bytes - kMiB, back.data(), kMiB);
  EXPECT_EQ(data, back);
  try {
    heap.alloc(ctx.info().max_allocation_size + 1);
    FAIL() << "expected OutOfMemoryError";
  } catch (const OutOfMemoryError& e) {
    EXPECT_NE(std::string(e.what()).find("maxMemoryAllocationSize"), std::string::npos);
  }
}

TEST(Vulkan, HeapFailAfter) {
  Context& ctx = shared_context();
  Heap heap(ctx, 4 * kMiB);
  heap.set_fail_after(0);
  try {
    heap.alloc(kMiB);
    FAIL() << "expected OutOfMemoryError";
  } catch (const OutOfMemoryError& e) {
    EXPECT_EQ(e.bytes(), 4 * kMiB);
    EXPECT_NE(std::string(e.what()).find("on heap"), std::string::npos) << e.what();
  }
  EXPECT_EQ(heap.stats().blocks, 0u);
  Allocation a = heap.alloc(kMiB);  // the heap is fully usable again
  EXPECT_TRUE(a.valid());
  heap.set_fail_after(1);  // one more block succeeds, the next fails
  Allocation b = heap.alloc(4 * kMiB);
  EXPECT_EQ(b.block, 1u);
  EXPECT_THROW(heap.alloc(4 * kMiB), OutOfMemoryError);
  Allocation c = heap.alloc(kMiB);  // fits in block 0: no device allocation needed
  EXPECT_EQ(c.block, 0u);
  EXPECT_EQ(heap.stats().blocks, 2u);
}

/// Size of the memory heap behind the first device-local memory type (the one Heap picks).
uint64_t array_heap_size(const Context& ctx) {
  VkPhysicalDeviceMemoryProperties props;
  vkGetPhysicalDeviceMemoryProperties(ctx.physical_device(), &props);
  for (uint32_t i = 0; i < props.memoryTypeCount; ++i)
    if (props.memoryTypes[i].propertyFlags & VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT)
      return props.memoryHeaps[props.memoryTypes[i].heapIndex].size;
  return props.memoryHeaps[props.memoryTypes[0].heapIndex].size;
}

// The heap never asks the driver for more than the memory heap holds (lavapipe grants anything:
// 10.7 GB on its 2 GiB heap ended in the kernel's OOM killer). Quarter-heap blocks that are never
// written cost address space only (lavapipe does not zero new memory).
TEST(Vulkan, HeapStaysWithinTheMemoryHeap) {
  Context& ctx = shared_context();
  const uint64_t heap_size = array_heap_size(ctx);
  const uint64_t chunk = std::min(heap_size / 4, ctx.info().max_allocation_size) / 256 * 256;
  Heap heap(ctx, chunk);
  std::vector<Allocation> got;
  std::string refusal;
  for (int i = 0; i < 6 && refusal.empty(); ++i) {
    try {
      got.push_back(heap.alloc(chunk));
    } catch (const OutOfMemoryError& e) {
      refusal = e.what();
      EXPECT_EQ(e.bytes(), chunk);
    }
  }
  ASSERT_FALSE(refusal.empty()) << got.size() << " blocks of 1/4 of the heap were granted";
  RecordProperty("refusal", refusal);
  EXPECT_LE(got.size(), 4u);
  EXPECT_LE(heap.stats().block_bytes, heap_size);
  for (const char* part : {"heap 0", "MiB", "in use", "smaller batches"})
    EXPECT_NE(refusal.find(part), std::string::npos) << "lacks '" << part << "': " << refusal;
  ASSERT_GE(got.size(), 3u);
  // Freed space is used again, and emptied blocks go back to the driver when a request needs a
  // bigger one.
  for (int i = 0; i < 2; ++i) {
    heap.free(got.back());
    got.pop_back();
  }
  Allocation small = heap.alloc(kMiB);
  EXPECT_TRUE(small.valid());
  heap.free(small);
  Allocation bigger = heap.alloc(chunk + chunk / 2);
  EXPECT_TRUE(bigger.valid());
  EXPECT_LE(heap.stats().block_bytes, heap_size);
  heap.free(bigger);
  for (const Allocation& a : got) heap.free(a);
  expect_no_validation_messages(ctx);
}

void round_trip(Transfer& t, Heap& heap, uint64_t bytes, uint32_t seed) {
  std::vector<uint8_t> data = random_bytes(bytes, seed), back(bytes, 0);
  Allocation a = heap.alloc(bytes);
  t.upload(a, 0, data.data(), bytes);
  t.download(a, 0, back.data(), bytes);
  EXPECT_TRUE(std::memcmp(data.data(), back.data(), bytes) == 0) << bytes << " bytes differ";
  heap.free(a);
}

TEST(Vulkan, RoundTrip) {
  Context& ctx = shared_context();
  Heap heap(ctx);
  Transfer t(ctx);
  round_trip(t, heap, kMiB, 1);
  round_trip(t, heap, 70 * kMiB, 2);  // larger than the 64 MiB staging ring
  EXPECT_TRUE(t.is_complete(t.last_serial()));
}

TEST(Vulkan, RoundTripSmallRingWithFences) {
  Context& ctx = shared_context();
  Heap heap(ctx);
  Transfer t(ctx, kMiB, /*use_fences=*/true);
  EXPECT_FALSE(t.uses_timeline_semaphore());
  round_trip(t, heap, 3'333'333, 3);  // odd size, wraps the ring several times
  // More uploads in flight than the fence ring holds.
  std::vector<Allocation> allocs;
  std::vector<std::vector<uint8_t>> datas;
  for (uint32_t i = 0; i < 20; ++i) {
    datas.push_back(random_bytes(200'000, 100 + i));
    allocs.push_back(heap.alloc(200'000));
    t.upload(allocs.back(), 0, datas.back().data(), 200'000);
    t.flush();
  }
  for (size_t i = 0; i < allocs.size(); ++i) {
    std::vector<uint8_t> back(200'000);
    t.download(allocs[i], 0, back.data(), back.size());
    EXPECT_EQ(back, datas[i]) << i;
  }
  t.wait_idle();
}

TEST(Vulkan, UpdateFillAndOverlap) {
  Context& ctx = shared_context();
  Heap heap(ctx);
  Transfer t(ctx);
  Allocation a = heap.alloc(4096);
  std::vector<uint32_t> ones(1024, 1), words(16), back(1024);
  for (uint32_t i = 0; i < 16; ++i) words[i] = 100 + i;
  t.upload(a, 0, ones.data(), 4096);
  t.fill_zero(a, 64, 128);             // overlaps the upload: needs a barrier
  t.update(a, 128, words.data(), 64);  // overlaps the fill
  t.download(a, 0, back.data(), 4096);
  for (uint32_t i = 0; i < 1024; ++i) {  // words: [0,16) 1, [16,32) 0, [32,48) 100+, rest 1
    uint32_t want = (i >= 16 && i < 32) ? 0 : (i >= 32 && i < 48) ? 100 + (i - 32) : 1;
    ASSERT_EQ(back[i], want) << i;
  }
  uint64_t before = t.submit_count();
  EXPECT_EQ(t.flush(), t.last_serial());  // nothing pending: no submission
  EXPECT_EQ(t.submit_count(), before);
}

TEST(Vulkan, DeviceLostFailsFast) {
  auto ctx = Context::create({});
  Heap heap(*ctx);
  Transfer t(*ctx);
  Allocation a = heap.alloc(256);
  ctx->mark_device_lost();
  uint32_t x = 0;
  try {
    t.upload(a, 0, &x, 4);
    FAIL() << "expected DeviceError";
  } catch (const DeviceError& e) {
    EXPECT_NE(std::string(e.what()).find("create a new Environment"), std::string::npos);
  }
  EXPECT_THROW(t.submit({}), DeviceError);
  EXPECT_THROW(t.wait_idle(), DeviceError);
}

}  // namespace
}  // namespace descent::vk::test
