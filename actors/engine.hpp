#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include <caf/fwd.hpp>
#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include "actors/messages.hpp"
#include "config/config.hpp"

namespace llmux::actors {

/// The engine protocol: the seam between lifecycle logic and the outside world. `vllm_engine`
/// drives a real process; a simulated engine answers the same messages after simulated
/// durations. Nothing about processes leaks through it.
///
/// ```
/// (start_atom)               -> outcome   cold start; ok once the engine is healthy
/// (sleep_atom, int32 level)  -> outcome   vLLM sleep level 1 (offload) or 2 (discard)
/// (wake_atom, int32 level)   -> outcome   undo a sleep of `level`: wake_up, and for level 2
///                                         reload_weights and reset_prefix_cache
/// (stop_atom)                -> outcome   end the engine; ok when it is gone
/// (probe_atom)               -> outcome   one deterministic inference (warmup, checks)
/// (tick_atom)                             self: health polling while starting, exit watch
/// to the owner: (down_atom, string reason) when the engine ends by itself
/// ```
using engine_actor
  = caf::typed_actor<caf::replies_to<start_atom>::with<outcome>,
                     caf::replies_to<sleep_atom, std::int32_t>::with<outcome>,
                     caf::replies_to<wake_atom, std::int32_t>::with<outcome>,
                     caf::replies_to<stop_atom>::with<outcome>,
                     caf::replies_to<probe_atom>::with<outcome>, caf::reacts_to<tick_atom>>;

/// Spawns the engine actor for `model` on a thread of its own (its HTTP calls and process
/// handling block). `owner` hears `(down_atom, reason)` when the process dies unexpectedly.
engine_actor spawn_vllm_engine(caf::actor_system& system, const config::model_config& model,
                               const std::string& vllm_command,
                               std::chrono::seconds startup_timeout, caf::actor owner);

} // namespace llmux::actors
