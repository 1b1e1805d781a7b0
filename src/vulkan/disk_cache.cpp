// Whole-file read and atomic write for the on-disk caches. Never throws: callers fall back to
// memory-only caching when the disk is unavailable.
#include "vulkan/disk_cache.hpp"

#include <fmt/format.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <random>

namespace descent::vk::detail {

std::optional<std::vector<char>> read_file(const std::string& path) {
  try {
    std::ifstream in(path, std::ios::binary | std::ios::ate);
    if (!in) return std::nullopt;
    std::streamoff size = in.tellg();
    if (size < 0) return std::nullopt;
    std::vector<char> bytes(static_cast<size_t>(size));
    in.seekg(0);
    if (!in.read(bytes.data(), size)) return std::nullopt;
    return bytes;
  } catch (...) {
    return std::nullopt;
  }
}

bool write_file_atomic(const std::string& path, const void* data, size_t bytes) {
  // Unique per process (random) and per call (counter): concurrent writers never share a temp.
  static const uint64_t process_tag = std::random_device{}() * 0x9e3779b97f4a7c15ull;
  static std::atomic<uint64_t> counter{0};
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::path target(path);
  if (target.has_parent_path()) fs::create_directories(target.parent_path(), ec);
  std::string temp = fmt::format("{}.tmp.{:x}.{}", path, process_tag, counter++);
  try {
    {
      std::ofstream out(temp, std::ios::binary | std::ios::trunc);
      if (!out) return false;
      out.write(static_cast<const char*>(data), static_cast<std::streamsize>(bytes));
      out.flush();
      if (!out) {
        out.close();
        fs::remove(temp, ec);
        return false;
      }
    }
    fs::rename(temp, target, ec);
    if (ec) {
      fs::remove(temp, ec);
      return false;
    }
    return true;
  } catch (...) {
    fs::remove(temp, ec);
    return false;
  }
}

}  // namespace descent::vk::detail
