// warn_once and the process-wide warning handler (util/warn.hpp, include/descent/errors.hpp).
#include "util/warn.hpp"

#include <cstdio>
#include <mutex>
#include <set>

#include "descent/errors.hpp"

namespace descent {

namespace {
struct WarningState {
  std::mutex mutex;
  std::set<std::string> seen;
  WarningHandler handler;
};
WarningState& state() {
  static WarningState s;
  return s;
}
}  // namespace

WarningHandler set_warning_handler(WarningHandler handler) {
  WarningState& s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  WarningHandler old = std::move(s.handler);
  s.handler = std::move(handler);
  s.seen.clear();  // a new handler hears every warning once
  return old;
}

namespace detail {

void warn_once(const std::string& key, const std::string& message) {
  WarningHandler handler;
  {
    WarningState& s = state();
    std::lock_guard<std::mutex> lock(s.mutex);
    if (!s.seen.insert(key).second) return;
    handler = s.handler;
  }
  // Outside the lock: a handler may throw (to turn warnings into errors) or warn again.
  if (handler) handler(message);
  else std::fprintf(stderr, "descent: warning: %s\n", message.c_str());
}

}  // namespace detail
}  // namespace descent
