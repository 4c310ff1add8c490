#pragma once

// What no switch policy can beat on an open-loop workload (every arrival time fixed in
// advance), computed from the workload and the engines' costs alone.

#include <cstddef>
#include <optional>
#include <vector>

#include "actors/simulation.hpp"
#include "config/config.hpp"

namespace llmux::tools::sim {

/// Bounds for one workload, each the best any schedule reaches, even one that knows every
/// arrival in advance; no one schedule reaches all of them at once.
struct offline_bound {
  /// Every model with requests is activated at least once (after the warmup all are evicted).
  std::size_t switches = 0;
  /// The service times of all requests, each served alone.
  double service_seconds = 0;
  /// Those activations at their own cost, and the evictions they force with `awake_at_once`
  /// models on the GPU, the cheapest first. Reached by serving each model's requests in one
  /// turn (whatever the waits).
  double switching_seconds = 0;
  /// The most serving / (serving + switching) any policy reaches, for engines that serve one
  /// request at a time (serving is then the sum of the service times); none with batching.
  std::optional<double> gpu_serving_fraction;
  /// The least p99 wait: each model's requests served as if that model had the GPU to itself
  /// and never left it.
  double p99_wait = 0;
};

/// The bound for `workload` on `cfg`'s models (their evictions) with `costs`, engines serving
/// as `serving` says, with `awake_at_once` models fitting on the GPU together; none for a
/// closed-loop workload, whose arrivals depend on the schedule.
std::optional<offline_bound> bound_of(const config::config& cfg,
                                      const std::vector<actors::sim_costs>& costs,
                                      const std::vector<actors::sim_request>& workload,
                                      const actors::batching& serving, std::size_t awake_at_once);

} // namespace llmux::tools::sim
