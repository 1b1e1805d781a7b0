// Tests of SPIR-V compilation and caching, compute pipelines, dispatch through Transfer::submit,
// timestamps, and a full pass under the Khronos validation layer (which must stay silent).
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <array>
#include <fstream>

#include "descent/errors.hpp"
#include "vk_test_util.hpp"
#include "vulkan/commands.hpp"
#include "vulkan/heap.hpp"
#include "vulkan/pipeline.hpp"
#include "vulkan/shader_compiler.hpp"
#include "vulkan/timestamps.hpp"
#include "vulkan/transfer.hpp"

namespace descent::vk::test {
namespace {

// Uploads x, runs the doubling kernel twice (one recorded command buffer, simultaneous use,
// submitted twice), downloads and checks 4x. Also times the second run with timestamps.
void run_double_twice(Context& ctx, bool use_fences) {
  ShaderCompiler compiler(ctx.info().cache_key);
  ComputePipeline pipeline(ctx, compiler.compile(kDoubleShader, "double"), sizeof(DoublePush),
                           "double");
  Heap heap(ctx);
  Transfer t(ctx, uint64_t(64) << 20, use_fences);
  const uint32_t n = 100'000;  // not a multiple of 64: the bounds check matters
  std::vector<float> x(n), y(n);
  for (uint32_t i = 0; i < n; ++i) x[i] = 0.25f * static_cast<float>(i) - 1000.0f;
  Allocation a = heap.alloc(n * sizeof(float));
  t.upload(a, 0, x.data(), n * sizeof(float));

  TimestampPool timestamps(ctx, 2);
  CommandBuffer cb(ctx, "double twice");
  cb.begin(/*simultaneous_use=*/true);
  cb.compute_barrier();
  DoublePush push{a.address, n, 0};
  cb.begin_label("double");
  cb.dispatch(pipeline, &push, sizeof push, (n + 63) / 64, 1, 1);
  cb.end_label();
  cb.end();

  uint64_t before = t.submit_count();
  std::array<VkCommandBuffer, 1> cbs{cb.handle()};
  uint64_t s1 = t.submit(cbs);  // with the pending upload in the same vkQueueSubmit
  EXPECT_EQ(t.submit_count(), before + 1);

  CommandBuffer timed(ctx, "timed");  // a second buffer: timestamps around another dispatch
  timed.begin(false);
  timed.compute_barrier();
  if (timestamps.supported()) {
    timed.reset_queries(timestamps.handle(), 0, 2);
    timed.write_timestamp(timestamps.handle(), 0, VK_PIPELINE_STAGE_TOP_OF_PIPE_BIT);
  }
  timed.end();
  CommandBuffer timed_end(ctx, "timed end");
  timed_end.begin(false);
  timed_end.compute_barrier();
  if (timestamps.supported()) timed_end.write_timestamp(timestamps.handle(), 1);
  timed_end.end();
  std::array<VkCommandBuffer, 3> second{timed.handle(), cb.handle(), timed_end.handle()};
  uint64_t s2 = t.submit(second);
  EXPECT_GT(s2, s1);
  EXPECT_EQ(t.submit_count(), before + 2);
  t.wait(s2);
  EXPECT_TRUE(t.is_complete(s1));

  t.download(a, 0, y.data(), n * sizeof(float));
  for (uint32_t i = 0; i < n; ++i) ASSERT_EQ(y[i], x[i] * 4.0f) << i;  // exact: powers of 2
  if (timestamps.supported()) {
    std::vector<double> ns = timestamps.read_ns(0, 2);
    EXPECT_GE(ns[1], ns[0]);
    fmt::print("double kernel: {:.1f} us\n", (ns[1] - ns[0]) / 1000.0);
  }
}

TEST(Vulkan, DispatchSubmittedTwice) { run_double_twice(shared_context(), false); }

TEST(Vulkan, DispatchWithFences) { run_double_twice(shared_context(), true); }

TEST(Vulkan, CompileErrorHasNumberedSource) {
  ScopedFlags scoped;
  scoped.flags().dump_dir = scoped.dir().string();
  scoped.flags().no_disk_cache = true;
  ShaderCompiler compiler(shared_context().info().cache_key);
  std::string bad = "#version 460\nlayout(local_size_x = 1) in;\nvoid main() { oops }\n";
  try {
    compiler.compile(bad, "broken kernel/1");
    FAIL() << "expected ShaderCompileError";
  } catch (const ShaderCompileError& e) {
    EXPECT_NE(std::string(e.what()).find("broken kernel/1"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("ERROR"), std::string::npos) << e.what();
    EXPECT_NE(e.source().find("   1: #version 460\n"), std::string::npos) << e.source();
    EXPECT_NE(e.source().find("   3: void main() { oops }\n"), std::string::npos) << e.source();
  }
  std::ifstream dumped(scoped.dir() / "broken_kernel_1.comp");
  ASSERT_TRUE(dumped.good());
  std::string text((std::istreambuf_iterator<char>(dumped)), std::istreambuf_iterator<char>());
  EXPECT_EQ(text, bad);
  EXPECT_EQ(numbered_source("a\nb"), "   1: a\n   2: b\n");
}

TEST(Vulkan, CompileCache) {
  ScopedFlags scoped;
  scoped.flags().cache_dir = scoped.dir().string();
  scoped.flags().no_disk_cache = false;
  const std::string key = shared_context().info().cache_key;
  std::vector<uint32_t> first;
  {
    ShaderCompiler compiler(key);
    first = compiler.compile(kDoubleShader, "double");
    EXPECT_EQ(first.at(0), 0x07230203u);  // SPIR-V magic
    EXPECT_EQ(compiler.compile(kDoubleShader, "double"), first);
    ShaderCompiler::Stats s = compiler.stats();
    EXPECT_EQ(s.compiled, 1u);
    EXPECT_EQ(s.memory_hits, 1u);
    EXPECT_GT(s.compile_ms, 0.0);
  }
  ShaderCompiler second(key);
  std::string path = second.disk_path(kDoubleShader);
  ASSERT_TRUE(std::filesystem::exists(path)) << path;
  EXPECT_EQ(second.compile(kDoubleShader, "double"), first);
  EXPECT_EQ(second.stats().disk_hits, 1u);
  EXPECT_EQ(second.stats().compiled, 0u);
  { std::ofstream(path, std::ios::binary | std::ios::trunc) << "not spir-v!"; }  // corrupt it
  ShaderCompiler third(key);
  EXPECT_EQ(third.compile(kDoubleShader, "double"), first);
  EXPECT_EQ(third.stats().compiled, 1u);                          // ignored the corrupt file ...
  EXPECT_EQ(std::filesystem::file_size(path), first.size() * 4);  // ... and rewrote it
  ShaderCompiler other_device("another-device");
  EXPECT_NE(other_device.disk_path(kDoubleShader), path);
  scoped.flags().no_disk_cache = true;
  ShaderCompiler memory_only(key);
  EXPECT_EQ(memory_only.disk_path(kDoubleShader), "");
  memory_only.compile(kDoubleShader, "double");
  EXPECT_EQ(memory_only.stats().compiled, 1u);
}

TEST(Vulkan, PipelineCachePersists) {
  ScopedFlags scoped;
  scoped.flags().cache_dir = scoped.dir().string();
  scoped.flags().no_disk_cache = false;
  Context& ctx = shared_context();
  ShaderCompiler compiler(ctx.info().cache_key);
  std::vector<uint32_t> spirv = compiler.compile(kDoubleShader, "double");
  std::string path;
  {
    PipelineCache cache(ctx);
    path = cache.path();
    EXPECT_FALSE(cache.loaded_from_disk());
    ComputePipeline p(ctx, spirv, sizeof(DoublePush), "double", &cache);
    EXPECT_NE(p.pipeline(), VK_NULL_HANDLE);
  }
  ASSERT_TRUE(std::filesystem::exists(path)) << path;
  PipelineCache again(ctx);
  EXPECT_TRUE(again.loaded_from_disk());
  ComputePipeline p(ctx, spirv, sizeof(DoublePush), "double", &again);
  EXPECT_THROW(ComputePipeline(ctx, spirv, ctx.info().max_push_constants_size + 4, "too big"),
               DeviceError);
}

TEST(Vulkan, ValidationIsSilent) {
  auto ctx = Context::create({.validation = true});
  ASSERT_TRUE(ctx->debug_utils().submit_message) << "VK_EXT_debug_utils missing";
  // The messenger works: an injected error is recorded, then cleared.
  VkDebugUtilsMessengerCallbackDataEXT data{
      VK_STRUCTURE_TYPE_DEBUG_UTILS_MESSENGER_CALLBACK_DATA_EXT};
  data.pMessageIdName = "descent-test";
  data.pMessage = "injected by the test (expected)";
  ctx->debug_utils().submit_message(ctx->instance(), VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT,
                                    VK_DEBUG_UTILS_MESSAGE_TYPE_GENERAL_BIT_EXT, &data);
  EXPECT_EQ(ctx->validation_message_count(), 1u);
  ctx->clear_validation_messages();

  run_double_twice(*ctx, false);
  run_double_twice(*ctx, true);
  {
    Heap heap(*ctx, 1 << 20);
    Transfer t(*ctx, 1 << 20);
    std::vector<uint8_t> data_in = random_bytes(3'000'001, 9), back(3'000'001);
    Allocation a = heap.alloc(data_in.size());
    t.upload(a, 0, data_in.data(), data_in.size());
    t.fill_zero(a, 0, 64);
    uint32_t w[4] = {1, 2, 3, 4};
    t.update(a, 16, w, sizeof w);
    t.download(a, 0, back.data(), back.size());
    std::memset(data_in.data(), 0, 64);
    std::memcpy(data_in.data() + 16, w, sizeof w);
    EXPECT_EQ(back, data_in);
    heap.free(a);
  }
  expect_no_validation_messages(*ctx);
}

TEST(Vulkan, ValidationIsSilentOnVulkan12) {
  auto ctx = Context::create({.validation = true, .api_version = "1.2"});
  EXPECT_EQ(VK_API_VERSION_MINOR(ctx->info().api_version), 2u);
  run_double_twice(*ctx, false);
  expect_no_validation_messages(*ctx);
}

}  // namespace
}  // namespace descent::vk::test
