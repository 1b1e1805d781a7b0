// POSIX file plumbing for src/io: bounded reads of existing files and atomic replacement writes.
// Knows nothing about formats; the parsers (idx.cpp, safetensors.cpp) decide what bytes mean.
// Operating-system failures throw descent::Error (with strerror); content errors are the
// parsers' FormatError, built through format_error() so every message has the same shape.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace descent::detail {

/// "<path>: byte <offset>: <problem>. <advice>" as a FormatError.
[[noreturn]] void format_error(const std::string& path, uint64_t offset, const std::string& problem,
                               const std::string& advice);

/// A regular file opened for reading; its size is taken once, at open. `advice` is appended to
/// the error when the file cannot be opened (say where such files come from).
class InputFile {
 public:
  InputFile(std::string path, const std::string& advice);
  ~InputFile();
  InputFile(const InputFile&) = delete;
  InputFile& operator=(const InputFile&) = delete;

  uint64_t size() const { return size_; }
  const std::string& path() const { return path_; }
  /// Reads exactly n bytes at offset; the caller has checked offset + n <= size(). A file that
  /// shrank since open is reported as a FormatError at the offset where the bytes ran out.
  void read_at(uint64_t offset, void* dst, size_t n) const;
  /// The whole file (size() bytes).
  std::vector<uint8_t> read_all() const;

 private:
  std::string path_;
  int fd_ = -1;
  uint64_t size_ = 0;
};

/// Writes a new version of `path` through a temporary file in the same directory. commit()
/// fsyncs it, renames it over `path` and fsyncs the directory; destroying an uncommitted
/// AtomicFile removes the temporary file, so a failed write never touches the old `path`.
class AtomicFile {
 public:
  explicit AtomicFile(std::string path);
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  void write(const void* data, size_t n);
  void commit();

 private:
  [[noreturn]] void fail(const char* what);
  std::string path_, temp_path_;
  int fd_ = -1;
};

}  // namespace descent::detail
