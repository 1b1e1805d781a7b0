// In-process GLSL -> SPIR-V with glslang, plus the memory and disk SPIR-V caches. Disk use is
// best effort: unreadable, corrupt or unwritable cache files silently fall back to compiling.
// It must not touch Vulkan objects.
#include "vulkan/shader_compiler.hpp"

#include <fmt/format.h>
#include <glslang/Public/ResourceLimits.h>
#include <glslang/Public/ShaderLang.h>
#include <glslang/SPIRV/GlslangToSpv.h>

#include <cctype>
#include <chrono>
#include <cstring>
#include <filesystem>

#include "descent/errors.hpp"
#include "util/flags.hpp"
#include "vulkan/disk_cache.hpp"

namespace descent::vk {
namespace {

constexpr uint32_t kSpirvMagic = 0x07230203;

void init_glslang() {
  static std::once_flag once;
  std::call_once(once, [] { glslang::InitializeProcess(); });
}

std::string glslang_version() {
  glslang::Version v = glslang::GetVersion();
  return fmt::format("glslang {}.{}.{}{}", v.major, v.minor, v.patch, v.flavor ? v.flavor : "");
}

// 128-bit FNV-1a: collisions between distinct kernels are negligible (unlike 64-bit FNV at
// millions of cached kernels), and it is deterministic across platforms and runs. Portable
// 64-bit arithmetic: h * prime = h * 0x13b + (h << 88), with prime = 2^88 + 0x13b.
std::string fnv1a_128_hex(const std::string& data) {
  uint64_t hi = 0x6c62272e07bb0142ull, lo = 0x62b821756295c58dull;
  constexpr uint64_t kLow = 0x13b;
  for (unsigned char c : data) {
    lo ^= c;
    uint64_t a = lo >> 32, b = lo & 0xffffffffull;  // lo * kLow split to get its high word
    uint64_t carry = (a * kLow + ((b * kLow) >> 32)) >> 32;
    hi = hi * kLow + carry + (lo << 24);
    lo = lo * kLow;
  }
  return fmt::format("{:016x}{:016x}", hi, lo);
}

std::string sanitize(const std::string& label) {
  std::string out;
  for (char c : label)
    out += (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_') ? c : '_';
  return out.empty() ? "kernel" : out.substr(0, 120);
}

bool valid_spirv(const std::vector<char>& bytes) {
  if (bytes.size() < 20 || bytes.size() % 4 != 0) return false;  // header is 5 words
  uint32_t magic;
  std::memcpy(&magic, bytes.data(), 4);
  return magic == kSpirvMagic;
}

[[noreturn]] void fail(const std::string& source, const std::string& label, const char* stage,
                       const std::string& log) {
  const std::string& dump_dir = descent::detail::flags().dump_dir;
  std::string dumped;
  if (!dump_dir.empty()) {
    std::string path = fmt::format("{}/{}.comp", dump_dir, sanitize(label));
    if (detail::write_file_atomic(path, source.data(), source.size()))
      dumped = fmt::format(" (source written to {})", path);
  }
  throw ShaderCompileError(
      fmt::format("shader '{}' failed to {}{}:\n{}", label, stage, dumped, log),
      numbered_source(source));
}

std::vector<uint32_t> compile_glsl(const std::string& source, const std::string& label) {
  init_glslang();
  glslang::TShader shader(EShLangCompute);
  const char* text = source.c_str();
  const int length = static_cast<int>(source.size());
  const char* name = label.c_str();
  shader.setStringsWithLengthsAndNames(&text, &length, &name, 1);
  shader.setEnvInput(glslang::EShSourceGlsl, EShLangCompute, glslang::EShClientVulkan, 100);
  shader.setEnvClient(glslang::EShClientVulkan, glslang::EShTargetVulkan_1_2);
  shader.setEnvTarget(glslang::EShTargetSpv, glslang::EShTargetSpv_1_5);
  auto messages = static_cast<EShMessages>(EShMsgSpvRules | EShMsgVulkanRules);
  if (!shader.parse(GetDefaultResources(), 460, false, messages))
    fail(source, label, "compile", std::string(shader.getInfoLog()) + shader.getInfoDebugLog());
  glslang::TProgram program;
  program.addShader(&shader);
  if (!program.link(messages))
    fail(source, label, "link", std::string(program.getInfoLog()) + program.getInfoDebugLog());
  std::vector<uint32_t> spirv;
  spv::SpvBuildLogger logger;
  glslang::SpvOptions options;
  glslang::GlslangToSpv(*program.getIntermediate(EShLangCompute), spirv, &logger, &options);
  if (spirv.empty()) fail(source, label, "generate SPIR-V", logger.getAllMessages());
  return spirv;
}

}  // namespace

std::string numbered_source(const std::string& source) {
  std::string out;
  size_t start = 0;
  for (int line = 1; start <= source.size(); ++line) {
    size_t end = source.find('\n', start);
    if (end == std::string::npos) end = source.size();
    if (start == source.size() && line > 1) break;  // no empty line after a final newline
    out += fmt::format("{:4d}: {}\n", line, std::string_view(source).substr(start, end - start));
    start = end + 1;
  }
  return out;
}

ShaderCompiler::ShaderCompiler(std::string device_cache_key)
    : device_key_(std::move(device_cache_key)) {
  const auto& flags = descent::detail::flags();
  if (!flags.no_disk_cache && !flags.cache_dir.empty()) disk_dir_ = flags.cache_dir + "/spirv";
}

std::string ShaderCompiler::key_hex(const std::string& source) const {
  // '\0' separators keep (source, version, device) boundaries unambiguous.
  return fnv1a_128_hex(source + '\0' + glslang_version() + '\0' + device_key_);
}

std::string ShaderCompiler::disk_path(const std::string& source) const {
  return disk_dir_.empty() ? std::string() : fmt::format("{}/{}.spv", disk_dir_, key_hex(source));
}

std::vector<uint32_t> ShaderCompiler::compile(const std::string& source, const std::string& label) {
  std::string key = key_hex(source);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (auto it = memory_.find(key); it != memory_.end()) {
      ++stats_.memory_hits;
      return it->second;
    }
  }
  std::string path = disk_path(source);
  if (!path.empty()) {
    if (auto bytes = detail::read_file(path); bytes && valid_spirv(*bytes)) {
      std::vector<uint32_t> spirv(bytes->size() / 4);
      std::memcpy(spirv.data(), bytes->data(), bytes->size());
      std::lock_guard<std::mutex> lock(mutex_);
      ++stats_.disk_hits;
      memory_.emplace(key, spirv);
      return spirv;
    }
  }
  // Compiled outside the lock: glslang handles concurrent TShader/TProgram objects.
  auto start = std::chrono::steady_clock::now();
  std::vector<uint32_t> spirv = compile_glsl(source, label);
  double ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  if (!path.empty()) detail::write_file_atomic(path, spirv.data(), spirv.size() * 4);
  std::lock_guard<std::mutex> lock(mutex_);
  ++stats_.compiled;
  stats_.compile_ms += ms;
  memory_.emplace(key, spirv);
  return spirv;
}

ShaderCompiler::Stats ShaderCompiler::stats() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return stats_;
}

}  // namespace descent::vk
