// GLSL compute source -> SPIR-V with glslang in-process, cached in memory and on disk (keyed by a
// hash of the source, the glslang version and the device key). It must not create Vulkan objects
// (pipeline.cpp does) nor generate GLSL (src/codegen/ does).
#pragma once
#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

namespace descent::vk {

/// Example:
///   ShaderCompiler compiler(ctx.info().cache_key);
///   std::vector<uint32_t> spirv = compiler.compile(glsl, "fused_add_relu_3");
class ShaderCompiler {
 public:
  /// Reads flags().cache_dir / no_disk_cache now; the disk cache is <cache_dir>/spirv/.
  explicit ShaderCompiler(std::string device_cache_key);

  /// Targets Vulkan 1.2 / SPIR-V 1.5. Thread-safe. Throws ShaderCompileError (label + info log,
  /// numbered source; also written to <dump_dir>/<label>.comp when DESCENT_DUMP is set).
  std::vector<uint32_t> compile(const std::string& source, const std::string& label);

  struct Stats {
    size_t compiled = 0, memory_hits = 0, disk_hits = 0;
    double compile_ms = 0;  // wall time spent inside glslang
  };
  Stats stats() const;
  /// Where `source` is (or would be) cached on disk; "" when the disk cache is off.
  std::string disk_path(const std::string& source) const;

 private:
  std::string key_hex(const std::string& source) const;

  std::string device_key_;
  std::string disk_dir_;  // "" = memory only
  mutable std::mutex mutex_;
  std::unordered_map<std::string, std::vector<uint32_t>> memory_;  // key hex -> SPIR-V
  Stats stats_;
};

/// "%4d: line" per line: how descent shows sources in errors and dumps.
std::string numbered_source(const std::string& source);

}  // namespace descent::vk
