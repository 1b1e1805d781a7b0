// Move-only owner of one non-dispatchable Vulkan object created from a VkDevice.
// Every Fence, Buffer, DeviceMemory, Pipeline... in src/vulkan/ lives in one of these; it must not
// be copied, and it destroys its object exactly once (the VkDevice must outlive it).
#pragma once
#include <vulkan/vulkan.h>

#include <utility>

namespace descent::vk {

/// Example: `UniqueFence fence(device, raw_fence);` destroys it with vkDestroyFence on scope exit.
template <typename T, auto Destroy>
class DeviceHandle {
 public:
  DeviceHandle() = default;
  DeviceHandle(VkDevice device, T handle) : device_(device), handle_(handle) {}
  DeviceHandle(const DeviceHandle&) = delete;
  DeviceHandle& operator=(const DeviceHandle&) = delete;
  DeviceHandle(DeviceHandle&& other) noexcept
      : device_(other.device_), handle_(std::exchange(other.handle_, T(VK_NULL_HANDLE))) {}
  DeviceHandle& operator=(DeviceHandle&& other) noexcept {
    if (this != &other) {
      reset();
      device_ = other.device_;
      handle_ = std::exchange(other.handle_, T(VK_NULL_HANDLE));
    }
    return *this;
  }
  ~DeviceHandle() { reset(); }

  T get() const { return handle_; }
  explicit operator bool() const { return handle_ != T(VK_NULL_HANDLE); }
  void reset() {
    if (handle_ != T(VK_NULL_HANDLE)) Destroy(device_, handle_, nullptr);
    handle_ = T(VK_NULL_HANDLE);
  }

 private:
  VkDevice device_ = VK_NULL_HANDLE;
  T handle_ = T(VK_NULL_HANDLE);
};

using UniqueBuffer = DeviceHandle<VkBuffer, &vkDestroyBuffer>;
using UniqueMemory = DeviceHandle<VkDeviceMemory, &vkFreeMemory>;
using UniqueFence = DeviceHandle<VkFence, &vkDestroyFence>;
using UniqueSemaphore = DeviceHandle<VkSemaphore, &vkDestroySemaphore>;
using UniqueCommandPool = DeviceHandle<VkCommandPool, &vkDestroyCommandPool>;
using UniqueShaderModule = DeviceHandle<VkShaderModule, &vkDestroyShaderModule>;
using UniquePipelineLayout = DeviceHandle<VkPipelineLayout, &vkDestroyPipelineLayout>;
using UniquePipeline = DeviceHandle<VkPipeline, &vkDestroyPipeline>;
using UniquePipelineCache = DeviceHandle<VkPipelineCache, &vkDestroyPipelineCache>;
using UniqueQueryPool = DeviceHandle<VkQueryPool, &vkDestroyQueryPool>;

}  // namespace descent::vk
