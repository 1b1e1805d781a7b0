// File plumbing: an atomic replace keeps the replaced file's permission bits, temporary files
// of killed saves are recognisable and removed by the next save of the same file (and only
// those), and FIFOs, directories and devices are refused before anything is read from them.
#include <fcntl.h>
#include <sys/stat.h>

#include <chrono>
#include <future>

#include "descent/io.hpp"
#include "io/file.hpp"
#include "io_test_util.hpp"

namespace descent::testing {
namespace {

unsigned mode_of(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
  return st.st_mode & 07777;
}

std::vector<std::string> names_in(const std::filesystem::path& dir) {
  std::vector<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator(dir))
    names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

class FileSafetyTest : public FileTest {};

TEST_F(FileSafetyTest, ReplacingAFileKeepsItsMode) {
  const std::string ckpt = path("ckpt.safetensors");
  save_safetensors(ckpt, {{"w", Shape{1}, {1}}});
  for (unsigned mode : {0600u, 0640u, 0444u, 0755u}) {
    ASSERT_EQ(::chmod(ckpt.c_str(), mode), 0);
    save_safetensors(ckpt, {{"w", Shape{1}, {2}}});
    EXPECT_EQ(mode_of(ckpt), mode) << std::oct << mode;
  }
  const std::string idx = path("labels.gz");
  write_idx_labels(idx, {1, 2});
  ASSERT_EQ(::chmod(idx.c_str(), 0600), 0);
  write_idx_labels(idx, {3});
  EXPECT_EQ(mode_of(idx), 0600u);
  EXPECT_EQ(read_idx_labels(idx), (std::vector<uint8_t>{3}));
}

// A save killed with SIGKILL leaves its temporary file; the next save of that file removes it.
TEST_F(FileSafetyTest, TemporaryFileOfAKilledSaveIsRemovedByTheNextSave) {
  const std::string ckpt = path("ckpt.safetensors");
  save_safetensors(ckpt, {{"w", Shape{1}, {1}}});
  int code = run_in_child([&] {
    detail::AtomicFile file(ckpt);
    file.write("partial", 7);
    ::kill(::getpid(), SIGKILL);
    return 0;
  });
  ASSERT_EQ(code, 128 + SIGKILL);
  std::vector<std::string> names = names_in(dir_);
  ASSERT_EQ(names.size(), 2u);
  EXPECT_NE(names[1].find("ckpt.safetensors.descent-tmp."), std::string::npos) << names[1];
  save_safetensors(ckpt, {{"w", Shape{1}, {2}}});
  EXPECT_EQ(names_in(dir_), std::vector<std::string>{"ckpt.safetensors"});
  EXPECT_EQ(load_safetensors(ckpt)[0].data[0], 2.0f);
}

/// Runs `load` on another thread; a FIFO that blocks it is unblocked by opening its write side.
void expect_refused_without_blocking(const std::string& path, const std::function<void()>& load) {
  auto result = std::async(std::launch::async, [&]() -> std::string {
    try {
      load();
      return "loaded";
    } catch (const FormatError& e) {
      return std::string("FormatError: ") + e.what();
    } catch (const Error& e) {
      return e.what();
    }
  });
  if (result.wait_for(std::chrono::seconds(5)) != std::future_status::ready) {
    ADD_FAILURE() << path << ": the load blocked for 5 s";
    int fd = ::open(path.c_str(), O_WRONLY | O_NONBLOCK);
    if (fd >= 0) ::close(fd);
  }
  std::string message = result.get();
  EXPECT_NE(message.find("is not a regular file"), std::string::npos) << message;
  EXPECT_NE(message.find(path), std::string::npos) << message;
  EXPECT_EQ(message.find("FormatError"), std::string::npos) << message;
}

TEST_F(FileSafetyTest, FifosDirectoriesAndDevicesAreRefusedBeforeReading) {
  const std::string fifo = path("fifo");
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  std::filesystem::create_directory(path("dir"));
  for (const std::string& p : {fifo, path("dir"), std::string("/dev/null")}) {
    expect_refused_without_blocking(p, [&] { load_safetensors(p); });
    expect_refused_without_blocking(p, [&] { read_idx_images(p); });
    expect_refused_without_blocking(p, [&] { read_idx(p); });
  }
}

}  // namespace
}  // namespace descent::testing
