// The process-wide table of index-check messages behind the device status bits (index_checks.hpp).
#include "graph/index_checks.hpp"

#include <mutex>
#include <vector>

namespace descent::detail {

namespace {
struct Table {
  std::mutex mutex;
  std::vector<std::string> messages{
      "gather: an index was out of range (the gather read the last element instead); check the "
      "index arrays"};
};
Table& table() {
  static Table t;
  return t;
}
constexpr size_t kNamedBits = 31;
}  // namespace

uint32_t index_check_bit(const std::string& message) {
  Table& t = table();
  std::lock_guard<std::mutex> lock(t.mutex);
  for (size_t i = 0; i < t.messages.size(); ++i)
    if (t.messages[i] == message) return 1u << i;
  if (t.messages.size() == kNamedBits) return 1u << kNamedBits;
  t.messages.push_back(message);
  return 1u << (t.messages.size() - 1);
}

std::string index_check_messages(uint32_t flags) {
  Table& t = table();
  std::lock_guard<std::mutex> lock(t.mutex);
  std::string out;
  for (size_t i = 0; i < t.messages.size(); ++i) {
    if (!(flags & (1u << i))) continue;
    if (!out.empty()) out += "\n";
    out += t.messages[i];
  }
  if (flags & (1u << kNamedBits)) {
    if (!out.empty()) out += "\n";
    out += "an index check failed (one of more than 31 distinct checks in this process)";
  }
  return out;
}

}  // namespace descent::detail
