// The Vulkan context: instance, chosen physical device, logical device, one compute queue, and the
// validation messenger. Everything else in src/vulkan/ borrows these handles; nothing here
// allocates buffers, records commands or submits work (see heap, commands, transfer).
#pragma once
#include <vulkan/vulkan.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace descent::vk {

/// What descent knows about the chosen device; printed by DESCENT_DEBUG=1.
struct DeviceInfo {
  std::string name, driver_name, driver_info;
  uint32_t vendor_id = 0, device_id = 0;
  uint32_t api_version = 0;  // the version in use: min(requested, device's apiVersion)
  uint32_t driver_version = 0;
  bool is_cpu = false;  // VK_PHYSICAL_DEVICE_TYPE_CPU (lavapipe, SwiftShader)
  std::string type_name;
  uint32_t subgroup_size = 0;
  bool subgroup_broadcast = false;  // subgroupBroadcast (ballot) in compute shaders
  uint64_t max_allocation_size = 0;
  uint64_t max_storage_buffer_range = 0;
  uint32_t max_push_constants_size = 0;
  uint32_t max_workgroup_count[3] = {0, 0, 0};
  uint32_t max_workgroup_invocations = 0;
  uint32_t max_shared_memory = 0;
  float timestamp_period_ns = 0;
  uint32_t timestamp_valid_bits = 0;  // of the compute queue family; 0: no timestamps
  bool has_float16 = false;           // shaderFloat16 and storageBuffer16BitAccess, both enabled
  bool has_cooperative_matrix_nv = false;
  bool has_coopmat2_workgroup = false;  // VK_NV_cooperative_matrix2 workgroup scope + flexible sizes
  // Optional features that were enabled on the device (beyond the spec's list; used internally).
  bool has_timeline_semaphore = false, has_host_query_reset = false;
  bool has_subgroup_size_control = false;
  // Float controls (Vulkan 1.2): whether shaders may request exact denormals / NaN, Inf, -0.
  bool denorm_preserve_f32 = false;
  bool signed_zero_inf_nan_preserve_f32 = false;
  // Hex of pipelineCacheUUID + vendor id + device id + driver version: keys shader caches.
  std::string cache_key;
  // Hex of deviceUUID: one physical device, whichever instance enumerated it (keys the memory
  // budget's ledger, vulkan/memory_budget.hpp).
  std::string device_uuid;
  bool has_memory_budget = false;  // VK_EXT_memory_budget enabled: heapBudget / heapUsage queries
};

/// Multi-line human-readable summary of `info`.
std::string describe(const DeviceInfo& info);

struct ContextOptions {
  std::string device_selector;  // "" (best device) | index | case-insensitive name substring
  bool validation = false;      // Khronos validation layer + synchronization validation
  std::string api_version;      // "" (1.3 when supported, else 1.2) | "1.2" | "1.3"
  bool cooperative_matrix2 = true;  // enable VK_NV_cooperative_matrix2 (+ KHR) where offered
};

/// Debug-utils entry points; all null when VK_EXT_debug_utils is unavailable.
struct DebugUtils {
  PFN_vkSetDebugUtilsObjectNameEXT set_object_name = nullptr;
  PFN_vkCmdBeginDebugUtilsLabelEXT cmd_begin_label = nullptr;
  PFN_vkCmdEndDebugUtilsLabelEXT cmd_end_label = nullptr;
  PFN_vkCreateDebugUtilsMessengerEXT create_messenger = nullptr;
  PFN_vkDestroyDebugUtilsMessengerEXT destroy_messenger = nullptr;
  PFN_vkSubmitDebugUtilsMessageEXT submit_message = nullptr;
};

/// Example:
///   auto ctx = Context::create({.validation = true});
///   fmt::print("{}\n", describe(ctx->info()));
class Context {
 public:
  static std::unique_ptr<Context> create(const ContextOptions& options);  // throws DeviceError
  ~Context();  // vkDeviceWaitIdle, then destroys device, messenger and instance
  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;

  VkInstance instance() const { return instance_; }
  VkPhysicalDevice physical_device() const { return physical_device_; }
  VkDevice device() const { return device_; }
  VkQueue queue() const { return queue_; }
  uint32_t queue_family() const { return queue_family_; }
  const DeviceInfo& info() const { return info_; }
  const DebugUtils& debug_utils() const { return debug_utils_; }

  /// "index: name (type)" for every physical device, in enumeration order.
  std::vector<std::string> list_devices() const { return device_list_; }

  /// Validation messages of severity WARNING or ERROR since creation (or the last clear).
  /// Thread-safe. Always 0 / empty when validation is off.
  size_t validation_message_count() const;
  std::vector<std::string> validation_messages() const;
  void clear_validation_messages();

  bool device_lost() const { return device_lost_.load(); }
  void mark_device_lost() { device_lost_.store(true); }

  const VkPhysicalDeviceMemoryProperties& memory_properties() const { return memory_properties_; }

  /// Index of a memory type allowed by `type_bits` having all `required` flags, preferring one
  /// that also has all `preferred` flags. Throws DeviceError if none.
  uint32_t find_memory_type(uint32_t type_bits, VkMemoryPropertyFlags required,
                            VkMemoryPropertyFlags preferred = 0) const;

  /// Names an object for validation messages and debuggers; a no-op without debug utils.
  void set_name(VkObjectType type, uint64_t handle, const std::string& name) const;
  template <typename H>
  void set_name(VkObjectType type, H handle, const std::string& name) const {
    set_name(type, reinterpret_cast<uint64_t>(handle), name);
  }

  /// Records one message as the validation messenger would (used by the messenger callback).
  void record_validation_message(std::string message);

 private:
  Context() = default;
  void create_instance(const ContextOptions& options);
  void create_device(const ContextOptions& options);

  VkInstance instance_ = VK_NULL_HANDLE;
  VkDebugUtilsMessengerEXT messenger_ = VK_NULL_HANDLE;
  VkPhysicalDevice physical_device_ = VK_NULL_HANDLE;
  VkDevice device_ = VK_NULL_HANDLE;
  VkQueue queue_ = VK_NULL_HANDLE;
  uint32_t queue_family_ = 0;
  uint32_t instance_api_ = 0;
  DeviceInfo info_;
  DebugUtils debug_utils_;
  VkPhysicalDeviceMemoryProperties memory_properties_{};
  std::vector<std::string> device_list_;
  std::atomic<bool> device_lost_{false};
  mutable std::mutex messages_mutex_;
  std::vector<std::string> messages_;
};

}  // namespace descent::vk
