// Internal to Context: physical-device ranking/selection, the feature chain descent enables, and
// filling DeviceInfo. Pure queries of the physical device; it must not create a VkDevice or any
// other object (context.cpp does that with what these functions return).
#pragma once
#include <vulkan/vulkan.h>

#include <string>
#include <vector>

#include "vulkan/context.hpp"

namespace descent::vk::detail {

/// The device features descent queries or enables, linked through pNext. Not copyable: the
/// chain points into itself.
/// VK_KHR_cooperative_matrix and VK_NV_cooperative_matrix2 feature structures, declared here
/// because Debian 12's Vulkan headers (1.3.239) predate them (layouts from the Vulkan registry).
struct CoopMatKhrFeatures {
  VkStructureType sType = static_cast<VkStructureType>(1000506000);
  void* pNext = nullptr;
  VkBool32 cooperativeMatrix = VK_FALSE, cooperativeMatrixRobustBufferAccess = VK_FALSE;
};
struct CoopMat2NvFeatures {
  VkStructureType sType = static_cast<VkStructureType>(1000593000);
  void* pNext = nullptr;
  VkBool32 workgroupScope = VK_FALSE, flexibleDimensions = VK_FALSE, reductions = VK_FALSE,
           conversions = VK_FALSE, perElementOperations = VK_FALSE, tensorAddressing = VK_FALSE,
           blockLoads = VK_FALSE;
};

struct FeatureChain {
  VkPhysicalDeviceFeatures2 core{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2};
  VkPhysicalDeviceVulkan11Features v11{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_1_FEATURES};
  VkPhysicalDeviceVulkan12Features v12{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_2_FEATURES};
  VkPhysicalDeviceVulkan13Features v13{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_3_FEATURES};
  VkPhysicalDeviceSubgroupSizeControlFeaturesEXT subgroup_ext{
      VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_SIZE_CONTROL_FEATURES_EXT};
  VkPhysicalDeviceCooperativeMatrixFeaturesNV coop_nv{
      VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_COOPERATIVE_MATRIX_FEATURES_NV};
  CoopMatKhrFeatures coop_khr;
  CoopMat2NvFeatures coop2_nv;
  bool use_v13 = false, use_subgroup_ext = false, use_coop_nv = false, use_coop_khr = false,
       use_coop2_nv = false;

  FeatureChain() = default;
  FeatureChain(const FeatureChain&) = delete;
  FeatureChain& operator=(const FeatureChain&) = delete;
  /// Links core -> v11 -> v12 [-> v13] [-> subgroup_ext] [-> coop_nv] [-> coop_khr] [-> coop2_nv]
  /// per the use_* flags.
  void link();
};

/// A physical device chosen for descent, with what it supports (api is the version in use).
struct Selected {
  VkPhysicalDevice device = VK_NULL_HANDLE;
  uint32_t index = 0;
  uint32_t api = 0;
  uint32_t queue_family = 0;
  std::vector<std::string> extensions;
};

/// "index: name (type)" for each device.
std::vector<std::string> list_devices(const std::vector<VkPhysicalDevice>& devices);

/// Picks the device per `selector` (see ContextOptions); throws DeviceError listing devices.
Selected select_device(const std::vector<VkPhysicalDevice>& devices, const std::string& selector,
                       uint32_t instance_api);

/// Fills `wanted` with the required features plus the optional ones `selected` supports, and
/// returns the device extensions to enable.
/// The extensions to enable and, in `wanted`, the features; `coopmat2` false leaves
/// VK_NV_cooperative_matrix2 (and the KHR matrices and memory model it needs) off.
std::vector<const char*> wanted_features(const Selected& selected, FeatureChain& wanted, bool coopmat2);

DeviceInfo read_device_info(const Selected& selected, const FeatureChain& enabled);

const char* device_type_name(VkPhysicalDeviceType type);

}  // namespace descent::vk::detail
