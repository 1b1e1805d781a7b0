// Timestamp query pool and read-back. Never submits; read_ns blocks only on query availability.
#include "vulkan/timestamps.hpp"

#include "util/assert.hpp"
#include "vulkan/check.hpp"
#include "vulkan/context.hpp"

namespace descent::vk {

bool TimestampPool::supported(const Context& ctx) {
  return ctx.info().timestamp_valid_bits > 0 && ctx.info().timestamp_period_ns > 0;
}

TimestampPool::TimestampPool(Context& ctx, uint32_t count) : ctx_(&ctx), count_(count) {
  if (!supported(ctx) || count == 0) return;
  VkQueryPoolCreateInfo info{VK_STRUCTURE_TYPE_QUERY_POOL_CREATE_INFO};
  info.queryType = VK_QUERY_TYPE_TIMESTAMP;
  info.queryCount = count;
  VkQueryPool pool = VK_NULL_HANDLE;
  VK_CHECK(vkCreateQueryPool(ctx.device(), &info, nullptr, &pool));
  pool_ = UniqueQueryPool(ctx.device(), pool);
}

std::vector<double> TimestampPool::read_ns(uint32_t first, uint32_t count) {
  DESCENT_ASSERT(supported() && first + count <= count_, "timestamp read out of range");
  std::vector<uint64_t> ticks(count);
  if (count == 0) return {};
  VK_CHECK(vkGetQueryPoolResults(ctx_->device(), pool_.get(), first, count,
                                 ticks.size() * sizeof(uint64_t), ticks.data(), sizeof(uint64_t),
                                 VK_QUERY_RESULT_64_BIT | VK_QUERY_RESULT_WAIT_BIT));
  uint32_t bits = ctx_->info().timestamp_valid_bits;
  uint64_t mask = bits >= 64 ? ~uint64_t(0) : (uint64_t(1) << bits) - 1;
  // double keeps ns exact up to 2^53 ns (~104 days of uptime), plenty for differences.
  double period = ctx_->info().timestamp_period_ns;
  std::vector<double> ns(count);
  for (uint32_t i = 0; i < count; ++i) ns[i] = static_cast<double>(ticks[i] & mask) * period;
  return ns;
}

bool TimestampPool::reset_from_host(uint32_t first, uint32_t count) {
  if (!supported() || !ctx_->info().has_host_query_reset) return false;
  vkResetQueryPool(ctx_->device(), pool_.get(), first, count);
  return true;
}

}  // namespace descent::vk
