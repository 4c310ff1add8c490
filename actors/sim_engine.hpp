#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include <caf/fwd.hpp>

#include "actors/engine.hpp"
#include "actors/policy.hpp"

namespace llmux::actors {

/// How long each engine operation takes for one simulated model.
struct sim_costs {
  std::chrono::milliseconds cold_start{60000};
  std::chrono::milliseconds sleep_level1{5000};
  std::chrono::milliseconds sleep_level2{1000};
  std::chrono::milliseconds wake_level1{1200};
  /// Includes `reload_weights`.
  std::chrono::milliseconds wake_level2{31000};
  std::chrono::milliseconds stop{1000};
  /// cuda-checkpoint suspend or resume of all the engine's processes.
  std::chrono::milliseconds cuda_toggle{4000};
  std::chrono::milliseconds criu_dump{20000};
  std::chrono::milliseconds criu_restore{15000};
};

/// One engine operation as it happened on the simulated GPU.
struct sim_operation {
  std::size_t model = 0;
  /// The cluster node whose engine it was (0 on a single llmux).
  std::size_t node = 0;
  enum class kind { start, sleep, wake, stop } what = kind::start;
  clock_type::time_point began;
  clock_type::time_point ended;
};

/// What the simulated engines did; shared by the engines of one simulation, which all run on
/// one thread (CAF's test coordinator).
struct sim_timeline {
  std::vector<sim_operation> operations;
};

/// How long a simulated engine takes for `steps`: each step's cost, a level-2 wake
/// (`wake_up` and `reload_weights`) taking `wake_level2` in all.
std::chrono::milliseconds plan_duration(const std::vector<engine_step>& steps,
                                        const sim_costs& costs);

/// Spawns a simulated engine for model number `model`: it answers the engine protocol after the
/// durations in `costs`, on the actor clock, and records each operation in `timeline`.
engine_actor spawn_sim_engine(caf::actor_system& system, std::size_t model, sim_costs costs,
                              std::shared_ptr<sim_timeline> timeline, std::size_t node = 0);

} // namespace llmux::actors
