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

void cost_aware_policy::on_deferred_due(std::size_t target) {
  defer_pending_[target] = false;
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

cost_quantum_policy::cost_quantum_policy(const config::policy_config& settings,
                                         double quantum_factor)
  : factor_(settings.amortization_factor), max_wait_(seconds(settings.max_wait_secs)),
    min_active_(std::max<clock_type::duration>(seconds(settings.min_active_secs),
                                               milliseconds(settings.min_quantum_ms))),
    quantum_factor_(quantum_factor), costs_(default_cost_prior) {
}

std::optional<std::size_t> cost_quantum_policy::best(const scheduler_view& view) const {
  std::optional<std::size_t> chosen;
  double chosen_score = 0;
  for (std::size_t i = 0; i < view.queues.size(); ++i) {
    const auto& queue = view.queues[i];
    if (queue.waiting == 0 || view.active == i) {
      continue;
    }
    auto cost = std::max(to_seconds(costs_.estimate(view.active, i)), 0.001);
    double score = static_cast<double>(queue.waiting) / cost;
    if (!chosen || score > chosen_score
        || (score == chosen_score && queue.oldest_wait > view.queues[*chosen].oldest_wait)) {
      chosen = i;
      chosen_score = score;
    }
  }
  return chosen;
}

decision cost_quantum_policy::on_arrival(const scheduler_view& view, std::size_t) {
  return reconsider(view);
}

decision cost_quantum_policy::reconsider(const scheduler_view& view) {
  auto next = best(view);
  if (!next) {
    return decision::stay();
  }
  if (!view.active) {
    return decision::switch_to(*next); // rule 1
  }
  // Rule 0: requests that were already waiting when the active model got the GPU (held back by
  // its concurrency limit) are served before it gives the GPU up. Otherwise, in overload, a
  // model given the GPU for its stale requests would lose it at once to the other model's, and
  // the two would trade the GPU back and forth serving almost nothing.
  if (view.active_holds_backlog) {
    return decision::stay();
  }
  // Rule 2: the stalest model whose oldest request has waited max_wait_secs gets the GPU now,
  // so no wait exceeds the bound by more than one switch; otherwise note when the first one
  // will reach it.
  std::optional<std::size_t> stale;
  auto recheck_in = clock_type::duration::max();
  for (std::size_t i = 0; i < view.queues.size(); ++i) {
    const auto& queue = view.queues[i];
    if (queue.waiting == 0 || view.active == i) {
      continue;
    }
    auto deadline = max_wait_;
    if (queue.oldest_wait >= deadline) {
      if (!stale || queue.oldest_wait > view.queues[*stale].oldest_wait) {
        stale = i;
      }
    } else {
      recheck_in = std::min(recheck_in, deadline - queue.oldest_wait);
    }
  }
  if (stale) {
    // The active model's held requests wait for its next turn, unless the stale request is
    // already past its bound (max_wait_secs plus the switch): then they would add little to a
    // wait that is long anyway, and leaving them would cost them a round trip.
    auto bound = max_wait_ + costs_.estimate(view.active, *stale);
    return decision::switch_to(*stale, view.queues[*stale].oldest_wait > bound);
  }
  const auto& active = view.queues[*view.active];
  bool drained = active.waiting == 0 && active.in_flight == 0;
  // Rule 3: a drained model gives the GPU up as soon as it has had its minimum time; waiting
  // longer would only idle the GPU.
  if (drained) {
    if (view.active_for >= min_active_) {
      return decision::switch_to(*next);
    }
    return decision::recheck(std::min(recheck_in, min_active_ - view.active_for));
  }
  // Rule 4: a busy model is preempted after its quantum, for demand that pays for the switch.
  auto cost = costs_.estimate(view.active, *next);
  auto required = std::max<std::size_t>(
    1, static_cast<std::size_t>(std::ceil(std::max(0.0, factor_ * to_seconds(cost)))));
  auto quantum = std::max<clock_type::duration>(
    min_active_, std::chrono::duration_cast<clock_type::duration>(quantum_factor_ * cost));
  if (view.queues[*next].waiting >= required) {
    if (view.active_for >= quantum) {
      return decision::switch_to(*next, false); // its held requests wait for its next turn
    }
    recheck_in = std::min(recheck_in, quantum - view.active_for);
  }
  return decision::recheck(
    std::max<clock_type::duration>(recheck_in, std::chrono::milliseconds(1)));
}

void cost_quantum_policy::on_switch_complete(std::optional<std::size_t> from, std::size_t to,
                                             clock_type::duration duration) {
  costs_.record(from, to, duration);
}

std::unique_ptr<policy> make_policy(const config::policy_config& settings, std::size_t models) {
  if (settings.policy_type == "cost_aware") {
    return std::make_unique<cost_aware_policy>(settings, models);
  }
  if (settings.policy_type == "time_slice") {
    return std::make_unique<time_slice_policy>(settings);
  }
  if (settings.policy_type == "cost_quantum") {
    return std::make_unique<cost_quantum_policy>(settings);
  }
  return std::make_unique<fifo_policy>(settings.drain_before_switch);
}

} // namespace llmux::actors
