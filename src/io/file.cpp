// POSIX reads and atomic writes for the dataset and checkpoint formats (see file.hpp).
// Every system call is checked and retried on EINTR; failures name the path and strerror.
// Must not interpret file contents.
#include "io/file.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include "descent/errors.hpp"

namespace descent::detail {

namespace {

std::string os_error(const char* what, const std::string& path) {
  return fmt::format("{} '{}' failed: {}", what, path, std::strerror(errno));
}

}  // namespace

void out_of_memory(const std::string& path, uint64_t bytes) {
  if (bytes == 0) {
    throw OutOfMemoryError(fmt::format("host memory ran out while reading '{}'; free memory or "
                                       "raise the process's limits",
                                       path),
                           0);
  }
  throw OutOfMemoryError(fmt::format("cannot allocate {} bytes of host memory for the contents of "
                                     "'{}'; free memory or raise the process's limits",
                                     bytes, path),
                         bytes);
}

void format_error(const std::string& path, uint64_t offset, const std::string& problem,
                  const std::string& advice) {
  throw FormatError(fmt::format("{}: byte {}: {}. {}", path, offset, problem, advice));
}

InputFile::InputFile(std::string path, const std::string& advice) : path_(std::move(path)) {
  do {
    fd_ = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
  } while (fd_ < 0 && errno == EINTR);
  if (fd_ < 0)
    throw Error(fmt::format("{} ({})", os_error("opening", path_), advice));
  struct stat st {};
  if (::fstat(fd_, &st) != 0) {
    std::string message = os_error("stat of", path_);
    ::close(fd_);
    throw Error(message);
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd_);
    throw Error(fmt::format("'{}' is not a regular file", path_));
  }
  size_ = static_cast<uint64_t>(st.st_size);
}

InputFile::~InputFile() {
  if (fd_ >= 0) ::close(fd_);
}

void InputFile::read_at(uint64_t offset, void* dst, size_t n) const {
  auto* out = static_cast<uint8_t*>(dst);
  size_t done = 0;
  while (done < n) {
    ssize_t got = ::pread(fd_, out + done, n - done, static_cast<off_t>(offset + done));
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) throw Error(os_error("reading", path_));
    if (got == 0) {
      format_error(path_, offset + done, "the file ended while reading (it shrank after opening)",
                   "Make sure nothing else writes the file while descent reads it");
    }
    done += static_cast<size_t>(got);
  }
}

std::vector<uint8_t> InputFile::read_all() const {
  std::vector<uint8_t> bytes;
  allocate(bytes, size_, path_);
  read_at(0, bytes.data(), bytes.size());
  return bytes;
}

AtomicFile::AtomicFile(std::string path) : path_(std::move(path)) {
  // pid + a process-wide counter + O_EXCL: concurrent writers (threads or processes) never share
  // a temporary file, and a stale one from a crashed run is never reused.
  static std::atomic<uint64_t> counter{0};
  for (int attempt = 0; attempt < 100 && fd_ < 0; ++attempt) {
    temp_path_ = fmt::format("{}.tmp-{}-{}", path_, ::getpid(), counter.fetch_add(1));
    fd_ = ::open(temp_path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd_ < 0 && errno != EEXIST && errno != EINTR) break;
  }
  if (fd_ < 0) {
    throw Error(os_error("creating temporary file", temp_path_) +
                " (is the directory writable and does it exist?)");
  }
}

AtomicFile::~AtomicFile() {
  if (fd_ >= 0) {
    ::close(fd_);
    ::unlink(temp_path_.c_str());
  }
}

void AtomicFile::fail(const char* what) {
  std::string message =
      os_error(what, temp_path_) + fmt::format("; '{}' was left unchanged", path_);
  ::close(fd_);
  ::unlink(temp_path_.c_str());
  fd_ = -1;
  throw Error(message);
}

void AtomicFile::write(const void* data, size_t n) {
  const auto* in = static_cast<const uint8_t*>(data);
  while (n > 0) {
    ssize_t put = ::write(fd_, in, n);
    if (put < 0 && errno == EINTR) continue;
    if (put < 0) fail("writing");
    in += put;
    n -= static_cast<size_t>(put);
  }
}

void AtomicFile::commit() {
  if (::fsync(fd_) != 0) fail("fsync of");
  if (::close(fd_) != 0) {
    fd_ = -1;  // the descriptor is gone either way; only the file is left to remove
    std::string message = os_error("closing", temp_path_);
    ::unlink(temp_path_.c_str());
    throw Error(message);
  }
  fd_ = -1;
  if (::rename(temp_path_.c_str(), path_.c_str()) != 0) {
    std::string message = os_error("renaming temporary file over", path_);
    ::unlink(temp_path_.c_str());
    throw Error(message);
  }
  // The rename itself is durable only once the directory entry is on disk.
  std::filesystem::path dir = std::filesystem::path(path_).parent_path();
  if (dir.empty()) dir = ".";
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);  // best effort: some file systems refuse fsync on directories
    ::close(dfd);
  }
}

}  // namespace descent::detail
