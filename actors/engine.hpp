#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include <caf/fwd.hpp>
#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include "actors/eviction_plan.hpp"
#include "actors/messages.hpp"
#include "config/config.hpp"

namespace llmux::actors {

/// The engine protocol: the seam between lifecycle logic and the outside world. `vllm_engine`
/// drives a real process; a simulated engine answers the same messages after simulated
/// durations. Nothing about processes leaks through it.
///
/// ```
/// (start_atom)               -> outcome   cold start; ok once the engine is healthy
/// (run_atom, engine_plan)    -> plan_outcome  the steps of an eviction or a wake
///                                         (eviction_plan.hpp) in order, each phase within its
///                                         deadline, up to the first that fails; `stop` and
///                                         `cold_start` are not run here (stop_atom, start_atom)
/// (stop_atom)                -> outcome   end the engine; ok when it is gone
/// (detach_atom)              -> outcome   forget the engine and leave it running
/// (probe_atom)               -> outcome   one deterministic inference (warmup, checks)
/// (tick_atom)                             self: health polling while starting, then liveness
///                                         probes and the exit watch while it runs
/// to the owner: (down_atom, string reason) when the engine ends by itself
/// ```
using engine_actor
  = caf::typed_actor<caf::replies_to<start_atom>::with<outcome>,
                     caf::replies_to<run_atom, engine_plan>::with<plan_outcome>,
                     caf::replies_to<stop_atom>::with<outcome>,
                     caf::replies_to<detach_atom>::with<outcome>,
                     caf::replies_to<probe_atom>::with<outcome>, caf::reacts_to<tick_atom>>;

/// The one time budget: each engine operation ends within its deadline, attempts and pauses
/// included (a control call that timed out is not repeated: a hung engine would not answer
/// again). The model actor's and the scheduler's bounds are derived from these, each with a
/// margin, so an inner deadline always fires before an outer one.
struct engine_deadlines {
  using duration = std::chrono::milliseconds;

  /// A cold start until `/health` answers (`startup_timeout_secs`).
  std::chrono::seconds start{1800};
  /// `/sleep`, every attempt (`timeouts.sleep_timeout_secs`).
  std::chrono::seconds sleep{120};
  /// `/wake_up`, and for level 2 `reload_weights` and `reset_prefix_cache`, every attempt
  /// (`timeouts.wake_timeout_secs`).
  std::chrono::seconds wake{120};
  /// One `/health` probe (`timeouts.health_timeout_ms`): an operation may wait behind a
  /// liveness probe, and a start's last poll may end past its deadline.
  duration health{5000};
  /// A CRIU dump or restore, or a cuda-checkpoint suspend or resume
  /// (`timeouts.checkpoint_timeout_secs`).
  std::chrono::seconds checkpoint{config::default_checkpoint_timeout_secs};
  /// Images to or from the object store (`timeouts.transfer_timeout_secs`).
  std::chrono::seconds transfer{config::default_transfer_timeout_secs};
  /// SIGTERM, a grace period, then SIGKILL of the whole process group.
  static constexpr std::chrono::seconds stop{15};
  /// One deterministic inference (warmup).
  static constexpr std::chrono::seconds probe{30};
  /// What each enclosing layer adds for its own messaging.
  static constexpr std::chrono::seconds margin{5};

  static engine_deadlines from(const config::config& cfg) {
    return {std::chrono::seconds(cfg.startup_timeout_secs),
            std::chrono::seconds(cfg.timeouts.sleep_timeout_secs),
            std::chrono::seconds(cfg.timeouts.wake_timeout_secs),
            duration(cfg.timeouts.health_timeout_ms),
            std::chrono::seconds(cfg.timeouts.checkpoint_timeout_secs),
            std::chrono::seconds(cfg.timeouts.transfer_timeout_secs)};
  }

  /// The deadline a phase of a plan has, all its steps together.
  duration phase(step_phase of) const {
    switch (of) {
      case step_phase::sleep:
        return sleep;
      case step_phase::checkpoint:
        return checkpoint;
      case step_phase::transfer:
        return transfer;
      case step_phase::wake:
        return wake;
    }
    return wake;
  }

  /// A plan's deadline: those of the phases it passes through.
  duration plan(const engine_plan& steps) const {
    duration total{0};
    for (auto of : phases_of(steps.steps)) {
      total += phase(of);
    }
    return total;
  }

  // How long the model actor waits for the engine's answer to each operation: the operation's
  // deadline, a probe it may queue behind, and a margin (a failed start also stops the engine).
  duration start_reply() const {
    return start + health + stop + margin;
  }
  /// How long the model actor waits for a plan: its deadline, a probe it may queue behind,
  /// and a margin.
  duration run_reply(const engine_plan& steps) const {
    return plan(steps) + health + margin;
  }
  duration stop_reply() const {
    return stop + health + margin;
  }
  duration probe_reply() const {
    return probe + health + margin;
  }

  /// The model actor's `activate`: a start, or the longest wake (images downloaded, restored,
  /// woken), then stopping the engine if that failed and, after a failed restore, a start.
  duration activate() const {
    return start_reply() + transfer + checkpoint + wake + health + stop_reply() + 2 * margin;
  }
  /// The model actor's `evict`: the longest eviction (sleep, CRIU dump), then stopping the
  /// engine if that failed.
  duration evict() const {
    return sleep + checkpoint + health + stop_reply() + 2 * margin;
  }
  /// The model actor's `warmup`: activate, one inference, evict.
  duration warmup() const {
    return activate() + probe_reply() + evict() + margin;
  }
};

/// The body of the reference's deterministic chat request (the same question, temperature 0,
/// seed 42, 10 tokens): the warmup inference, and the answer `--validate` compares.
std::string warmup_request_body(const config::model_config& model);

/// Spawns the engine actor for `model` on a thread of its own (its HTTP calls and process
/// handling block). `owner` hears `(down_atom, reason)` when the process dies unexpectedly or
/// is killed because it stopped answering `/health` (`timeouts`). Models that evict with
/// cuda_suspend or checkpoint use the tools and images of `checkpoint`. With
/// `measure_gpu_memory` the answers to starts and plans carry the GPU memory the engine holds
/// afterwards (nvidia-smi).
engine_actor spawn_vllm_engine(caf::actor_system& system, const config::model_config& model,
                               const std::string& vllm_command, const engine_deadlines& deadlines,
                               const config::timeouts_config& timeouts,
                               const std::optional<config::checkpoint_config>& checkpoint,
                               bool measure_gpu_memory, caf::actor owner);

} // namespace llmux::actors
