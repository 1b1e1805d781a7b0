// Shared by the libFuzzer targets: hands an input to the file-based loaders through an in-memory
// file (memfd, opened by its /proc/self/fd path), so fuzzing touches no disk. Fuzz-only code;
// a failure to create the file aborts the fuzzer (an environment problem, not a finding).
#pragma once
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace descent::fuzz {

/// One reusable in-memory regular file per process.
class MemFile {
 public:
  explicit MemFile(const char* name) : fd_(::memfd_create(name, MFD_CLOEXEC)) {
    if (fd_ < 0) {
      std::perror("memfd_create");
      std::abort();
    }
    path_ = "/proc/self/fd/" + std::to_string(fd_);
  }
  /// Replaces the contents with `data` and returns the path that opens them.
  const std::string& hold(const uint8_t* data, size_t size) {
    if (::ftruncate(fd_, 0) != 0) std::abort();
    for (size_t done = 0; done < size;) {
      ssize_t put = ::pwrite(fd_, data + done, size - done, static_cast<off_t>(done));
      if (put <= 0) std::abort();
      done += static_cast<size_t>(put);
    }
    return path_;
  }

 private:
  int fd_;
  std::string path_;
};

}  // namespace descent::fuzz
