#include "actors/policy.hpp"
#include "actors/process.hpp"

#include <gtest/gtest.h>

namespace llmux::actors {
namespace {

using namespace std::chrono_literals;
using kind = decision::kind;

scheduler_view view_of(std::vector<queue_view>& queues, std::optional<std::size_t> active,
                       clock_type::duration active_for) {
  return {clock_type::time_point{} + 1h, active, active_for, queues};
}

TEST(fifo_policy, switches_at_once_and_serves_the_longest_waiting_queue_next) {
  fifo_policy fifo(true);
  std::vector<queue_view> queues{{2, 1s, 0}, {1, 3s, 0}, {0, {}, 0}};
  auto view = view_of(queues, 0, 5s);
  auto arrival = fifo.on_arrival(view, 1);
  EXPECT_EQ(arrival.what, kind::switch_now);
  EXPECT_EQ(arrival.target, 1u);
  auto next = fifo.reconsider(view);
  EXPECT_EQ(next.what, kind::switch_now);
  EXPECT_EQ(next.target, 1u);
  queues[1].waiting = 0;
  EXPECT_EQ(fifo.reconsider(view).what, kind::stay); // the active model's queue is no target
  EXPECT_TRUE(fifo.drains_before_switch());
  EXPECT_FALSE(fifo_policy(false).drains_before_switch());
}

TEST(switch_costs, ema_per_direction_with_a_prior_and_a_cap) {
  switch_costs costs(10s);
  EXPECT_EQ(costs.estimate(0, 1), 10s);
  EXPECT_EQ(costs.estimate(std::nullopt, 1), 10s);
  costs.record(0, 1, 4s);
  EXPECT_EQ(costs.estimate(0, 1), 4s); // the first sample is taken as it is
  costs.record(0, 1, 14s);
  EXPECT_EQ(std::chrono::duration_cast<std::chrono::milliseconds>(costs.estimate(0, 1)), 7000ms);
  EXPECT_EQ(costs.estimate(1, 0), 10s); // the other direction is separate
  costs.record(1, 0, 600s);
  EXPECT_EQ(costs.estimate(1, 0), 60s); // capped
  costs.record(std::nullopt, 1, 1s);
  EXPECT_EQ(costs.estimate(std::nullopt, 1), 10s); // cold starts are not recorded
}

config::policy_config cost_settings() {
  config::policy_config settings;
  settings.policy_type = "cost_aware";
  settings.amortization_factor = 0.5;
  settings.coalesce_window_ms = 2000;
  settings.max_wait_secs = 15;
  return settings;
}

TEST(cost_aware_policy, stale_requests_and_an_idle_gpu_switch_at_once) {
  cost_aware_policy policy(cost_settings(), 2);
  std::vector<queue_view> queues{{0, {}, 1}, {1, 15s, 0}};
  EXPECT_EQ(policy.on_arrival(view_of(queues, 0, 1s), 1).what, kind::switch_now);
  queues[1].oldest_wait = 1s;
  EXPECT_EQ(policy.on_arrival(view_of(queues, std::nullopt, {}), 1).what, kind::switch_now);
}

TEST(cost_aware_policy, serving_window_then_threshold_then_coalescing) {
  cost_aware_policy policy(cost_settings(), 2);
  std::vector<queue_view> queues{{0, {}, 1}, {1, 1s, 0}};
  // Active for 3 s of a 10 s estimate: defer the rest of the window, once.
  auto window = policy.on_arrival(view_of(queues, 0, 3s), 1);
  EXPECT_EQ(window.what, kind::defer);
  EXPECT_EQ(window.delay, 7s);
  EXPECT_EQ(policy.on_arrival(view_of(queues, 0, 4s), 1).what, kind::stay);
  policy.on_switch_start(0, 1); // the deferred switch ran: the flag clears
  // Past the window, 5 waiting requests (0.5 x 10 s) are needed; fewer coalesce.
  auto coalesce = policy.on_arrival(view_of(queues, 0, 20s), 1);
  EXPECT_EQ(coalesce.what, kind::defer);
  EXPECT_EQ(coalesce.delay, 2s);
  queues[1].waiting = 5;
  EXPECT_EQ(policy.on_arrival(view_of(queues, 0, 20s), 1).what, kind::switch_now);
}

// A deferral the scheduler dropped (its queue emptied) must not keep later requests for the
// same model from being deferred again: they would wait for their timeout while the GPU idles.
TEST(cost_aware_policy, a_dropped_deferral_does_not_stick) {
  cost_aware_policy policy(cost_settings(), 2);
  std::vector<queue_view> queues{{0, {}, 0}, {1, 0s, 0}};
  EXPECT_EQ(policy.on_arrival(view_of(queues, 0, 1s), 1).what, kind::defer);
  EXPECT_EQ(policy.on_arrival(view_of(queues, 0, 1s), 1).what, kind::stay); // one is pending
  policy.on_deferred_due(1); // due with an empty queue: the scheduler dropped it
  auto again = policy.on_arrival(view_of(queues, 0, 2s), 1);
  EXPECT_EQ(again.what, kind::defer);
  EXPECT_EQ(again.target, 1u);
}

TEST(cost_aware_policy, measured_costs_shorten_the_window) {
  cost_aware_policy policy(cost_settings(), 2);
  policy.on_switch_complete(0, 1, 2s);
  std::vector<queue_view> queues{{0, {}, 0}, {1, 1s, 0}};
  // Required depth is max(1, ceil(0.5 x 2)) = 1, and the 2 s window is over.
  EXPECT_EQ(policy.on_arrival(view_of(queues, 0, 3s), 1).what, kind::switch_now);
}

TEST(time_slice_policy, drains_the_active_model_before_switching_to_the_longest_queue) {
  config::policy_config settings;
  settings.policy_type = "time_slice";
  settings.min_active_secs = 5;
  settings.min_quantum_ms = 2000;
  settings.max_wait_secs = 15;
  settings.tick_interval_ms = 500;
  time_slice_policy policy(settings);
  EXPECT_EQ(policy.tick_interval(), 500ms);
  std::vector<queue_view> queues{{0, {}, 2}, {1, 2s, 0}, {3, 1s, 0}};
  EXPECT_EQ(policy.on_arrival(view_of(queues, 0, 10s), 1).what, kind::stay);
  EXPECT_EQ(policy.reconsider(view_of(queues, 0, 10s)).what, kind::stay); // in flight
  queues[0].in_flight = 0;
  EXPECT_EQ(policy.reconsider(view_of(queues, 0, 4s)).what, kind::stay); // minimum time
  auto next = policy.reconsider(view_of(queues, 0, 10s));
  EXPECT_EQ(next.what, kind::switch_now);
  EXPECT_EQ(next.target, 2u); // the longest queue, not the oldest
  queues[1].oldest_wait = 15s;
  EXPECT_EQ(policy.on_arrival(view_of(queues, 0, 1s), 1).what, kind::switch_now); // stale
}

TEST(time_slice_policy, min_quantum_extends_the_minimum_time) {
  config::policy_config settings;
  settings.min_active_secs = 1;
  settings.min_quantum_ms = 8000;
  time_slice_policy policy(settings);
  std::vector<queue_view> queues{{0, {}, 0}, {1, 1s, 0}};
  EXPECT_EQ(policy.reconsider(view_of(queues, 0, 5s)).what, kind::stay);
  EXPECT_EQ(policy.reconsider(view_of(queues, 0, 9s)).what, kind::switch_now);
}

config::policy_config quantum_settings() {
  config::policy_config settings;
  settings.policy_type = "cost_quantum";
  settings.amortization_factor = 0.5;
  settings.max_wait_secs = 15;
  settings.min_active_secs = 5;
  settings.min_quantum_ms = 0;
  return settings;
}

TEST(cost_quantum_policy, idle_gpu_and_stale_requests_switch_at_once) {
  cost_quantum_policy policy(quantum_settings());
  std::vector<queue_view> queues{{0, {}, 0}, {1, 1s, 0}, {3, 2s, 0}};
  auto idle = policy.on_arrival(view_of(queues, std::nullopt, {}), 1);
  EXPECT_EQ(idle.what, kind::switch_now);
  EXPECT_EQ(idle.target, 2u); // the most waiting per second of switch cost
  queues[0] = {4, 1s, 3};     // the active model is busy
  queues[1].oldest_wait = 15s;
  auto stale = policy.reconsider(view_of(queues, 0, 1s));
  EXPECT_EQ(stale.what, kind::switch_now);
  EXPECT_EQ(stale.target, 1u);
}

TEST(cost_quantum_policy, a_drained_model_yields_after_its_minimum_time) {
  cost_quantum_policy policy(quantum_settings());
  std::vector<queue_view> queues{{0, {}, 0}, {1, 1s, 0}};
  auto early = policy.reconsider(view_of(queues, 0, 2s));
  EXPECT_EQ(early.what, kind::recheck);
  EXPECT_EQ(early.delay, 3s); // the rest of min_active_secs
  EXPECT_EQ(policy.reconsider(view_of(queues, 0, 5s)).what, kind::switch_now);
}

TEST(cost_quantum_policy, a_busy_model_is_preempted_after_its_quantum_for_enough_demand) {
  cost_quantum_policy policy(quantum_settings(), 3.0);
  // 10 s estimated cost: a 30 s quantum, and 5 waiting requests pay for the switch.
  std::vector<queue_view> queues{{3, 1s, 2}, {2, 3s, 0}};
  auto hold = policy.reconsider(view_of(queues, 0, 40s));
  EXPECT_EQ(hold.what, kind::recheck);
  EXPECT_EQ(hold.delay, 12s); // not enough demand: look again when the oldest turns stale
  queues[1].waiting = 5;
  auto quantum = policy.reconsider(view_of(queues, 0, 20s));
  EXPECT_EQ(quantum.what, kind::recheck);
  EXPECT_EQ(quantum.delay, 10s); // the rest of the quantum
  EXPECT_EQ(policy.reconsider(view_of(queues, 0, 30s)).what, kind::switch_now);
}

TEST(cost_quantum_policy, requests_held_from_before_the_switch_keep_the_gpu) {
  cost_quantum_policy policy(quantum_settings());
  std::vector<queue_view> queues{{6, 20s, 1}, {1, 16s, 0}}; // the other model is stale
  auto view = view_of(queues, 0, 10s);
  view.active_holds_backlog = true;
  EXPECT_EQ(policy.reconsider(view).what, kind::stay);
  view.active_holds_backlog = false; // the last of them is admitted
  EXPECT_EQ(policy.reconsider(view).what, kind::switch_now);
}

TEST(cost_quantum_policy, a_switch_leaves_held_requests_unless_the_bound_is_already_broken) {
  cost_quantum_policy policy(quantum_settings(), 3.0);
  // Bound: max_wait_secs (15 s) plus the estimated switch (the 10 s prior).
  std::vector<queue_view> queues{{4, 2s, 1}, {1, 15s, 0}};
  auto stale = policy.reconsider(view_of(queues, 0, 10s));
  EXPECT_EQ(stale.what, kind::switch_now);
  EXPECT_FALSE(stale.serve_held); // it is within its bound: the switch waits only for service
  queues[1].oldest_wait = 26s;
  EXPECT_TRUE(policy.reconsider(view_of(queues, 0, 10s)).serve_held);
  // A preemption after the quantum leaves them for the model's next turn too.
  queues[1] = {5, 3s, 0};
  auto preempt = policy.reconsider(view_of(queues, 0, 30s));
  EXPECT_EQ(preempt.what, kind::switch_now);
  EXPECT_FALSE(preempt.serve_held);
  // The reference's policies serve them, as the engine's own queue would have been drained.
  EXPECT_TRUE(fifo_policy(true).on_arrival(view_of(queues, 0, 30s), 1).serve_held);
}

TEST(cost_quantum_policy, measured_costs_shorten_the_quantum) {
  cost_quantum_policy policy(quantum_settings(), 3.0);
  policy.on_switch_complete(0, 1, 2s); // quantum max(5 s, 3 x 2 s) = 6 s; one request pays
  std::vector<queue_view> queues{{1, 1s, 1}, {1, 1s, 0}};
  EXPECT_EQ(policy.reconsider(view_of(queues, 0, 5s)).what, kind::recheck);
  EXPECT_EQ(policy.reconsider(view_of(queues, 0, 6s)).what, kind::switch_now);
}

TEST(make_policy, by_name) {
  config::policy_config settings;
  settings.drain_before_switch = false;
  EXPECT_FALSE(make_policy(settings, 2)->drains_before_switch());
  settings.policy_type = "time_slice";
  EXPECT_TRUE(make_policy(settings, 2)->tick_interval().has_value());
  settings.policy_type = "cost_aware";
  EXPECT_TRUE(make_policy(settings, 2)->drains_before_switch());
  settings.policy_type = "cost_quantum";
  auto quantum = make_policy(settings, 2);
  EXPECT_NE(dynamic_cast<cost_quantum_policy*>(quantum.get()), nullptr);
  // Only llmux's own policy keeps serving the active model during a switch's cooldown; the
  // reference's policies keep the reference's queueing.
  EXPECT_TRUE(quantum->serves_during_cooldown());
  settings.policy_type = "fifo";
  EXPECT_FALSE(make_policy(settings, 2)->serves_during_cooldown());
}

TEST(strip_ansi, removes_colour_sequences_and_keeps_the_text) {
  EXPECT_EQ(strip_ansi("\x1b[32mINFO\x1b[0m ready"), "INFO ready");
  EXPECT_EQ(strip_ansi("plain"), "plain");
}

} // namespace
} // namespace llmux::actors
