// Compute pipelines: SPIR-V -> VkPipeline with a layout of no descriptor sets and one
// push-constant range (buffer device addresses + scalars). Also the optional VkPipelineCache
// persisted in the cache directory. It must not compile GLSL (shader_compiler.cpp does that).
#pragma once
#include <vulkan/vulkan.h>

#include <cstdint>
#include <string>
#include <vector>

#include "vulkan/handle.hpp"

namespace descent::vk {

class Context;

/// A VkPipelineCache loaded from <cache_dir>/pipelines-<device key>.bin and saved back on
/// destruction (or save()). Disk use is best effort and skipped with DESCENT_NO_DISK_CACHE.
class PipelineCache {
 public:
  explicit PipelineCache(Context& ctx);
  ~PipelineCache();  // save(), never throws
  PipelineCache(const PipelineCache&) = delete;
  PipelineCache& operator=(const PipelineCache&) = delete;

  VkPipelineCache handle() const { return cache_.get(); }
  const std::string& path() const { return path_; }  // "" when the disk is not used
  bool loaded_from_disk() const { return loaded_; }
  /// Writes the cache atomically; returns false (silently) if it could not.
  bool save();

 private:
  Context& ctx_;
  UniquePipelineCache cache_;
  std::string path_;
  bool loaded_ = false;
};

/// Example:
///   ComputePipeline p(ctx, compiler.compile(glsl, "scale"), 16, "scale", &cache);
///   cb.dispatch(p, &push, 16, groups, 1, 1);
class ComputePipeline {
 public:
  /// push_constant_bytes: a multiple of 4, <= info().max_push_constants_size (DeviceError if
  /// larger); 0 for none.
  ComputePipeline(Context& ctx, const std::vector<uint32_t>& spirv, uint32_t push_constant_bytes,
                  const std::string& label, PipelineCache* cache = nullptr);
  ComputePipeline(ComputePipeline&&) noexcept = default;
  ComputePipeline& operator=(ComputePipeline&&) noexcept = default;

  VkPipeline pipeline() const { return pipeline_.get(); }
  VkPipelineLayout layout() const { return layout_.get(); }
  uint32_t push_constant_bytes() const { return push_constant_bytes_; }
  const std::string& label() const { return label_; }

 private:
  UniquePipelineLayout layout_;  // declared first: destroyed after the pipeline
  UniquePipeline pipeline_;
  uint32_t push_constant_bytes_ = 0;
  std::string label_;
};

}  // namespace descent::vk
