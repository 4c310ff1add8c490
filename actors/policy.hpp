#pragma once

#include <chrono>
#include <cstddef>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "config/config.hpp"

namespace llmux::actors {

using clock_type = std::chrono::steady_clock;

/// One model's queue as a policy sees it.
struct queue_view {
  std::size_t waiting = 0;
  /// Age of the oldest waiting request; zero when none waits.
  clock_type::duration oldest_wait{};
  std::size_t in_flight = 0;
};

/// A read-only picture of the scheduler for a policy decision. Models are indexes into
/// `queues`, in configuration order. Policies are only asked while no switch runs.
struct scheduler_view {
  clock_type::time_point now;
  /// The model on the GPU, if any.
  std::optional<std::size_t> active;
  /// How long the active model has been active.
  clock_type::duration active_for{};
  std::span<const queue_view> queues;
  /// The active model still holds back, by its concurrency limit, requests that were waiting
  /// when it got the GPU. The scheduler asks `reconsider` again once the last is admitted.
  bool active_holds_backlog = false;
};

/// What the scheduler should do now.
struct decision {
  enum class kind {
    stay,       ///< nothing for now
    switch_now, ///< switch to `target` at once
    defer,      ///< switch to `target` after `delay`, if it still has waiting requests
    recheck,    ///< ask `reconsider` again after `delay`
  };
  kind what = kind::stay;
  std::size_t target = 0;
  clock_type::duration delay{};
  /// With a concurrency limit (`max_concurrent_requests`) llmux holds back the requests an
  /// engine would otherwise queue. Whether the switch first serves the outgoing model's held
  /// requests that arrived before it began, as draining the engine's own queue would (what the
  /// reference's policies expect), or leaves them for the model's next turn, so that the switch
  /// waits only for the requests in service.
  bool serve_held = true;

  static decision stay() {
    return {};
  }
  static decision switch_to(std::size_t target, bool serve_held = true) {
    return {kind::switch_now, target, {}, serve_held};
  }
  static decision defer(std::size_t target, clock_type::duration delay) {
    return {kind::defer, target, delay};
  }
  static decision recheck(clock_type::duration delay) {
    return {kind::recheck, 0, delay};
  }
};

/// A switch policy: pure logic behind the scheduler. It is given `now` and a view of the queues
/// (never a clock of its own), so it runs the same on a real clock and in simulation.
class policy {
public:
  virtual ~policy() = default;

  /// A request for `target` was queued while `target` is not active and no switch runs.
  virtual decision on_arrival(const scheduler_view& view, std::size_t target) = 0;

  /// After a switch, on a `recheck` and on every tick: what now?
  virtual decision reconsider(const scheduler_view& view) = 0;

  /// The period of `reconsider` ticks, for policies that want them.
  virtual std::optional<clock_type::duration> tick_interval() const {
    return std::nullopt;
  }

  /// Whether the outgoing model's in-flight requests finish before it is evicted.
  virtual bool drains_before_switch() const = 0;

  /// Whether the active model still gets its new requests while a switch away from it waits
  /// out the cooldown (`min_active_secs`). The reference queued them; its policies keep that.
  virtual bool serves_during_cooldown() const {
    return false;
  }

  /// A deferred switch to `target` came due. The scheduler calls this whether or not it then
  /// switches (it drops the switch when the queue emptied or another switch runs), so a
  /// policy that remembers its deferrals can forget this one.
  virtual void on_deferred_due(std::size_t target) {
    (void)target;
  }

  /// A switch `from` (none: an idle GPU) `to` begins.
  virtual void on_switch_start(std::optional<std::size_t> from, std::size_t to) {
    (void)from;
    (void)to;
  }

  /// A switch `from` `to` succeeded after `duration`.
  virtual void on_switch_complete(std::optional<std::size_t> from, std::size_t to,
                                  clock_type::duration duration) {
    (void)from;
    (void)to;
    (void)duration;
  }
};

/// The model whose oldest request has waited longest, other than `except`; none when no other
/// model has waiting requests.
std::optional<std::size_t> oldest_waiting(const scheduler_view& view,
                                          std::optional<std::size_t> except);

/// First come, first served (the reference's default): every queued request switches at once;
/// after a switch the model whose oldest request has waited longest goes next.
class fifo_policy : public policy {
public:
  explicit fifo_policy(bool drain) : drain_(drain) {
  }

  decision on_arrival(const scheduler_view& view, std::size_t target) override;
  decision reconsider(const scheduler_view& view) override;
  bool drains_before_switch() const override {
    return drain_;
  }

private:
  bool drain_;
};

/// Per-direction switch costs as an exponential moving average of measured switches (α = 0.3,
/// the first sample taken as it is, samples capped at 60 s so that a cold start does not
/// poison the estimate), starting from a prior.
class switch_costs {
public:
  explicit switch_costs(clock_type::duration prior) : prior_(prior) {
  }

  /// The estimate for switching `from` (none: an idle GPU) `to`.
  clock_type::duration estimate(std::optional<std::size_t> from, std::size_t to) const;

  void record(std::optional<std::size_t> from, std::size_t to, clock_type::duration took);

  /// The directions measured so far, (from, to) -> estimate.
  const std::map<std::pair<std::size_t, std::size_t>, clock_type::duration>& measured() const {
    return ema_;
  }

private:
  clock_type::duration prior_;
  std::map<std::pair<std::size_t, std::size_t>, clock_type::duration> ema_;
};

/// The reference's cost_aware policy (spec §4.3): switch at once when the target's oldest
/// request is stale or the GPU is idle; otherwise let the active model serve for a window as
/// long as the estimated switch cost, then switch once enough requests wait
/// (amortization_factor × cost seconds), else coalesce demand for `coalesce_window_ms`.
class cost_aware_policy : public policy {
public:
  cost_aware_policy(const config::policy_config& settings, std::size_t models);

  decision on_arrival(const scheduler_view& view, std::size_t target) override;
  decision reconsider(const scheduler_view& view) override;
  bool drains_before_switch() const override {
    return true;
  }
  void on_deferred_due(std::size_t target) override;
  void on_switch_start(std::optional<std::size_t> from, std::size_t to) override;
  void on_switch_complete(std::optional<std::size_t> from, std::size_t to,
                          clock_type::duration duration) override;

private:
  double factor_;
  clock_type::duration coalesce_;
  clock_type::duration max_wait_;
  switch_costs costs_;
  std::vector<bool> defer_pending_;
};

/// The reference's time_slice policy (spec §4.4, "drain first"): a queued request switches at
/// once only when stale or the GPU is idle; every tick, once the active model has had its
/// minimum time (the longer of `min_active_secs` and `min_quantum_ms`) and has nothing queued
/// or in flight, switch to the longest queue.
class time_slice_policy : public policy {
public:
  explicit time_slice_policy(const config::policy_config& settings);

  decision on_arrival(const scheduler_view& view, std::size_t target) override;
  decision reconsider(const scheduler_view& view) override;
  std::optional<clock_type::duration> tick_interval() const override {
    return tick_;
  }
  bool drains_before_switch() const override {
    return true;
  }

private:
  clock_type::duration max_wait_;
  clock_type::duration min_active_;
  clock_type::duration tick_;
};

/// llmux's own policy, "cost_quantum": drain first like time_slice, but driven by events
/// rather than ticks, with a staleness bound that holds for every request, and busy models
/// preempted after a quantum proportional to the switch cost.
///
/// 0. With a concurrency limit, the active model keeps the GPU until the requests that were
///    waiting when it got it are all granted (`scheduler_view::active_holds_backlog`).
/// 1. An idle GPU goes at once to the best waiting model.
/// 2. Staleness: a model whose oldest request has waited `max_wait_secs` gets the GPU now, so no
///    wait passes the bound by more than one switch (and the drain before it); the policy sets
///    a recheck for the moment the next request turns stale, so no arrival is needed to notice.
///    The outgoing model's held requests wait for its next turn unless the stale request is
///    already past `max_wait_secs` plus the estimated switch.
/// 3. A drained active model (nothing waiting, nothing in flight) gives the GPU up as soon as it
///    has had its minimum time (the longer of `min_active_secs` and `min_quantum_ms`).
/// 4. A busy active model is preempted once it has had a quantum of `quantum_factor` × the
///    estimated switch cost, and only for a model with at least `amortization_factor` ×
///    cost-in-seconds waiting requests; so switching for that reason takes at most
///    1 / (1 + quantum_factor) of the GPU's time. Its held requests wait for its next turn.
///    The default factor, 8, was the smallest of
///    3, 5 and 8 with which llmux-sim found cost_quantum no worse than a reference policy in
///    serving fraction and p99 at once on any profile, in all four benchmark set-ups.
/// "Best" is the most waiting requests per second of switch cost in that direction, ties to the
/// oldest; costs are measured per direction (EMA). Every delay is a recheck, not a scheduled
/// switch, so demand that vanished (timeouts, cancellations) never causes a switch. Unlike the
/// reference's policies, the active model keeps serving its new requests during the cooldown
/// before a switch away from it.
class cost_quantum_policy : public policy {
public:
  cost_quantum_policy(const config::policy_config& settings, double quantum_factor = 8.0);

  decision on_arrival(const scheduler_view& view, std::size_t target) override;
  decision reconsider(const scheduler_view& view) override;
  bool drains_before_switch() const override {
    return true;
  }
  bool serves_during_cooldown() const override {
    return true;
  }
  void on_switch_complete(std::optional<std::size_t> from, std::size_t to,
                          clock_type::duration duration) override;

private:
  std::optional<std::size_t> best(const scheduler_view& view) const;

  double factor_;
  clock_type::duration max_wait_;
  clock_type::duration min_active_;
  double quantum_factor_;
  switch_costs costs_;
};

/// The policy `settings.policy_type` names, for `models` models.
std::unique_ptr<policy> make_policy(const config::policy_config& settings, std::size_t models);

} // namespace llmux::actors
