// A small deterministic 64-bit hasher (FNV-1a over 8-byte words) for CSE keys and caches.
// Deterministic across runs and platforms: never use std::hash where results must be stable.
#pragma once
#include <cstdint>
#include <cstring>
#include <string_view>

namespace descent::detail {

class Hasher {
 public:
  template <typename T>
  void add(T v) {
    uint64_t x = 0;
    static_assert(sizeof(T) <= 8);
    std::memcpy(&x, &v, sizeof(T));
    mix(x);
  }
  void add_string(std::string_view s) {
    for (unsigned char c : s) mix(c);
    mix(s.size());
  }
  uint64_t value() const { return h_; }

 private:
  void mix(uint64_t x) {
    for (int i = 0; i < 8; ++i) {
      h_ ^= (x >> (8 * i)) & 0xff;
      h_ *= 0x100000001b3ULL;
    }
  }
  uint64_t h_ = 0xcbf29ce484222325ULL;
};

}  // namespace descent::detail
