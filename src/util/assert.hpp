// Internal invariant checks. A failed DESCENT_ASSERT is a bug in descent, never a user error:
// user errors throw the typed exceptions of include/descent/errors.hpp instead.
#pragma once
#include <string>

namespace descent::detail {
[[noreturn]] void assert_failed(const char* cond, const std::string& message, const char* file,
                                int line);
}

#if defined(DESCENT_ENABLE_ASSERTS) || !defined(NDEBUG)
#define DESCENT_ASSERT(cond, message)                                               \
  do {                                                                              \
    if (!(cond)) ::descent::detail::assert_failed(#cond, (message), __FILE__, __LINE__); \
  } while (0)
#else
#define DESCENT_ASSERT(cond, message) \
  do {                                \
  } while (0)
#endif
