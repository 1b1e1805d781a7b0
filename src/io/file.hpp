// POSIX file plumbing for src/io: bounded reads of existing regular files, atomic replacement
// writes, and host allocations that fail as OutOfMemoryError. Knows nothing about formats; the
// parsers (idx.cpp, safetensors*.cpp) decide what bytes mean. Operating-system failures throw
// descent::Error (with strerror); content errors are the parsers' FormatError, built through
// format_error() so every message has the same shape.
#pragma once
#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <new>
#include <stdexcept>
#include <string>
#include <vector>

namespace descent::detail {

/// "<path>: byte <offset>: <problem>. <advice>" as a FormatError.
[[noreturn]] void format_error(const std::string& path, uint64_t offset, const std::string& problem,
                               const std::string& advice);

/// OutOfMemoryError for a failed host allocation of `bytes` (0: size unknown) while reading `path`.
[[noreturn]] void out_of_memory(const std::string& path, uint64_t bytes);

/// Resizes `c` to `n` elements; std::bad_alloc (or a size past max_size) becomes
/// OutOfMemoryError naming the bytes requested. For every allocation a file's contents size.
template <class Container>
void allocate(Container& c, uint64_t n, const std::string& path) {
  const uint64_t bytes = n * sizeof(typename Container::value_type);
  try {
    if (n > c.max_size()) throw std::length_error("too large");
    c.resize(static_cast<size_t>(n));
  } catch (const std::bad_alloc&) {
    out_of_memory(path, bytes);
  } catch (const std::length_error&) {
    out_of_memory(path, bytes);
  }
}

/// Runs `f` (a whole load); a std::bad_alloc from a small allocation inside it becomes
/// OutOfMemoryError with bytes() == 0 (the sizeable ones go through allocate()).
template <class F>
auto map_bad_alloc(const std::string& path, F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (const std::bad_alloc&) {
    out_of_memory(path, 0);
  }
}

/// A regular file opened for reading; its size is taken once, at open. FIFOs, directories and
/// devices are refused (descent::Error) before anything is read, without blocking on a FIFO.
/// `advice` is appended to the error when the file cannot be opened (say where such files
/// come from).
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

/// Name of a temporary file of AtomicFile for `path`: "<path>.descent-tmp.<pid>.<n>.<host>",
/// `host` being temp_host_tag() of the writer's machine.
std::string temp_file_name(const std::string& path, pid_t pid, uint64_t n, const std::string& host);
/// Eight hex digits of a hash of this machine's host name.
const std::string& temp_host_tag();

/// Writes a new version of `path` through a temporary file in the same directory. commit()
/// fsyncs it, gives it the permission bits (and, where allowed, owner and group) of the file
/// it replaces, renames it over `path` and fsyncs the directory; destroying an uncommitted
/// AtomicFile removes the temporary file, so a failed write never touches the old `path`.
/// Construction first removes stale temporaries of the same `path` left by killed writers: those
/// of this host whose process is gone, and any older than a day (docs/reliability.md).
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
