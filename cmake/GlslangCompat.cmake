# Debian 12's static glslang libraries may lack glslang::InitProcess/InitThread (they live in an
# OSDependent object that some builds leave out). Try a link; if it fails, descent compiles a tiny
# compatibility definition (src/vulkan/glslang_compat.cpp, guarded by DESCENT_GLSLANG_COMPAT).
include(CheckCXXSourceCompiles)
include(CMakePushCheckState)
cmake_push_check_state(RESET)
set(CMAKE_REQUIRED_LIBRARIES glslang::glslang glslang::SPIRV Threads::Threads)
check_cxx_source_compiles("
#include <glslang/Public/ShaderLang.h>
namespace glslang { bool InitProcess(); bool InitThread(); }
int main() { glslang::InitializeProcess(); return glslang::InitProcess() && glslang::InitThread() ? 0 : 1; }
" DESCENT_GLSLANG_HAS_INIT_PROCESS)
cmake_pop_check_state()
if(DESCENT_GLSLANG_HAS_INIT_PROCESS)
  set(DESCENT_NEED_GLSLANG_COMPAT OFF)
else()
  message(STATUS "glslang lacks InitProcess/InitThread: using descent's compatibility definition")
  set(DESCENT_NEED_GLSLANG_COMPAT ON)
endif()
