#include "actors/policy.hpp"

namespace llmux::actors {

decision fifo_policy::on_arrival(const scheduler_view&, std::size_t) {
  return {decision::kind::switch_now, {}};
}

std::optional<std::size_t> fifo_policy::next_target(const scheduler_view& view) {
  std::optional<std::size_t> oldest;
  for (std::size_t i = 0; i < view.queues.size(); ++i) {
    const auto& queue = view.queues[i];
    if (queue.waiting == 0 || view.active == i) {
      continue;
    }
    if (!oldest || queue.oldest_wait > view.queues[*oldest].oldest_wait) {
      oldest = i;
    }
  }
  return oldest;
}

std::unique_ptr<policy> make_policy(const config::policy_config& settings) {
  // cost_aware and time_slice arrive with the policies issue; until then they run as FIFO and
  // the daemon says so at start-up.
  return std::make_unique<fifo_policy>(settings.drain_before_switch);
}

} // namespace llmux::actors
