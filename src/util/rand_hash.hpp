// The counter-based random number generator on the CPU; bit-identical to descent_rand in
// shaders/common.glsl (tests compare them). Used by the reference interpreter.
#pragma once
#include <cstdint>

namespace descent::detail {

constexpr uint32_t rand_hash(uint32_t x) {
  x ^= x >> 16;
  x *= 0x7feb352du;
  x ^= x >> 15;
  x *= 0x846ca68bu;
  x ^= x >> 16;
  return x;
}

constexpr float rand_uniform(uint32_t seed, uint32_t uid, uint32_t index) {
  uint32_t h = rand_hash(rand_hash(rand_hash(seed) ^ (uid * 0x9e3779b9u)) ^ index);
  return static_cast<float>(h >> 8) * (1.0f / 16777216.0f);
}

}  // namespace descent::detail
