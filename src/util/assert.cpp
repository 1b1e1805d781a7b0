// Reports an internal invariant failure as a descent::Error (so tests see it and nothing aborts).
#include "util/assert.hpp"

#include <fmt/format.h>

#include "descent/errors.hpp"

namespace descent::detail {
void assert_failed(const char* cond, const std::string& message, const char* file, int line) {
  throw Error(fmt::format("descent internal error: {} ({}) at {}:{} — please report this bug",
                          message, cond, file, line));
}
}  // namespace descent::detail
