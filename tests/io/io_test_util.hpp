// Shared helpers for the file-format tests: a per-test scratch directory, raw byte files,
// and the check every corrupt-file case makes (FormatError naming the path and the byte offset).
// Test-only; must not depend on the code under test to build its fixtures.
#pragma once
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "descent/errors.hpp"

namespace descent::testing {

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

}  // namespace descent::testing
