// The process-wide tables of device-check messages behind the status bits (device_checks.hpp), and
// the typed error the runtime throws for the bits it reads back.
#include "graph/device_checks.hpp"

#include <mutex>
#include <vector>

#include "descent/errors.hpp"

namespace descent::detail {

namespace {
struct Table {
  std::mutex mutex;
  std::vector<std::string> messages[kCheckKinds] = {
      {"gather: an index was out of range (the gather read the last element instead); check the "
       "index arrays"},
      {}};
};
Table& table() {
  static Table t;
  return t;
}
constexpr size_t kNamedBits = 31;
const char* kShared[kCheckKinds] = {
    "an index check failed (one of more than 31 distinct checks in this process)",
    "a check_finite failed (one of more than 31 distinct checks in this process)"};
}  // namespace

uint32_t device_check_bit(CheckKind kind, const std::string& message) {
  Table& t = table();
  std::lock_guard<std::mutex> lock(t.mutex);
  std::vector<std::string>& messages = t.messages[static_cast<uint32_t>(kind)];
  for (size_t i = 0; i < messages.size(); ++i)
    if (messages[i] == message) return 1u << i;
  if (messages.size() == kNamedBits) return 1u << kNamedBits;
  messages.push_back(message);
  return 1u << (messages.size() - 1);
}

std::string device_check_messages(CheckKind kind, uint32_t flags) {
  Table& t = table();
  std::lock_guard<std::mutex> lock(t.mutex);
  const std::vector<std::string>& messages = t.messages[static_cast<uint32_t>(kind)];
  std::string out;
  for (size_t i = 0; i < messages.size(); ++i) {
    if (!(flags & (1u << i))) continue;
    if (!out.empty()) out += "\n";
    out += messages[i];
  }
  if (flags & (1u << kNamedBits)) {
    if (!out.empty()) out += "\n";
    out += kShared[static_cast<uint32_t>(kind)];
  }
  return out;
}

void throw_device_check_errors(const uint32_t (&flags)[kCheckKinds], const std::string& where) {
  const uint32_t index = flags[static_cast<uint32_t>(CheckKind::kIndex)];
  const uint32_t finite = flags[static_cast<uint32_t>(CheckKind::kNonFinite)];
  if (!index && !finite) return;
  std::string text = device_check_messages(CheckKind::kIndex, index);
  if (finite) {
    if (!text.empty()) text += "\n";
    text += device_check_messages(CheckKind::kNonFinite, finite);
  }
  text += " (first found on the device " + where + ", since the last synchronisation)";
  if (index) throw IndexError(text);
  throw NonFiniteError(text);
}

}  // namespace descent::detail
