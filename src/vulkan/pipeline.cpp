// Builds compute pipelines (layout: no set layouts, one COMPUTE push-constant range) and manages
// the persisted VkPipelineCache. It must not compile GLSL or record commands.
#include "vulkan/pipeline.hpp"

#include <fmt/format.h>

#include <cstring>

#include "descent/errors.hpp"
#include "util/flags.hpp"
#include "vulkan/check.hpp"
#include "vulkan/context.hpp"
#include "vulkan/disk_cache.hpp"

namespace descent::vk {
namespace {

// True if `data` starts with a VkPipelineCacheHeaderVersionOne for this very device. Drivers
// check this too, but some crash on foreign data, so descent refuses it first.
bool header_matches(const std::vector<char>& data, VkPhysicalDevice device) {
  VkPipelineCacheHeaderVersionOne header;
  if (data.size() < sizeof(header)) return false;
  std::memcpy(&header, data.data(), sizeof(header));
  VkPhysicalDeviceProperties props;
  vkGetPhysicalDeviceProperties(device, &props);
  return header.headerSize >= sizeof(header) &&
         header.headerVersion == VK_PIPELINE_CACHE_HEADER_VERSION_ONE &&
         header.vendorID == props.vendorID && header.deviceID == props.deviceID &&
         std::memcmp(header.pipelineCacheUUID, props.pipelineCacheUUID, VK_UUID_SIZE) == 0;
}

}  // namespace

PipelineCache::PipelineCache(Context& ctx) : ctx_(ctx) {
  const auto& flags = descent::detail::flags();
  if (!flags.no_disk_cache && !flags.cache_dir.empty())
    path_ = fmt::format("{}/pipelines-{}.bin", flags.cache_dir, ctx.info().cache_key);
  std::vector<char> data;
  if (!path_.empty()) {
    if (auto bytes = detail::read_file(path_);
        bytes && header_matches(*bytes, ctx.physical_device()))
      data = std::move(*bytes);
  }
  VkPipelineCacheCreateInfo info{VK_STRUCTURE_TYPE_PIPELINE_CACHE_CREATE_INFO};
  info.initialDataSize = data.size();
  info.pInitialData = data.empty() ? nullptr : data.data();
  VkPipelineCache cache = VK_NULL_HANDLE;
  VkResult vkCreatePipelineCache_result =
      vkCreatePipelineCache(ctx.device(), &info, nullptr, &cache);
  if (vkCreatePipelineCache_result != VK_SUCCESS &&
      !data.empty()) {  // rejected data: start empty instead
    info.initialDataSize = 0;
    info.pInitialData = nullptr;
    data.clear();
    vkCreatePipelineCache_result = vkCreatePipelineCache(ctx.device(), &info, nullptr, &cache);
  }
  VK_CHECK(vkCreatePipelineCache_result);
  cache_ = UniquePipelineCache(ctx.device(), cache);
  loaded_ = !data.empty();
}

PipelineCache::~PipelineCache() {
  try {
    save();
  } catch (...) {  // destructors must not throw; a lost cache only costs compile time
  }
}

bool PipelineCache::save() {
  if (path_.empty() || !cache_ || ctx_.device_lost()) return false;
  size_t size = 0;
  if (vkGetPipelineCacheData(ctx_.device(), cache_.get(), &size, nullptr) != VK_SUCCESS)
    return false;
  std::vector<char> data(size);
  if (size == 0 ||
      vkGetPipelineCacheData(ctx_.device(), cache_.get(), &size, data.data()) != VK_SUCCESS)
    return false;
  return detail::write_file_atomic(path_, data.data(), size);
}

ComputePipeline::ComputePipeline(Context& ctx, const std::vector<uint32_t>& spirv,
                                 uint32_t push_constant_bytes, const std::string& label,
                                 PipelineCache* cache)
    : push_constant_bytes_(push_constant_bytes), label_(label) {
  VkDevice device = ctx.device();
  if (push_constant_bytes > ctx.info().max_push_constants_size || push_constant_bytes % 4 != 0)
    throw DeviceError(fmt::format(
        "kernel '{}' needs {} bytes of push constants; device '{}' "
        "allows {} (multiples of 4)",
        label, push_constant_bytes, ctx.info().name, ctx.info().max_push_constants_size));
  VkShaderModuleCreateInfo module_info{VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO};
  module_info.codeSize = spirv.size() * sizeof(uint32_t);
  module_info.pCode = spirv.data();
  VkShaderModule raw_module = VK_NULL_HANDLE;
  VK_CHECK(vkCreateShaderModule(device, &module_info, nullptr, &raw_module));
  UniqueShaderModule module(device, raw_module);  // only needed until the pipeline exists

  VkPushConstantRange range{VK_SHADER_STAGE_COMPUTE_BIT, 0, push_constant_bytes};
  VkPipelineLayoutCreateInfo layout_info{VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO};
  layout_info.pushConstantRangeCount = push_constant_bytes > 0 ? 1 : 0;
  layout_info.pPushConstantRanges = &range;
  VkPipelineLayout raw_layout = VK_NULL_HANDLE;
  VK_CHECK(vkCreatePipelineLayout(device, &layout_info, nullptr, &raw_layout));
  layout_ = UniquePipelineLayout(device, raw_layout);

  VkComputePipelineCreateInfo info{VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO};
  info.stage.sType = VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO;
  info.stage.stage = VK_SHADER_STAGE_COMPUTE_BIT;
  info.stage.module = raw_module;
  info.stage.pName = "main";
  info.layout = raw_layout;
  VkPipeline raw_pipeline = VK_NULL_HANDLE;
  VK_CHECK(vkCreateComputePipelines(device, cache ? cache->handle() : VK_NULL_HANDLE, 1, &info,
                                    nullptr, &raw_pipeline));
  pipeline_ = UniquePipeline(device, raw_pipeline);
  ctx.set_name(VK_OBJECT_TYPE_PIPELINE, raw_pipeline, label);
  ctx.set_name(VK_OBJECT_TYPE_PIPELINE_LAYOUT, raw_layout, label + " layout");
}

}  // namespace descent::vk
