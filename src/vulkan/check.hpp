// VK_CHECK: the one way descent checks a VkResult. A failure throws DeviceError naming the call,
// the result and file:line (OutOfMemoryError for out-of-memory results). It must not swallow,
// log-and-continue or abort: every non-success result of a checked call is an exception.
#pragma once
#include <vulkan/vulkan.h>

#include "descent/errors.hpp"

namespace descent::vk {

/// Thrown for VK_ERROR_DEVICE_LOST, so the owner of the queue can mark the Context lost and
/// rethrow. Internal: users see (and catch) a DeviceError.
class DeviceLostError : public DeviceError {
 public:
  using DeviceError::DeviceError;
};

/// "VK_ERROR_DEVICE_LOST" etc.; "VkResult(<n>)" for values this build does not know.
const char* result_name(VkResult result);

/// Throws OutOfMemoryError for VK_ERROR_OUT_OF_{DEVICE,HOST}_MEMORY, DeviceLostError for
/// VK_ERROR_DEVICE_LOST, else DeviceError.
[[noreturn]] void throw_result(VkResult result, const char* call, const char* file, int line);

}  // namespace descent::vk

/// Usage: VK_CHECK(vkCreateFence(device, &info, nullptr, &fence));
/// Anything but VK_SUCCESS throws; calls that legitimately return VK_TIMEOUT/VK_NOT_READY
/// (fence polls) inspect their result by hand first; such a captured result is named
/// `<call>_result` so that the message still names the call.
#define VK_CHECK(call)                                                            \
  do {                                                                            \
    VkResult descent_vk_result_ = (call);                                         \
    if (descent_vk_result_ != VK_SUCCESS)                                         \
      ::descent::vk::throw_result(descent_vk_result_, #call, __FILE__, __LINE__); \
  } while (0)
