#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>

#include <caf/fwd.hpp>
#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include "actors/engine.hpp"
#include "actors/messages.hpp"
#include "config/config.hpp"

namespace llmux::actors {

/// The model protocol: one actor per model owns its lifecycle (lifecycle.hpp) and its engine.
///
/// ```
/// (activate_atom)            -> outcome  put the model on the GPU: cold start or wake;
///                                        ok only once the engine is healthy and awake
/// (evict_atom, eviction_policy) -> outcome  apply that eviction (the configured one, or the
///                                        admin API's override); a failed step escalates to
///                                        stopping the engine, so the GPU is always freed
/// (stop_atom)                -> outcome  stop the engine (shutdown)
/// (warmup_atom)              -> outcome  before serving: start, run one inference, evict
/// (detach_atom)              -> outcome  leave the engine running and forget it (it outlives
///                                        llmux: `--restore-detached`)
/// (down_atom, string reason)             from the engine: it ended by itself
/// to the scheduler: (down_atom, string model, string reason) when the engine died (or was
///                    killed as hung) outside a start or wake
/// ```
using model_actor = caf::typed_actor<
  caf::replies_to<activate_atom>::with<outcome>,
  caf::replies_to<evict_atom, config::eviction_policy>::with<outcome>,
  caf::replies_to<stop_atom>::with<outcome>, caf::replies_to<warmup_atom>::with<outcome>,
  caf::replies_to<detach_atom>::with<outcome>, caf::reacts_to<down_atom, std::string>>;

/// Makes the engine actor for one model; `owner` (the model actor) hears `down_atom`.
using engine_factory = std::function<engine_actor(
  caf::actor_system& system, const config::model_config& model, caf::actor owner)>;

/// Engines that run `vllm_command` (`vllm_engine`), watched as `timeouts` say, with the tools
/// and images of `checkpoint` for the models that evict through them; with
/// `measure_gpu_memory` they report the GPU memory they hold after each start, wake and sleep.
engine_factory vllm_engines(std::string vllm_command, const engine_deadlines& deadlines,
                            const config::timeouts_config& timeouts,
                            std::optional<config::checkpoint_config> checkpoint = std::nullopt,
                            bool measure_gpu_memory = false);

/// Spawns the model actor for `model` with an engine from `make_engine`; `scheduler` hears
/// when the engine of the active model dies. With `object_store`, checkpoint images also go to
/// (and come from) the object store.
model_actor spawn_model(caf::actor_system& system, const config::model_config& model,
                        const engine_deadlines& deadlines, engine_factory make_engine,
                        caf::actor scheduler, bool object_store = false);

} // namespace llmux::actors
