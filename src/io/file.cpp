// POSIX reads and atomic writes for the dataset and checkpoint formats (see file.hpp).
// Every system call is checked and retried on EINTR; failures name the path and strerror.
// Must not interpret file contents. The cleanup of stale temporary files is best effort and
// never fails a save.
#include "io/file.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <climits>
#include <cstring>
#include <ctime>
#include <filesystem>

#include "descent/errors.hpp"

namespace descent::detail {

namespace {

std::string os_error(const char* what, const std::string& path) {
  return fmt::format("{} '{}' failed: {}", what, path, std::strerror(errno));
}

const char* file_kind(mode_t mode) {
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISSOCK(mode)) return "a socket";
  return "not a plain file";
}

[[noreturn]] void not_regular(const std::string& path, mode_t mode) {
  throw Error(
      fmt::format("'{}' is not a regular file (it is {}): descent reads datasets and "
                  "checkpoints from regular files only",
                  path, file_kind(mode)));
}

constexpr const char* kTempMarker = ".descent-tmp.";
// A temporary file this old is stale whoever wrote it: a save takes seconds to minutes, and a
// writer on another host (shared file systems) cannot be asked whether it still runs.
constexpr time_t kStaleTempSeconds = 24 * 60 * 60;

/// Digits only, no sign, at most 19 of them (fits int64).
bool parse_decimal(std::string_view s, uint64_t* out) {
  if (s.empty() || s.size() > 19) return false;
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  *out = v;
  return true;
}

/// True for "<pid>.<n>.<host>" (the part after "<name>.descent-tmp.") of a temporary file that
/// no running writer can still own; `name` is the whole entry of the directory `dir_fd`.
bool is_stale_temp(int dir_fd, const char* name, std::string_view rest) {
  const size_t dot1 = rest.find('.');
  if (dot1 == rest.npos) return false;
  const size_t dot2 = rest.find('.', dot1 + 1);
  uint64_t pid = 0, n = 0;
  if (dot2 == rest.npos || !parse_decimal(rest.substr(0, dot1), &pid) ||
      !parse_decimal(rest.substr(dot1 + 1, dot2 - dot1 - 1), &n) || pid == 0 || pid > INT_MAX)
    return false;
  const std::string_view host = rest.substr(dot2 + 1);
  if (host.size() != 8) return false;
  struct stat st {};
  if (::fstatat(dir_fd, name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode)) return false;
  if (std::time(nullptr) - st.st_mtime > kStaleTempSeconds) return true;
  // kill(pid, 0) fails with ESRCH only when no such process exists (EPERM: it runs as another
  // user). A reused pid keeps the file until the day has passed: the safe direction.
  return host == temp_host_tag() && static_cast<pid_t>(pid) != ::getpid() &&
         ::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH;
}

/// Removes stale temporary files of `path` (see AtomicFile). Best effort: errors are ignored.
void remove_stale_temps(const std::string& path) {
  std::filesystem::path p(path);
  std::string dir = p.parent_path().string();
  if (dir.empty()) dir = ".";
  const std::string prefix = p.filename().string() + kTempMarker;
  DIR* d = ::opendir(dir.c_str());
  if (!d) return;
  const int dir_fd = ::dirfd(d);
  while (const dirent* e = ::readdir(d)) {
    std::string_view name = e->d_name;
    if (name.size() <= prefix.size() || name.compare(0, prefix.size(), prefix) != 0) continue;
    if (is_stale_temp(dir_fd, e->d_name, name.substr(prefix.size())))
      ::unlinkat(dir_fd, e->d_name, 0);
  }
  ::closedir(d);
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

std::string temp_file_name(const std::string& path, pid_t pid, uint64_t n,
                           const std::string& host) {
  return fmt::format("{}{}{}.{}.{}", path, kTempMarker, pid, n, host);
}

const std::string& temp_host_tag() {
  static const std::string tag = [] {
    char host[256] = {};
    if (::gethostname(host, sizeof(host) - 1) != 0) host[0] = 0;
    uint32_t h = 2166136261u;  // FNV-1a: a stable, short, file-name-safe tag
    for (const char* c = host; *c; ++c) h = (h ^ static_cast<uint8_t>(*c)) * 16777619u;
    return fmt::format("{:08x}", h);
  }();
  return tag;
}

void format_error(const std::string& path, uint64_t offset, const std::string& problem,
                  const std::string& advice) {
  throw FormatError(fmt::format("{}: byte {}: {}. {}", path, offset, problem, advice));
}

InputFile::InputFile(std::string path, const std::string& advice) : path_(std::move(path)) {
  // Checked before open(): opening a FIFO for reading blocks until a writer appears, and opening
  // a device can have side effects. O_NONBLOCK covers a FIFO swapped in after the stat.
  struct stat st {};
  if (::stat(path_.c_str(), &st) == 0 && !S_ISREG(st.st_mode)) not_regular(path_, st.st_mode);
  do {
    fd_ = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
  } while (fd_ < 0 && errno == EINTR);
  if (fd_ < 0) throw Error(fmt::format("{} ({})", os_error("opening", path_), advice));
  if (::fstat(fd_, &st) != 0) {
    std::string message = os_error("stat of", path_);
    ::close(fd_);
    throw Error(message);
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd_);
    not_regular(path_, st.st_mode);
  }
  ::fcntl(fd_, F_SETFL, ::fcntl(fd_, F_GETFL) & ~O_NONBLOCK);
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
  remove_stale_temps(path_);
  // pid + a process-wide counter + O_EXCL: concurrent writers (threads or processes) never share
  // a temporary file, and a stale one from a crashed run is never reused.
  static std::atomic<uint64_t> counter{0};
  for (int attempt = 0; attempt < 100 && fd_ < 0; ++attempt) {
    temp_path_ = temp_file_name(path_, ::getpid(), counter.fetch_add(1), temp_host_tag());
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
  // The replacement keeps what the replaced file had: owner and group where this process may
  // set them (fchown first: it can clear set-id bits), then the permission bits exactly
  // (fchmod ignores the umask).
  struct stat old {};
  if (::stat(path_.c_str(), &old) == 0 && S_ISREG(old.st_mode)) {
    // Not permitted (another user's file): the new file keeps this process's owner and group.
    (void)(::fchown(fd_, old.st_uid, old.st_gid) == 0 ||
           ::fchown(fd_, static_cast<uid_t>(-1), old.st_gid) == 0);
    if (::fchmod(fd_, old.st_mode & 07777) != 0) fail("setting the permission bits of");
  }
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
