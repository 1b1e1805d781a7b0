// Device checks: which check set which bit of which device status word. Each kind of check
// (index ranges, non-finite values) has its own 32-bit word and its own error type; within a word
// each distinct message (an op and what to do) gets one bit, process-wide, the first time a graph
// uses it. The runtime turns the bits it reads back into one typed error. No device code here.
#pragma once
#include <cstdint>
#include <string>

namespace descent::detail {

/// The kinds of device checks, each with a status word (its index) and an error type.
enum class CheckKind : uint32_t {
  kIndex = 0,      // Array::check_index, gather: IndexError
  kNonFinite = 1,  // Array::check_finite: NonFiniteError
};
inline constexpr uint32_t kCheckKinds = 2;

/// The status bit of gather (bit 0 of the kIndex word; always registered first).
constexpr uint32_t kGatherCheckBit = 1u;

/// The status bit for `message` in the word of `kind` (a new one on first use). Bits 0..30 name
/// one message each; every message after the 31st of a kind shares bit 31 ("a check failed").
uint32_t device_check_bit(CheckKind kind, const std::string& message);

/// The messages of every bit set in `flags` (the word of `kind`), one per line.
std::string device_check_messages(CheckKind kind, uint32_t flags);

/// What the status words say after a run: `flags[k]` is the word of kind k, `first_run` the
/// Environment's number of the first run in which a check failed. Throws IndexError when an index
/// check failed (an out-of-range index can make other values wrong), else NonFiniteError; every
/// message is listed either way. `where` is appended (which run, which graph). Nothing when all
/// words are 0.
void throw_device_check_errors(const uint32_t (&flags)[kCheckKinds], const std::string& where);

}  // namespace descent::detail
