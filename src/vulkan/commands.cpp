// Command pool/buffer RAII and recording helpers. Only vkCmd* recording and pool management here;
// it must not call vkQueueSubmit or wait for anything.
#include "vulkan/commands.hpp"

#include <fmt/format.h>

#include "util/assert.hpp"
#include "vulkan/check.hpp"
#include "vulkan/context.hpp"
#include "vulkan/pipeline.hpp"

namespace descent::vk {
namespace {
constexpr VkPipelineStageFlags kComputeTransfer =
    VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT;
constexpr VkAccessFlags kWrites = VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_WRITE_BIT;
}  // namespace

CommandPool::CommandPool(Context& ctx) {
  VkCommandPoolCreateInfo info{VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO};
  info.flags = VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT;
  info.queueFamilyIndex = ctx.queue_family();
  VkCommandPool pool = VK_NULL_HANDLE;
  VK_CHECK(vkCreateCommandPool(ctx.device(), &info, nullptr, &pool));
  pool_ = UniqueCommandPool(ctx.device(), pool);
}

CommandBuffer::CommandBuffer(Context& ctx, const std::string& name) : ctx_(&ctx), pool_(ctx) {
  VkCommandBufferAllocateInfo info{VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO};
  info.commandPool = pool_.handle();
  info.level = VK_COMMAND_BUFFER_LEVEL_PRIMARY;
  info.commandBufferCount = 1;
  VK_CHECK(vkAllocateCommandBuffers(ctx.device(), &info, &cb_));
  ctx.set_name(VK_OBJECT_TYPE_COMMAND_BUFFER, cb_, name);
}

void CommandBuffer::begin(bool simultaneous_use) {
  VkCommandBufferBeginInfo info{VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO};
  info.flags = simultaneous_use ? VK_COMMAND_BUFFER_USAGE_SIMULTANEOUS_USE_BIT
                                : VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT;
  VK_CHECK(vkBeginCommandBuffer(cb_, &info));
  bound_ = VK_NULL_HANDLE;
}

void CommandBuffer::end() { VK_CHECK(vkEndCommandBuffer(cb_)); }

void CommandBuffer::reset() {
  VK_CHECK(vkResetCommandBuffer(cb_, 0));
  bound_ = VK_NULL_HANDLE;
}

void CommandBuffer::compute_barrier() {
  VkMemoryBarrier barrier{VK_STRUCTURE_TYPE_MEMORY_BARRIER};
  barrier.srcAccessMask = kWrites;
  barrier.dstAccessMask = VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT |
                          VK_ACCESS_TRANSFER_READ_BIT | VK_ACCESS_TRANSFER_WRITE_BIT;
  vkCmdPipelineBarrier(cb_, kComputeTransfer, kComputeTransfer, 0, 1, &barrier, 0, nullptr, 0,
                       nullptr);
}

void CommandBuffer::host_read_barrier() {
  VkMemoryBarrier barrier{VK_STRUCTURE_TYPE_MEMORY_BARRIER};
  barrier.srcAccessMask = kWrites;
  barrier.dstAccessMask = VK_ACCESS_HOST_READ_BIT;
  vkCmdPipelineBarrier(cb_, kComputeTransfer, VK_PIPELINE_STAGE_HOST_BIT, 0, 1, &barrier, 0,
                       nullptr, 0, nullptr);
}

void CommandBuffer::dispatch(const ComputePipeline& pipeline, const void* push_data,
                             uint32_t push_bytes, uint32_t gx, uint32_t gy, uint32_t gz) {
  const DeviceInfo& info = ctx_->info();
  DESCENT_ASSERT(push_bytes <= pipeline.push_constant_bytes() && push_bytes % 4 == 0,
                 fmt::format("dispatch pushes {} bytes; pipeline takes {}", push_bytes,
                             pipeline.push_constant_bytes()));
  DESCENT_ASSERT(
      gx <= info.max_workgroup_count[0] && gy <= info.max_workgroup_count[1] &&
          gz <= info.max_workgroup_count[2],
      fmt::format("dispatch {}x{}x{} exceeds the device's workgroup count limit", gx, gy, gz));
  if (bound_ != pipeline.pipeline()) {
    vkCmdBindPipeline(cb_, VK_PIPELINE_BIND_POINT_COMPUTE, pipeline.pipeline());
    bound_ = pipeline.pipeline();
  }
  if (push_bytes > 0)
    vkCmdPushConstants(cb_, pipeline.layout(), VK_SHADER_STAGE_COMPUTE_BIT, 0, push_bytes,
                       push_data);
  vkCmdDispatch(cb_, gx, gy, gz);
}

void CommandBuffer::write_timestamp(VkQueryPool pool, uint32_t query,
                                    VkPipelineStageFlagBits stage) {
  vkCmdWriteTimestamp(cb_, stage, pool, query);
}

void CommandBuffer::reset_queries(VkQueryPool pool, uint32_t first, uint32_t count) {
  vkCmdResetQueryPool(cb_, pool, first, count);
}

void CommandBuffer::begin_label(const char* name) {
  if (!ctx_->debug_utils().cmd_begin_label) return;
  VkDebugUtilsLabelEXT label{VK_STRUCTURE_TYPE_DEBUG_UTILS_LABEL_EXT};
  label.pLabelName = name;
  ctx_->debug_utils().cmd_begin_label(cb_, &label);
}

void CommandBuffer::end_label() {
  if (ctx_->debug_utils().cmd_end_label) ctx_->debug_utils().cmd_end_label(cb_);
}

void CommandBuffer::copy_buffer(VkBuffer src, uint64_t src_offset, VkBuffer dst,
                                uint64_t dst_offset, uint64_t bytes) {
  if (bytes == 0) return;
  VkBufferCopy region{src_offset, dst_offset, bytes};
  vkCmdCopyBuffer(cb_, src, dst, 1, &region);
}

void CommandBuffer::fill_buffer(VkBuffer dst, uint64_t offset, uint64_t bytes, uint32_t value) {
  DESCENT_ASSERT(offset % 4 == 0 && bytes % 4 == 0, "fill_buffer needs 4-byte multiples");
  if (bytes == 0) return;
  vkCmdFillBuffer(cb_, dst, offset, bytes, value);
}

void CommandBuffer::update_buffer(VkBuffer dst, uint64_t offset, const void* data, uint64_t bytes) {
  DESCENT_ASSERT(offset % 4 == 0 && bytes % 4 == 0 && bytes <= 65536,
                 fmt::format("update_buffer of {} bytes at {}: needs 4-byte multiples, <= 65536",
                             bytes, offset));
  if (bytes == 0) return;
  vkCmdUpdateBuffer(cb_, dst, offset, bytes, data);
}

}  // namespace descent::vk
