// Index checks: which check set which bit of the device status word. Each distinct message (an op
// and what to do) gets one bit, process-wide, the first time a graph uses it; the runtime turns the
// bits it reads back into one IndexError. No device code here.
#pragma once
#include <cstdint>
#include <string>

namespace descent::detail {

/// The status bit of gather (bit 0; always registered first).
constexpr uint32_t kGatherCheckBit = 1u;

/// The status bit for `message` (a new one on first use). Bits 0..30 name one message each; every
/// message after the 31st shares bit 31 ("an index check failed").
uint32_t index_check_bit(const std::string& message);

/// The messages of every bit set in `flags`, one per line.
std::string index_check_messages(uint32_t flags);

}  // namespace descent::detail
