// VkResult names and the exception thrown by VK_CHECK. No Vulkan calls here; only reporting.
// Out-of-memory results become OutOfMemoryError so callers can free memory and retry.
#include "vulkan/check.hpp"

#include <fmt/format.h>

#include "descent/errors.hpp"

namespace descent::vk {

const char* result_name(VkResult result) {
  switch (result) {
#define DESCENT_VK_RESULT(name) \
  case name: return #name;
    DESCENT_VK_RESULT(VK_SUCCESS)
    DESCENT_VK_RESULT(VK_NOT_READY)
    DESCENT_VK_RESULT(VK_TIMEOUT)
    DESCENT_VK_RESULT(VK_EVENT_SET)
    DESCENT_VK_RESULT(VK_EVENT_RESET)
    DESCENT_VK_RESULT(VK_INCOMPLETE)
    DESCENT_VK_RESULT(VK_ERROR_OUT_OF_HOST_MEMORY)
    DESCENT_VK_RESULT(VK_ERROR_OUT_OF_DEVICE_MEMORY)
    DESCENT_VK_RESULT(VK_ERROR_INITIALIZATION_FAILED)
    DESCENT_VK_RESULT(VK_ERROR_DEVICE_LOST)
    DESCENT_VK_RESULT(VK_ERROR_MEMORY_MAP_FAILED)
    DESCENT_VK_RESULT(VK_ERROR_LAYER_NOT_PRESENT)
    DESCENT_VK_RESULT(VK_ERROR_EXTENSION_NOT_PRESENT)
    DESCENT_VK_RESULT(VK_ERROR_FEATURE_NOT_PRESENT)
    DESCENT_VK_RESULT(VK_ERROR_INCOMPATIBLE_DRIVER)
    DESCENT_VK_RESULT(VK_ERROR_TOO_MANY_OBJECTS)
    DESCENT_VK_RESULT(VK_ERROR_FORMAT_NOT_SUPPORTED)
    DESCENT_VK_RESULT(VK_ERROR_FRAGMENTED_POOL)
    DESCENT_VK_RESULT(VK_ERROR_UNKNOWN)
    DESCENT_VK_RESULT(VK_ERROR_OUT_OF_POOL_MEMORY)
    DESCENT_VK_RESULT(VK_ERROR_INVALID_EXTERNAL_HANDLE)
    DESCENT_VK_RESULT(VK_ERROR_FRAGMENTATION)
    DESCENT_VK_RESULT(VK_ERROR_INVALID_OPAQUE_CAPTURE_ADDRESS)
    DESCENT_VK_RESULT(VK_PIPELINE_COMPILE_REQUIRED)
    DESCENT_VK_RESULT(VK_ERROR_SURFACE_LOST_KHR)
    DESCENT_VK_RESULT(VK_ERROR_NATIVE_WINDOW_IN_USE_KHR)
    DESCENT_VK_RESULT(VK_SUBOPTIMAL_KHR)
    DESCENT_VK_RESULT(VK_ERROR_OUT_OF_DATE_KHR)
    DESCENT_VK_RESULT(VK_ERROR_INCOMPATIBLE_DISPLAY_KHR)
    DESCENT_VK_RESULT(VK_ERROR_VALIDATION_FAILED_EXT)
    DESCENT_VK_RESULT(VK_ERROR_INVALID_SHADER_NV)
#undef DESCENT_VK_RESULT
    default: return "VkResult(unknown)";
  }
}

void throw_result(VkResult result, const char* call, const char* file, int line) {
  std::string where = fmt::format("{} returned {} (value {}) at {}:{}", call, result_name(result),
                                  static_cast<int>(result), file, line);
  if (result == VK_ERROR_OUT_OF_DEVICE_MEMORY || result == VK_ERROR_OUT_OF_HOST_MEMORY) {
    // The byte count is unknown at this level; the heap reports it for its own allocations.
    throw OutOfMemoryError(
        fmt::format("out of memory: {}; free arrays or use smaller batches", where), 0);
  }
  if (result == VK_ERROR_DEVICE_LOST) {
    throw DeviceLostError(
        fmt::format("Vulkan device lost: {}; the GPU stopped responding (driver "
                    "reset, hang or crash): create a new Environment",
                    where));
  }
  throw DeviceError(fmt::format("Vulkan call failed: {}", where));
}

}  // namespace descent::vk
