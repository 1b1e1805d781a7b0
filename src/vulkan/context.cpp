// Creates and destroys the instance, validation messenger, device and compute queue. It must not
// allocate memory for arrays, record commands or submit (heap.cpp, commands.cpp, transfer.cpp do);
// device ranking and the feature chain live in device_select.cpp.
#include "vulkan/context.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <string_view>

#include "descent/errors.hpp"
#include "vulkan/check.hpp"
#include "vulkan/device_select.hpp"

namespace descent::vk {
namespace {

constexpr const char* kNoDevice =
    "no Vulkan device found: install mesa-vulkan-drivers (CPU driver lavapipe) or a GPU driver, "
    "or set DESCENT_DEVICE";
constexpr const char* kValidationLayer = "VK_LAYER_KHRONOS_validation";

std::vector<std::string> instance_extensions(const char* layer) {
  uint32_t count = 0;
  VK_CHECK(vkEnumerateInstanceExtensionProperties(layer, &count, nullptr));
  std::vector<VkExtensionProperties> props(count);
  VK_CHECK(vkEnumerateInstanceExtensionProperties(layer, &count, props.data()));
  std::vector<std::string> names;
  for (uint32_t i = 0; i < count; ++i) names.emplace_back(props[i].extensionName);
  return names;
}

bool has_layer(const char* name) {
  uint32_t count = 0;
  VK_CHECK(vkEnumerateInstanceLayerProperties(&count, nullptr));
  std::vector<VkLayerProperties> layers(count);
  VK_CHECK(vkEnumerateInstanceLayerProperties(&count, layers.data()));
  for (const VkLayerProperties& l : layers)
    if (std::strcmp(l.layerName, name) == 0) return true;
  return false;
}

VKAPI_ATTR VkBool32 VKAPI_CALL on_debug_message(VkDebugUtilsMessageSeverityFlagBitsEXT severity,
                                                VkDebugUtilsMessageTypeFlagsEXT /*types*/,
                                                const VkDebugUtilsMessengerCallbackDataEXT* data,
                                                void* user) {
  if (severity < VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT) return VK_FALSE;
  std::string_view id = data->pMessageIdName ? data->pMessageIdName : "";
  // The loader reports its own environment issues (stray ICD manifests, ...): not descent's usage.
  if (id == "Loader Message") return VK_FALSE;
  const char* level =
      severity >= VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT ? "error" : "warning";
  std::string text = fmt::format("[{}] {}: {}", level, id, data->pMessage ? data->pMessage : "");
  std::fprintf(stderr, "descent: Vulkan validation %s\n", text.c_str());
  static_cast<Context*>(user)->record_validation_message(std::move(text));
  return VK_FALSE;  // never abort the call that triggered the message
}

uint32_t requested_api(const std::string& option, uint32_t loader_api) {
  if (loader_api < VK_API_VERSION_1_2)
    throw DeviceError(
        fmt::format("the Vulkan loader supports only {}.{}; descent needs 1.2: "
                    "update libvulkan1 / the GPU driver",
                    VK_API_VERSION_MAJOR(loader_api), VK_API_VERSION_MINOR(loader_api)));
  if (option.empty())
    return loader_api >= VK_API_VERSION_1_3 ? VK_API_VERSION_1_3 : VK_API_VERSION_1_2;
  if (option == "1.2") return VK_API_VERSION_1_2;
  if (option == "1.3") {
    if (loader_api < VK_API_VERSION_1_3)
      throw DeviceError("Vulkan API 1.3 requested but the loader supports only 1.2: use 1.2");
    return VK_API_VERSION_1_3;
  }
  throw DeviceError(
      fmt::format("unsupported Vulkan API version '{}': use \"1.2\" or \"1.3\"", option));
}

}  // namespace

std::unique_ptr<Context> Context::create(const ContextOptions& options) {
  std::unique_ptr<Context> ctx(new Context());  // on a throw below, ~Context cleans up
  ctx->create_instance(options);
  ctx->create_device(options);
  return ctx;
}

void Context::create_instance(const ContextOptions& options) {
  uint32_t loader_api = VK_API_VERSION_1_0;
  if (vkEnumerateInstanceVersion(&loader_api) != VK_SUCCESS) loader_api = VK_API_VERSION_1_0;
  instance_api_ = requested_api(options.api_version, loader_api);

  std::vector<const char*> layers;
  std::vector<std::string> available = instance_extensions(nullptr);
  if (options.validation) {
    if (!has_layer(kValidationLayer))
      throw DeviceError(
          fmt::format("Vulkan validation was requested but {} is not installed: "
                      "install vulkan-validationlayers or unset DESCENT_VALIDATION",
                      kValidationLayer));
    layers.push_back(kValidationLayer);
    for (std::string& e : instance_extensions(kValidationLayer)) available.push_back(std::move(e));
  }
  auto has = [&](const char* e) {
    return std::find(available.begin(), available.end(), e) != available.end();
  };
  std::vector<const char*> extensions;
  bool debug_utils = has(VK_EXT_DEBUG_UTILS_EXTENSION_NAME);
  if (debug_utils) extensions.push_back(VK_EXT_DEBUG_UTILS_EXTENSION_NAME);
  VkInstanceCreateFlags flags = 0;
  if (has("VK_KHR_portability_enumeration")) {  // lets MoltenVK-style devices be enumerated
    extensions.push_back("VK_KHR_portability_enumeration");
    flags |= 0x00000001;  // VK_INSTANCE_CREATE_ENUMERATE_PORTABILITY_BIT_KHR
  }

  VkDebugUtilsMessengerCreateInfoEXT messenger_info{
      VK_STRUCTURE_TYPE_DEBUG_UTILS_MESSENGER_CREATE_INFO_EXT};
  messenger_info.messageSeverity = VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT |
                                   VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT;
  messenger_info.messageType = VK_DEBUG_UTILS_MESSAGE_TYPE_GENERAL_BIT_EXT |
                               VK_DEBUG_UTILS_MESSAGE_TYPE_VALIDATION_BIT_EXT |
                               VK_DEBUG_UTILS_MESSAGE_TYPE_PERFORMANCE_BIT_EXT;
  messenger_info.pfnUserCallback = on_debug_message;
  messenger_info.pUserData = this;
  VkValidationFeatureEnableEXT enables[] = {
      VK_VALIDATION_FEATURE_ENABLE_SYNCHRONIZATION_VALIDATION_EXT};
  VkValidationFeaturesEXT validation_features{VK_STRUCTURE_TYPE_VALIDATION_FEATURES_EXT};
  validation_features.enabledValidationFeatureCount = 1;
  validation_features.pEnabledValidationFeatures = enables;
  const void* next = nullptr;
  if (options.validation) {
    if (has(VK_EXT_VALIDATION_FEATURES_EXTENSION_NAME)) {
      extensions.push_back(VK_EXT_VALIDATION_FEATURES_EXTENSION_NAME);
      validation_features.pNext = debug_utils ? &messenger_info : nullptr;
      next = &validation_features;
    } else if (debug_utils) {
      next = &messenger_info;  // also reports messages from vkCreate/DestroyInstance itself
    }
  }

  VkApplicationInfo app{VK_STRUCTURE_TYPE_APPLICATION_INFO};
  app.pApplicationName = "descent";
  app.pEngineName = "descent";
  app.apiVersion = instance_api_;
  VkInstanceCreateInfo info{VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO, next, flags, &app};
  info.enabledLayerCount = static_cast<uint32_t>(layers.size());
  info.ppEnabledLayerNames = layers.data();
  info.enabledExtensionCount = static_cast<uint32_t>(extensions.size());
  info.ppEnabledExtensionNames = extensions.data();
  VkResult vkCreateInstance_result = vkCreateInstance(&info, nullptr, &instance_);
  if (vkCreateInstance_result == VK_ERROR_INCOMPATIBLE_DRIVER ||
      vkCreateInstance_result == VK_ERROR_INITIALIZATION_FAILED) {  // no driver at all
    instance_ = VK_NULL_HANDLE;
    throw DeviceError(fmt::format("{} (vkCreateInstance returned {})", kNoDevice,
                                  result_name(vkCreateInstance_result)));
  }
  VK_CHECK(vkCreateInstance_result);

  if (debug_utils) {
    auto load = [&](const char* name) { return vkGetInstanceProcAddr(instance_, name); };
    debug_utils_.set_object_name =
        reinterpret_cast<PFN_vkSetDebugUtilsObjectNameEXT>(load("vkSetDebugUtilsObjectNameEXT"));
    debug_utils_.cmd_begin_label =
        reinterpret_cast<PFN_vkCmdBeginDebugUtilsLabelEXT>(load("vkCmdBeginDebugUtilsLabelEXT"));
    debug_utils_.cmd_end_label =
        reinterpret_cast<PFN_vkCmdEndDebugUtilsLabelEXT>(load("vkCmdEndDebugUtilsLabelEXT"));
    debug_utils_.create_messenger = reinterpret_cast<PFN_vkCreateDebugUtilsMessengerEXT>(
        load("vkCreateDebugUtilsMessengerEXT"));
    debug_utils_.destroy_messenger = reinterpret_cast<PFN_vkDestroyDebugUtilsMessengerEXT>(
        load("vkDestroyDebugUtilsMessengerEXT"));
    debug_utils_.submit_message =
        reinterpret_cast<PFN_vkSubmitDebugUtilsMessageEXT>(load("vkSubmitDebugUtilsMessageEXT"));
  }
  if (options.validation && debug_utils_.create_messenger) {
    messenger_info.pNext = nullptr;
    VK_CHECK(debug_utils_.create_messenger(instance_, &messenger_info, nullptr, &messenger_));
  }
}

void Context::create_device(const ContextOptions& options) {
  uint32_t count = 0;
  VK_CHECK(vkEnumeratePhysicalDevices(instance_, &count, nullptr));
  if (count == 0) throw DeviceError(kNoDevice);
  std::vector<VkPhysicalDevice> devices(count);
  VK_CHECK(vkEnumeratePhysicalDevices(instance_, &count, devices.data()));
  devices.resize(count);
  device_list_ = detail::list_devices(devices);

  detail::Selected selected =
      detail::select_device(devices, options.device_selector, instance_api_);
  physical_device_ = selected.device;
  queue_family_ = selected.queue_family;
  detail::FeatureChain wanted;
  std::vector<const char*> extensions = detail::wanted_features(selected, wanted, options.cooperative_matrix2);

  float priority = 1.0f;
  VkDeviceQueueCreateInfo queue_info{VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO};
  queue_info.queueFamilyIndex = queue_family_;
  queue_info.queueCount = 1;
  queue_info.pQueuePriorities = &priority;
  VkDeviceCreateInfo info{VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO, &wanted.core};
  info.queueCreateInfoCount = 1;
  info.pQueueCreateInfos = &queue_info;
  info.enabledExtensionCount = static_cast<uint32_t>(extensions.size());
  info.ppEnabledExtensionNames = extensions.data();
  VK_CHECK(vkCreateDevice(physical_device_, &info, nullptr, &device_));
  vkGetDeviceQueue(device_, queue_family_, 0, &queue_);
  vkGetPhysicalDeviceMemoryProperties(physical_device_, &memory_properties_);
  info_ = detail::read_device_info(selected, wanted);
  set_name(VK_OBJECT_TYPE_DEVICE, device_, "descent device");
  set_name(VK_OBJECT_TYPE_QUEUE, queue_, "descent compute queue");
}

Context::~Context() {
  if (device_ != VK_NULL_HANDLE) {
    vkDeviceWaitIdle(device_);  // result ignored: destruction proceeds even after device loss
    vkDestroyDevice(device_, nullptr);
  }
  if (messenger_ != VK_NULL_HANDLE) debug_utils_.destroy_messenger(instance_, messenger_, nullptr);
  if (instance_ != VK_NULL_HANDLE) vkDestroyInstance(instance_, nullptr);
}

size_t Context::validation_message_count() const {
  std::lock_guard<std::mutex> lock(messages_mutex_);
  return messages_.size();
}

std::vector<std::string> Context::validation_messages() const {
  std::lock_guard<std::mutex> lock(messages_mutex_);
  return messages_;
}

void Context::clear_validation_messages() {
  std::lock_guard<std::mutex> lock(messages_mutex_);
  messages_.clear();
}

void Context::record_validation_message(std::string message) {
  std::lock_guard<std::mutex> lock(messages_mutex_);
  messages_.push_back(std::move(message));
}

uint32_t Context::find_memory_type(uint32_t type_bits, VkMemoryPropertyFlags required,
                                   VkMemoryPropertyFlags preferred) const {
  for (VkMemoryPropertyFlags want : {required | preferred, required}) {
    for (uint32_t i = 0; i < memory_properties_.memoryTypeCount; ++i) {
      if ((type_bits & (1u << i)) &&
          (memory_properties_.memoryTypes[i].propertyFlags & want) == want)
        return i;
    }
  }
  throw DeviceError(
      fmt::format("device '{}' has no memory type with flags 0x{:x} among types "
                  "0x{:x}; try another device (DESCENT_DEVICE)",
                  info_.name, required, type_bits));
}

void Context::set_name(VkObjectType type, uint64_t handle, const std::string& name) const {
  if (!debug_utils_.set_object_name || device_ == VK_NULL_HANDLE) return;
  VkDebugUtilsObjectNameInfoEXT info{VK_STRUCTURE_TYPE_DEBUG_UTILS_OBJECT_NAME_INFO_EXT};
  info.objectType = type;
  info.objectHandle = handle;
  info.pObjectName = name.c_str();
  debug_utils_.set_object_name(device_, &info);  // naming is best effort: result ignored
}

}  // namespace descent::vk
