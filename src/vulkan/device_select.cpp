// Physical-device selection and the feature chain: which device descent runs on, which optional
// features it turns on, and the DeviceInfo it reports. Queries only; creates no Vulkan objects.
#include "vulkan/device_select.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <cstring>

#include "descent/errors.hpp"
#include "vulkan/check.hpp"

namespace descent::vk::detail {
namespace {

// Lower rank is better: discrete > integrated > virtual > CPU > other.
int type_rank(VkPhysicalDeviceType type) {
  switch (type) {
    case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU: return 0;
    case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU: return 1;
    case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU: return 2;
    case VK_PHYSICAL_DEVICE_TYPE_CPU: return 3;
    default: return 4;
  }
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string version_string(uint32_t v) {
  return fmt::format("{}.{}.{}", VK_API_VERSION_MAJOR(v), VK_API_VERSION_MINOR(v),
                     VK_API_VERSION_PATCH(v));
}

std::vector<std::string> device_extensions(VkPhysicalDevice device) {
  uint32_t count = 0;
  VK_CHECK(vkEnumerateDeviceExtensionProperties(device, nullptr, &count, nullptr));
  std::vector<VkExtensionProperties> props(count);
  VK_CHECK(vkEnumerateDeviceExtensionProperties(device, nullptr, &count, props.data()));
  std::vector<std::string> names;
  for (uint32_t i = 0; i < count; ++i) names.emplace_back(props[i].extensionName);
  return names;
}

bool contains(const std::vector<std::string>& names, const char* name) {
  return std::find(names.begin(), names.end(), name) != names.end();
}

// Empty when descent can use `device`, else the reason it cannot. Sets *queue_family.
std::string unsuitable_reason(VkPhysicalDevice device, uint32_t* queue_family) {
  VkPhysicalDeviceProperties props;
  vkGetPhysicalDeviceProperties(device, &props);
  if (props.apiVersion < VK_API_VERSION_1_2)
    return fmt::format("Vulkan {} < 1.2", version_string(props.apiVersion));
  FeatureChain f;
  f.link();
  vkGetPhysicalDeviceFeatures2(device, &f.core);
  if (!f.v12.bufferDeviceAddress) return "no bufferDeviceAddress";
  if (!f.core.features.shaderInt64) return "no shaderInt64";
  uint32_t count = 0;
  vkGetPhysicalDeviceQueueFamilyProperties(device, &count, nullptr);
  std::vector<VkQueueFamilyProperties> families(count);
  vkGetPhysicalDeviceQueueFamilyProperties(device, &count, families.data());
  for (uint32_t i = 0; i < count; ++i) {
    if (families[i].queueFlags & VK_QUEUE_COMPUTE_BIT) {
      *queue_family = i;
      return {};
    }
  }
  return "no compute queue";
}

[[noreturn]] void throw_selection(const std::string& what,
                                  const std::vector<VkPhysicalDevice>& devices) {
  std::string listing;
  for (const std::string& line : list_devices(devices)) {
    uint32_t family = 0;
    size_t index = std::stoul(line);
    std::string why = unsuitable_reason(devices[index], &family);
    listing += fmt::format("\n  {}{}", line, why.empty() ? "" : " [unusable: " + why + "]");
  }
  throw DeviceError(
      fmt::format("{}; available devices:{}\nset DESCENT_DEVICE to an index or a "
                  "part of a device name",
                  what, listing));
}

}  // namespace

void FeatureChain::link() {
  core.pNext = &v11;
  v11.pNext = &v12;
  void** tail = &v12.pNext;
  *tail = nullptr;
  if (use_v13) *tail = &v13, tail = &v13.pNext;
  if (use_subgroup_ext) *tail = &subgroup_ext, tail = &subgroup_ext.pNext;
  if (use_coop_nv) *tail = &coop_nv, tail = &coop_nv.pNext;
  if (use_coop_khr) *tail = &coop_khr, tail = &coop_khr.pNext;
  if (use_coop2_nv) *tail = &coop2_nv, tail = &coop2_nv.pNext;
  *tail = nullptr;
}

const char* device_type_name(VkPhysicalDeviceType type) {
  switch (type) {
    case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU: return "discrete GPU";
    case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU: return "integrated GPU";
    case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU: return "virtual GPU";
    case VK_PHYSICAL_DEVICE_TYPE_CPU: return "CPU";
    default: return "other";
  }
}

std::vector<std::string> list_devices(const std::vector<VkPhysicalDevice>& devices) {
  std::vector<std::string> lines;
  for (size_t i = 0; i < devices.size(); ++i) {
    VkPhysicalDeviceProperties props;
    vkGetPhysicalDeviceProperties(devices[i], &props);
    lines.push_back(
        fmt::format("{}: {} ({})", i, props.deviceName, device_type_name(props.deviceType)));
  }
  return lines;
}

Selected select_device(const std::vector<VkPhysicalDevice>& devices, const std::string& selector,
                       uint32_t instance_api) {
  bool by_index = !selector.empty() && std::all_of(selector.begin(), selector.end(), [](char c) {
    return std::isdigit(static_cast<unsigned char>(c));
  });
  // Digits only: an index; longer than 9 digits cannot be a real index (and would overflow).
  size_t want_index = by_index && selector.size() < 10 ? std::stoul(selector) : SIZE_MAX;
  int best = -1, best_rank = 1 << 30;
  std::string rejected;  // why the devices the selector matched are unusable
  for (size_t i = 0; i < devices.size(); ++i) {
    VkPhysicalDeviceProperties props;
    vkGetPhysicalDeviceProperties(devices[i], &props);
    if (by_index && i != want_index) continue;
    if (!by_index && !selector.empty() &&
        lower(props.deviceName).find(lower(selector)) == std::string::npos)
      continue;
    uint32_t family = 0;
    std::string why = unsuitable_reason(devices[i], &family);
    if (!why.empty()) {
      rejected += fmt::format("{}{} ({})", rejected.empty() ? "" : ", ", props.deviceName, why);
      continue;
    }
    // Ties keep enumeration order, so the choice is deterministic.
    if (type_rank(props.deviceType) < best_rank) {
      best = static_cast<int>(i);
      best_rank = type_rank(props.deviceType);
    }
  }
  if (best < 0) {
    if (!rejected.empty())
      throw_selection(fmt::format("no usable Vulkan device{}: {}; descent needs Vulkan 1.2 with "
                                  "bufferDeviceAddress and shaderInt64",
                                  selector.empty() ? "" : " matches '" + selector + "'", rejected),
                      devices);
    throw_selection(fmt::format("device selector '{}' matches no Vulkan device", selector),
                    devices);
  }
  Selected s;
  s.device = devices[best];
  s.index = static_cast<uint32_t>(best);
  unsuitable_reason(s.device, &s.queue_family);
  VkPhysicalDeviceProperties props;
  vkGetPhysicalDeviceProperties(s.device, &props);
  // Use the device's own version (with its patch level) unless it is newer than requested.
  bool newer = VK_API_VERSION_MINOR(props.apiVersion) > VK_API_VERSION_MINOR(instance_api) ||
               VK_API_VERSION_MAJOR(props.apiVersion) > VK_API_VERSION_MAJOR(instance_api);
  s.api = newer ? instance_api : props.apiVersion;
  s.extensions = device_extensions(s.device);
  return s;
}

std::vector<const char*> wanted_features(const Selected& s, FeatureChain& wanted, bool coopmat2) {
  FeatureChain have;
  have.use_v13 = s.api >= VK_API_VERSION_1_3;
  have.use_subgroup_ext = !have.use_v13 && contains(s.extensions, "VK_EXT_subgroup_size_control");
  have.use_coop_nv = contains(s.extensions, "VK_NV_cooperative_matrix");
  have.use_coop_khr = contains(s.extensions, "VK_KHR_cooperative_matrix");
  have.use_coop2_nv = coopmat2 && have.use_coop_khr && contains(s.extensions, "VK_NV_cooperative_matrix2");
  have.link();
  vkGetPhysicalDeviceFeatures2(s.device, &have.core);

  std::vector<const char*> extensions;
  wanted.use_v13 = have.use_v13;
  wanted.core.features.shaderInt64 = VK_TRUE;
  wanted.v12.bufferDeviceAddress = VK_TRUE;
  wanted.v12.hostQueryReset = have.v12.hostQueryReset;
  wanted.v12.timelineSemaphore = have.v12.timelineSemaphore;
  // shaderFloat16 is core in 1.2 (VK_KHR_shader_float16_int8 promoted), so no extension needed.
  wanted.v12.shaderFloat16 = have.v12.shaderFloat16;
  wanted.v11.storageBuffer16BitAccess = have.v11.storageBuffer16BitAccess;
  if (have.use_v13) {
    wanted.v13.subgroupSizeControl = have.v13.subgroupSizeControl;
    wanted.v13.computeFullSubgroups = have.v13.computeFullSubgroups;
  } else if (have.use_subgroup_ext && have.subgroup_ext.subgroupSizeControl) {
    wanted.use_subgroup_ext = true;
    wanted.subgroup_ext.subgroupSizeControl = VK_TRUE;
    wanted.subgroup_ext.computeFullSubgroups = have.subgroup_ext.computeFullSubgroups;
    extensions.push_back("VK_EXT_subgroup_size_control");
  }
  // Cooperative-matrix kernels use the Vulkan memory model (GL_KHR_memory_scope_semantics declares
  // the VulkanMemoryModel capability), and with the memory model on, every shader's device-scope
  // atomics (the status word's atomicOr) need vulkanMemoryModelDeviceScope too
  // (VUID-RuntimeSpirv-vulkanMemoryModel-06265): no matrices without both.
  const bool memory_model = have.v12.vulkanMemoryModel && have.v12.vulkanMemoryModelDeviceScope;
  if (have.use_coop_nv && have.coop_nv.cooperativeMatrix && memory_model) {
    wanted.use_coop_nv = true;
    wanted.coop_nv.cooperativeMatrix = VK_TRUE;
    wanted.v12.vulkanMemoryModel = VK_TRUE;
    wanted.v12.vulkanMemoryModelDeviceScope = VK_TRUE;
    extensions.push_back("VK_NV_cooperative_matrix");
  }
  // Workgroup-scope matrices of flexible size (VK_NV_cooperative_matrix2 on top of the KHR
  // extension): kernels written with the NV GLSL extension are rewritten to KHR SPIR-V for them
  // (vulkan/spirv_coopmat.hpp); they use the Vulkan memory model too.
  if (have.use_coop2_nv && have.coop_khr.cooperativeMatrix && have.coop2_nv.workgroupScope &&
      have.coop2_nv.flexibleDimensions && memory_model) {
    wanted.use_coop_khr = wanted.use_coop2_nv = true;
    wanted.coop_khr.cooperativeMatrix = VK_TRUE;
    wanted.coop2_nv.workgroupScope = VK_TRUE;
    wanted.coop2_nv.flexibleDimensions = VK_TRUE;
    wanted.v12.vulkanMemoryModel = VK_TRUE;
    wanted.v12.vulkanMemoryModelDeviceScope = VK_TRUE;
    extensions.push_back("VK_KHR_cooperative_matrix");
    extensions.push_back("VK_NV_cooperative_matrix2");
  }
  // heapBudget / heapUsage per memory heap (vulkan/memory_budget.cpp): no features to enable.
  if (contains(s.extensions, VK_EXT_MEMORY_BUDGET_EXTENSION_NAME))
    extensions.push_back(VK_EXT_MEMORY_BUDGET_EXTENSION_NAME);
  // Required by the spec when present (MoltenVK and other layered implementations).
  if (contains(s.extensions, "VK_KHR_portability_subset"))
    extensions.push_back("VK_KHR_portability_subset");
  wanted.link();
  return extensions;
}

DeviceInfo read_device_info(const Selected& s, const FeatureChain& enabled) {
  VkPhysicalDeviceVulkan11Properties p11{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_1_PROPERTIES};
  VkPhysicalDeviceVulkan12Properties p12{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_2_PROPERTIES};
  VkPhysicalDeviceProperties2 p{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2, &p11};
  p11.pNext = &p12;
  vkGetPhysicalDeviceProperties2(s.device, &p);
  const VkPhysicalDeviceLimits& lim = p.properties.limits;

  DeviceInfo info;
  info.name = p.properties.deviceName;
  info.driver_name = p12.driverName;
  info.driver_info = p12.driverInfo;
  info.vendor_id = p.properties.vendorID;
  info.device_id = p.properties.deviceID;
  info.api_version = s.api;
  info.driver_version = p.properties.driverVersion;
  info.is_cpu = p.properties.deviceType == VK_PHYSICAL_DEVICE_TYPE_CPU;
  info.type_name = device_type_name(p.properties.deviceType);
  info.subgroup_size = p11.subgroupSize;
  info.subgroup_broadcast = (p11.subgroupSupportedStages & VK_SHADER_STAGE_COMPUTE_BIT) != 0 &&
                            (p11.subgroupSupportedOperations & VK_SUBGROUP_FEATURE_BALLOT_BIT) != 0;
  info.denorm_preserve_f32 = p12.shaderDenormPreserveFloat32 == VK_TRUE;
  info.signed_zero_inf_nan_preserve_f32 = p12.shaderSignedZeroInfNanPreserveFloat32 == VK_TRUE;
  info.max_allocation_size = p11.maxMemoryAllocationSize;
  info.max_storage_buffer_range = lim.maxStorageBufferRange;
  info.max_push_constants_size = lim.maxPushConstantsSize;
  for (int i = 0; i < 3; ++i) info.max_workgroup_count[i] = lim.maxComputeWorkGroupCount[i];
  info.max_workgroup_invocations = lim.maxComputeWorkGroupInvocations;
  info.max_shared_memory = lim.maxComputeSharedMemorySize;
  info.timestamp_period_ns = lim.timestampPeriod;

  uint32_t count = 0;
  vkGetPhysicalDeviceQueueFamilyProperties(s.device, &count, nullptr);
  std::vector<VkQueueFamilyProperties> families(count);
  vkGetPhysicalDeviceQueueFamilyProperties(s.device, &count, families.data());
  info.timestamp_valid_bits = families[s.queue_family].timestampValidBits;

  info.has_float16 = enabled.v12.shaderFloat16 && enabled.v11.storageBuffer16BitAccess;
  info.has_cooperative_matrix_nv = enabled.use_coop_nv && enabled.coop_nv.cooperativeMatrix;
  info.has_coopmat2_workgroup = enabled.use_coop2_nv && enabled.coop2_nv.workgroupScope;
  info.has_timeline_semaphore = enabled.v12.timelineSemaphore;
  info.has_host_query_reset = enabled.v12.hostQueryReset;
  info.has_subgroup_size_control =
      enabled.v13.subgroupSizeControl ||
      (enabled.use_subgroup_ext && enabled.subgroup_ext.subgroupSizeControl);

  info.has_memory_budget = contains(s.extensions, VK_EXT_MEMORY_BUDGET_EXTENSION_NAME);
  for (uint8_t byte : p11.deviceUUID) info.device_uuid += fmt::format("{:02x}", byte);
  for (uint8_t byte : p.properties.pipelineCacheUUID) info.cache_key += fmt::format("{:02x}", byte);
  info.cache_key +=
      fmt::format("{:08x}{:08x}{:08x}", info.vendor_id, info.device_id, info.driver_version);
  return info;
}

}  // namespace descent::vk::detail

namespace descent::vk {

std::string describe(const DeviceInfo& i) {
  return fmt::format(
      "device: {} ({}), vendor 0x{:04x} device 0x{:04x}\n"
      "driver: {} {} (version 0x{:x}), Vulkan {}.{}.{}\n"
      "subgroup {}, max allocation {} MiB, max storage range {} MiB, push constants {} B\n"
      "workgroups: count {}x{}x{}, {} invocations, {} KiB shared\n"
      "timestamps: {} valid bits, period {} ns; float16 {}, coopmat NV {}, timeline {}, "
      "memory budget {}",
      i.name, i.type_name, i.vendor_id, i.device_id, i.driver_name, i.driver_info, i.driver_version,
      VK_API_VERSION_MAJOR(i.api_version), VK_API_VERSION_MINOR(i.api_version),
      VK_API_VERSION_PATCH(i.api_version), i.subgroup_size, i.max_allocation_size >> 20,
      i.max_storage_buffer_range >> 20, i.max_push_constants_size, i.max_workgroup_count[0],
      i.max_workgroup_count[1], i.max_workgroup_count[2], i.max_workgroup_invocations,
      i.max_shared_memory >> 10, i.timestamp_valid_bits, i.timestamp_period_ns,
      i.has_float16 ? "yes" : "no", i.has_cooperative_matrix_nv ? "yes" : "no",
      i.has_timeline_semaphore ? "yes" : "no", i.has_memory_budget ? "yes" : "no");
}

}  // namespace descent::vk
