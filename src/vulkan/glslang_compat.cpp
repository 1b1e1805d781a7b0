// Debian 12's static glslang can lack glslang::InitProcess/InitThread (they live in
// libOGLCompiler.a, which some link lines drop); cmake/GlslangCompat.cmake defines
// DESCENT_GLSLANG_COMPAT only then. Upstream InitProcess allocates the pool-allocator TLS slot
// and InitThread nulls this thread's slot, which a fresh TLS slot already is.
#ifdef DESCENT_GLSLANG_COMPAT
#include <glslang/Include/InitializeGlobals.h>

namespace glslang {
bool InitProcess() {
  static const bool ok = InitializePoolIndex();  // once per process, thread-safe static init
  return ok;
}
bool InitThread() { return true; }
}  // namespace glslang
#endif
