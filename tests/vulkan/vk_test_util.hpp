// Shared helpers for the Vulkan-layer tests: one lazily created Context (honouring
// DESCENT_DEVICE / DESCENT_VALIDATION), deterministic test data, a scoped flag override and the
// doubling shader. Test-only; must not be used by the library.
#pragma once
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "util/flags.hpp"
#include "vulkan/context.hpp"

namespace descent::vk::test {

/// The context shared by most tests; null until shared_context() first runs.
inline std::unique_ptr<Context>& shared_context_slot() {
  static std::unique_ptr<Context> ctx;
  return ctx;
}

inline Context& shared_context() {
  std::unique_ptr<Context>& ctx = shared_context_slot();
  if (!ctx) {
    const auto& f = descent::detail::flags();
    ctx = Context::create({.device_selector = f.device, .validation = f.validation});
  }
  return *ctx;
}

/// Fails the current test if a validation-enabled context has reported anything.
inline void expect_no_validation_messages(const Context& ctx) {
  EXPECT_EQ(ctx.validation_message_count(), 0u);
  for (const std::string& m : ctx.validation_messages()) ADD_FAILURE() << m;
}

inline std::vector<uint8_t> random_bytes(size_t n, uint32_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<uint8_t> v(n);
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t x = rng();
    std::memcpy(v.data() + i, &x, 8);
  }
  for (; i < n; ++i) v[i] = static_cast<uint8_t>(rng());
  return v;
}

/// Overrides descent's flags for one scope (tests are single-threaded), with a fresh temp dir.
class ScopedFlags {
 public:
  ScopedFlags() : saved_(descent::detail::mutable_flags()) {
    dir_ = std::filesystem::temp_directory_path() /
           fmt::format("descent-vk-test-{}-{}", ::getpid(), counter()++);
    std::filesystem::remove_all(dir_);
  }
  ~ScopedFlags() {
    descent::detail::mutable_flags() = saved_;
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  descent::detail::Flags& flags() { return descent::detail::mutable_flags(); }
  const std::filesystem::path& dir() const { return dir_; }

 private:
  static int& counter() {
    static int c = 0;
    return c;
  }
  descent::detail::Flags saved_;
  std::filesystem::path dir_;
};

/// What descent's code generator emits: addresses arrive as push constants.
inline const char* kDoubleShader = R"(#version 460
#extension GL_EXT_buffer_reference : require
#extension GL_EXT_shader_explicit_arithmetic_types_int64 : require
layout(local_size_x = 64) in;
layout(buffer_reference, std430, buffer_reference_align = 4) buffer Floats { float v[]; };
layout(push_constant) uniform Push { Floats data; uint n; } pc;
void main() { uint i = gl_GlobalInvocationID.x; if (i < pc.n) pc.data.v[i] *= 2.0; }
)";

struct DoublePush {
  uint64_t address;
  uint32_t n;
  uint32_t pad;  // the block is 16 bytes (std430: uint64 alignment)
};

}  // namespace descent::vk::test
