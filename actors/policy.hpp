#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <span>
#include <string>
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
/// `queues`, in configuration order.
struct scheduler_view {
  clock_type::time_point now;
  /// The model on the GPU, if any (none while a switch runs).
  std::optional<std::size_t> active;
  /// How long the active model has been active.
  clock_type::duration active_for{};
  std::span<const queue_view> queues;
};

/// What to do about a request for a model that is not active.
struct decision {
  enum class kind { switch_now, defer, skip };
  kind what = kind::switch_now;
  /// For `defer`: ask again after this long.
  clock_type::duration delay{};
};

/// A switch policy: pure logic behind the scheduler, given `now` and a view of the queues, so
/// that it runs the same under a real clock and in simulation.
class policy {
public:
  virtual ~policy() = default;

  /// A request for `target` was queued while `target` is not active and no switch runs.
  virtual decision on_arrival(const scheduler_view& view, std::size_t target) = 0;

  /// After a switch, or when the GPU is idle: the next model to switch to, if any.
  virtual std::optional<std::size_t> next_target(const scheduler_view& view) = 0;

  /// Whether the outgoing model's in-flight requests finish before it is evicted.
  virtual bool drains_before_switch() const = 0;

  /// A switch `from` (none: from an idle GPU) `to` took `duration`.
  virtual void on_switch_complete(std::optional<std::size_t> from, std::size_t to,
                                  clock_type::duration duration)
    = 0;
};

/// First come, first served: every queued request may switch at once; after a switch the model
/// whose oldest request has waited longest goes next. `drain` is `drain_before_switch`.
class fifo_policy : public policy {
public:
  explicit fifo_policy(bool drain) : drain_(drain) {
  }

  decision on_arrival(const scheduler_view& view, std::size_t target) override;
  std::optional<std::size_t> next_target(const scheduler_view& view) override;
  bool drains_before_switch() const override {
    return drain_;
  }
  void on_switch_complete(std::optional<std::size_t>, std::size_t, clock_type::duration) override {
  }

private:
  bool drain_;
};

/// The policy `settings.policy_type` names.
std::unique_ptr<policy> make_policy(const config::policy_config& settings);

} // namespace llmux::actors
