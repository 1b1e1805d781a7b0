// descent's exception types: every user or environment error is one of these, with context.
// Internal invariants use DESCENT_ASSERT (src/util/assert.hpp) instead; nothing here aborts.
#pragma once
#include <cstdint>
#include <functional>
#include <stdexcept>
#include <string>

namespace descent {

/// Base of every error descent reports. `what()` says what happened and what to do next.
class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

/// Wrong shapes, axes or arguments for an op; the message names the op and every shape.
class ShapeError : public Error {
 public:
  using Error::Error;
};

/// A Vulkan call failed, no device exists, or the device was lost.
class DeviceError : public Error {
 public:
  using Error::Error;
};

/// A device or host allocation failed, or would have passed the memory heap's budget (descent
/// checks its device memory against the heap size before asking the driver, since some drivers
/// grant anything and the kernel's OOM killer ends the process later). The Environment stays
/// usable: smaller requests may still succeed.
class OutOfMemoryError : public Error {
 public:
  OutOfMemoryError(const std::string& message, std::uint64_t bytes, std::uint64_t heap_bytes = 0,
                   std::uint64_t in_use_bytes = 0)
      : Error(message), bytes_(bytes), heap_bytes_(heap_bytes), in_use_bytes_(in_use_bytes) {}
  /// The size of the device allocation that was refused.
  std::uint64_t bytes() const { return bytes_; }
  /// The memory heap's size (0 when not known), and what descent held on it at the time.
  std::uint64_t heap_bytes() const { return heap_bytes_; }
  std::uint64_t in_use_bytes() const { return in_use_bytes_; }

 private:
  std::uint64_t bytes_, heap_bytes_, in_use_bytes_;
};

/// Generated or embedded GLSL failed to compile; carries the numbered source.
class ShaderCompileError : public Error {
 public:
  ShaderCompileError(const std::string& message, std::string numbered_source)
      : Error(message), source_(std::move(numbered_source)) {}
  const std::string& source() const { return source_; }

 private:
  std::string source_;
};

/// An index array held an out-of-range index (gather); reported at the next synchronisation.
class IndexError : public Error {
 public:
  using Error::Error;
};

/// Array::check_finite found NaN or an infinity; reported at the next synchronisation (read_parameter,
/// wait_idle) with the message of every check that fired and the first run in which one did. (An
/// IndexError takes precedence when an index check fired too: its message lists both.)
class NonFiniteError : public Error {
 public:
  using Error::Error;
};

/// A file (dataset, image, checkpoint) is malformed; the message has its path and byte offset.
class FormatError : public Error {
 public:
  using Error::Error;
};

/// API misuse that is not about shapes (a handle from another Environment, a finished Scope, ...).
class UsageError : public Error {
 public:
  using Error::Error;
};

/// Receives warnings: legal calls that are almost always a mistake (a loss built from operands of
/// different rank broadcast against each other, ...). Each distinct warning is reported once per
/// process. The default handler (an empty one) prints "descent: warning: ..." to stderr; a handler
/// that throws turns warnings into errors. Returns the previous handler.
///   descent::set_warning_handler([](const std::string& w) { throw descent::UsageError(w); });
using WarningHandler = std::function<void(const std::string& message)>;
WarningHandler set_warning_handler(WarningHandler handler);

}  // namespace descent
