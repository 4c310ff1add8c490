// The scheduler's answers to failure: leases taken back, models that back off after failures,
// engines that went down, drains that passed their deadline.

#include <caf/actor_cast.hpp>
#include <caf/send.hpp>
#include <fmt/format.h>

#include "actors/scheduler_state.hpp"

namespace llmux::actors::detail {

// The engine of a model that had the GPU died, or was killed as hung: its requests are cut
// at once (their connections to it may not even close), and it backs off before it is tried
// again.
void scheduler_state::on_model_down(const std::string& model, const std::string& reason) {
  auto index = index_of(model);
  if (!index) {
    return;
  }
  auto why = fmt::format("the engine of {} failed: {}", model, reason);
  revoke_leases(*index, why);
  retire(*index);
  // A crash loop must not evict the healthy model again and again, whether the death is
  // noticed while the model is active or only after a switch away from it began.
  note_failure(*index, why);
  auto& slot = models_[*index];
  slot.state = lifecycle::stopped;
  if (!slot.awake) {
    return;
  }
  log_->warn("{} went down while active: {}", model, reason);
  // No new request may be granted to a dead engine, not even during a switch's cooldown.
  slot.awake = false;
  ledger_.set_serving(any_awake(), now());
  if (switch_ && switch_->evicts(*index)) {
    // The switch away from it goes on: nothing is left to drain of it, and evicting a stopped
    // model is done at once.
    if (switch_->phase == switch_phase::drain && !victims_busy()) {
      advance();
    }
    return;
  }
  if (!switch_) {
    if (shutdown_) {
      finish_shutdown_when_idle(false);
      return;
    }
    pick_next();
  }
}

void scheduler_state::revoke_leases(std::size_t model, const std::string& reason) {
  auto& slot = models_[model];
  auto count = in_flight(slot);
  if (count == 0) {
    return;
  }
  log_->warn("cutting {} request(s) of {}: {}", count, slot.config.name, reason);
  slot.leases_cut += count;
  for (const auto& [ticket, holder] : slot.leases) {
    if (holder) {
      caf::anon_send(caf::actor_cast<caf::actor>(holder), revoke_atom_v, ticket, reason);
    }
  }
  slot.leases.clear();
  if (slot.gate) {
    // No new lease on this engine until the scheduler opens the gate again.
    slot.gate->close();
    slot.gate->revoke_all(reason);
  }
}

void scheduler_state::note_fallback(std::size_t model, const outcome& result) {
  if (result.fallback.empty()) {
    return;
  }
  auto& slot = models_[model];
  ++slot.fallbacks_total;
  slot.last_fallback = result.fallback;
  log_->warn("{}: {}", slot.config.name, result.fallback);
}

void scheduler_state::note_failure(std::size_t model, const std::string& why) {
  auto& slot = models_[model];
  auto current = now();
  // Failures long apart are not a crash loop: counting starts again.
  auto cap = std::chrono::seconds(timeouts_.failure_backoff_max_secs);
  if (slot.last_failed_at && current - *slot.last_failed_at > 2 * cap) {
    slot.failures = 0;
  }
  slot.last_failed_at = current;
  ++slot.failures;
  ++slot.failures_total;
  auto base = std::chrono::seconds(timeouts_.failure_backoff_secs);
  auto backoff = base;
  for (std::uint32_t i = 1; i < slot.failures && backoff < cap; ++i) {
    backoff *= 2;
  }
  backoff = std::min(backoff, cap);
  slot.retry_at = current + backoff;
  slot.last_failure = why;
  log_->warn("{} backs off for {} s after {} failure(s) in a row", slot.config.name,
             backoff.count(), slot.failures);
  fail_all(model, *backing_off(model));
}

std::optional<lease_outcome> scheduler_state::backing_off(std::size_t model) const {
  const auto& slot = models_[model];
  auto current = now();
  if (!slot.retry_at || current >= *slot.retry_at) {
    return std::nullopt;
  }
  auto left = std::chrono::ceil<std::chrono::seconds>(*slot.retry_at - current);
  auto answer = refused(refusal::backing_off,
                        fmt::format("{} (tried again in {} s)", slot.last_failure, left.count()));
  answer.retry_after_secs = static_cast<std::uint32_t>(left.count());
  return answer;
}

void scheduler_state::on_drain_deadline(std::uint64_t serial) {
  if (!is_current(serial) || switch_->phase != switch_phase::drain) {
    return;
  }
  for (auto victim : switch_->victims) {
    revoke_leases(victim,
                  fmt::format("{} is being switched out and its requests did not finish within "
                              "the drain deadline of {} s",
                              models_[victim].config.name, timeouts_.drain_timeout_secs));
  }
  advance();
}

} // namespace llmux::actors::detail
