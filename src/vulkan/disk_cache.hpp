// Small file helpers for descent's on-disk caches (SPIR-V, pipeline cache): whole-file reads and
// atomic writes (temp file + rename). Best effort by design: they report failure by return value
// and must not throw, so an unwritable cache directory silently degrades to memory-only caching.
#pragma once
#include <optional>
#include <string>
#include <vector>

namespace descent::vk::detail {

/// The file's bytes, or nullopt if it cannot be read.
std::optional<std::vector<char>> read_file(const std::string& path);

/// Creates parent directories, writes `path`.tmp.<unique>, renames it over `path`.
/// Readers never see a partial file. Returns false on any failure (leaving no temp file).
bool write_file_atomic(const std::string& path, const void* data, size_t bytes);

}  // namespace descent::vk::detail
