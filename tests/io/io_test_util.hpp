// Shared helpers for the file-format tests: a per-test scratch directory, raw byte files,
// and the check every corrupt-file case makes (FormatError naming the path and the byte offset).
// Test-only; must not depend on the code under test to build its fixtures.
#pragma once
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "descent/errors.hpp"

#if defined(__SANITIZE_ADDRESS__)
#define DESCENT_TEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define DESCENT_TEST_ASAN 1
#endif
#endif

namespace descent::testing {

#ifdef DESCENT_TEST_ASAN
inline constexpr bool kAsan = true;
#else
inline constexpr bool kAsan = false;
#endif
/// Time limits in tests are multiplied by this: ASan+UBSan builds run the parsers 3-4x slower.
inline constexpr double kTimeSlack = kAsan ? 4.0 : 1.0;

/// Reproducers and fixtures committed under tests/data (set by tests/CMakeLists.txt).
inline std::string test_data(const std::string& name) {
  return std::string(DESCENT_TEST_DATA) + "/" + name;
}

using Bytes = std::vector<uint8_t>;

/// A fresh directory per test, removed afterwards.
class FileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = std::filesystem::temp_directory_path() /
           (std::string("descent-io-") + info->test_suite_name() + "-" + info->name() + "-" +
            std::to_string(::getpid()));
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }
  std::filesystem::path dir_;
};

inline void write_bytes(const std::string& path, const Bytes& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
}

inline Bytes read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return Bytes(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

inline Bytes to_bytes(const std::string& s) { return Bytes(s.begin(), s.end()); }

/// `f` must throw FormatError whose message names `path` and "byte <offset>" (any offset when
/// none is given) and contains `needle`. Returns the message for further checks.
inline std::string expect_format_error(const std::function<void()>& f, const std::string& path,
                                       std::optional<uint64_t> offset,
                                       const std::string& needle = "") {
  try {
    f();
  } catch (const FormatError& e) {
    std::string m = e.what();
    EXPECT_NE(m.find(path), std::string::npos) << m;
    if (offset) {
      EXPECT_NE(m.find("byte " + std::to_string(*offset) + ":"), std::string::npos)
          << "expected byte " << *offset << " in: " << m;
    } else {
      EXPECT_NE(m.find("byte "), std::string::npos) << m;
    }
    EXPECT_NE(m.find(needle), std::string::npos) << "expected '" << needle << "' in: " << m;
    return m;
  } catch (const std::exception& e) {
    ADD_FAILURE() << "expected FormatError, got: " << e.what();
    return {};
  }
  ADD_FAILURE() << "expected FormatError for " << path << ", nothing was thrown";
  return {};
}

/// Runs `body` in a forked child (alarm after `timeout_s`) and returns its exit status, or
/// 128 + the signal that ended it. The child never returns into the test framework.
inline int run_in_child(const std::function<int()>& body, unsigned timeout_s = 60) {
  fflush(nullptr);
  pid_t pid = ::fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    ::alarm(timeout_s);
    int code = 99;
    try {
      code = body();
    } catch (...) {
      code = 98;
    }
    fflush(nullptr);
    ::_exit(code);
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  return WIFSIGNALED(status) ? 128 + WTERMSIG(status) : -1;
}

}  // namespace descent::testing
