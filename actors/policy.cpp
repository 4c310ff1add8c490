#include "actors/policy.hpp"

#include <algorithm>
#include <cmath>

namespace llmux::actors {

namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr auto cost_sample_cap = seconds(60);
constexpr double cost_ema_alpha = 0.3;
/// The reference's initial switch-cost estimate.
constexpr auto default_cost_prior = seconds(10);

double to_seconds(clock_type::duration d) {
  return std::chrono::duration<double>(d).count();
}

} // namespace

std::optional<std::size_t> oldest_waiting(const scheduler_view& view,
                                          std::optional<std::size_t> except) {
  std::optional<std::size_t> oldest;
  for (std::size_t i = 0; i < view.queues.size(); ++i) {
    if (view.queues[i].waiting == 0 || except == i) {
      continue;
    }
    if (!oldest || view.queues[i].oldest_wait > view.queues[*oldest].oldest_wait) {
      oldest = i;
    }
  }
  return oldest;
}

decision fifo_policy::on_arrival(const scheduler_view&, std::size_t target) {
  return decision::switch_to(target);
}

decision fifo_policy::reconsider(const scheduler_view& view) {
  auto next = oldest_waiting(view, view.active);
  return next ? decision::switch_to(*next) : decision::stay();
}

clock_type::duration switch_costs::estimate(std::optional<std::size_t> from, std::size_t to) const {
  if (!from) {
    return prior_;
  }
  auto it = ema_.find({*from, to});
  return it == ema_.end() ? prior_ : it->second;
}

void switch_costs::record(std::optional<std::size_t> from, std::size_t to,
                          clock_type::duration took) {
  if (!from) {
    return; // cold starts from an idle GPU say nothing about switching
  }
  auto sample = std::min<clock_type::duration>(took, cost_sample_cap);
  auto [it, inserted] = ema_.try_emplace({*from, to}, sample);
  if (!inserted) {
    it->second = std::chrono::duration_cast<clock_type::duration>(
      cost_ema_alpha * sample + (1 - cost_ema_alpha) * it->second);
  }
}

cost_aware_policy::cost_aware_policy(const config::policy_config& settings, std::size_t models)
  : factor_(settings.amortization_factor), coalesce_(milliseconds(settings.coalesce_window_ms)),
    max_wait_(seconds(settings.max_wait_secs)), costs_(default_cost_prior),
    defer_pending_(models, false) {
}

decision cost_aware_policy::on_arrival(const scheduler_view& view, std::size_t target) {
  const auto& queue = view.queues[target];
  if (queue.oldest_wait >= max_wait_ || !view.active) {
    return decision::switch_to(target);
  }
  auto cost = costs_.estimate(view.active, target);
  // Serving window: the active model keeps the GPU at least as long as a switch would cost.
  if (view.active_for < cost) {
    if (defer_pending_[target]) {
      return decision::stay();
    }
    defer_pending_[target] = true;
    return decision::defer(target, cost - view.active_for);
  }
  auto required = std::max<std::size_t>(
    1, static_cast<std::size_t>(std::ceil(std::max(0.0, factor_ * to_seconds(cost)))));
  if (queue.waiting >= required) {
    return decision::switch_to(target);
  }
  if (defer_pending_[target]) {
    return decision::stay();
  }
  defer_pending_[target] = true;
  return decision::defer(target, coalesce_);
}

// After a switch the reference ran the switches that queued behind it; here the longest-waiting
// other model is judged as if its request had just arrived.
decision cost_aware_policy::reconsider(const scheduler_view& view) {
  auto next = oldest_waiting(view, view.active);
  return next ? on_arrival(view, *next) : decision::stay();
}

void cost_aware_policy::on_switch_start(std::optional<std::size_t>, std::size_t to) {
  defer_pending_[to] = false;
}

void cost_aware_policy::on_switch_complete(std::optional<std::size_t> from, std::size_t to,
                                           clock_type::duration duration) {
  costs_.record(from, to, duration);
}

time_slice_policy::time_slice_policy(const config::policy_config& settings)
  : max_wait_(seconds(settings.max_wait_secs)),
    min_active_(std::max<clock_type::duration>(seconds(settings.min_active_secs),
                                               milliseconds(settings.min_quantum_ms))),
    tick_(milliseconds(settings.tick_interval_ms)) {
}

decision time_slice_policy::on_arrival(const scheduler_view& view, std::size_t target) {
  if (view.queues[target].oldest_wait >= max_wait_ || !view.active) {
    return decision::switch_to(target);
  }
  return decision::stay(); // the tick decides
}

decision time_slice_policy::reconsider(const scheduler_view& view) {
  if (!view.active) {
    auto next = oldest_waiting(view, std::nullopt);
    return next ? decision::switch_to(*next) : decision::stay();
  }
  const auto& active = view.queues[*view.active];
  if (view.active_for < min_active_ || active.waiting > 0 || active.in_flight > 0) {
    return decision::stay();
  }
  std::optional<std::size_t> longest;
  for (std::size_t i = 0; i < view.queues.size(); ++i) {
    if (i != *view.active && view.queues[i].waiting > 0
        && (!longest || view.queues[i].waiting > view.queues[*longest].waiting)) {
      longest = i;
    }
  }
  return longest ? decision::switch_to(*longest) : decision::stay();
}

std::unique_ptr<policy> make_policy(const config::policy_config& settings, std::size_t models) {
  if (settings.policy_type == "cost_aware") {
    return std::make_unique<cost_aware_policy>(settings, models);
  }
  if (settings.policy_type == "time_slice") {
    return std::make_unique<time_slice_policy>(settings);
  }
  return std::make_unique<fifo_policy>(settings.drain_before_switch);
}

} // namespace llmux::actors
