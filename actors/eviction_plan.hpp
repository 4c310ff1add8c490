#pragma once

// Evictions and wakes as plans: which engine steps, in which order, for each cell of the
// eviction matrix (README "Eviction"). Pure, table-tested; the model actor carries them out.

#include <cstdint>
#include <string_view>
#include <vector>

#include "config/eviction.hpp"

namespace llmux::actors {

/// One step of an eviction or a wake.
enum class engine_step : std::uint8_t {
  vllm_sleep_1,       ///< `/sleep?level=1`: weights to host memory
  vllm_sleep_2,       ///< `/sleep?level=2`: weights dropped
  suspend_nccl,       ///< `collective_rpc suspend_nccl` (tensor parallel only)
  cuda_suspend,       ///< `cuda-checkpoint --toggle` on every engine CUDA process
  criu_dump,          ///< CRIU dump of the process tree; the process ends
  upload_images,      ///< the dump's images to the object store
  stop,               ///< end the process group
  cold_start,         ///< start the engine anew
  download_images,    ///< the images from the object store
  criu_restore,       ///< CRIU restore, then a health check
  cuda_resume,        ///< `cuda-checkpoint --toggle` back
  resume_nccl,        ///< `collective_rpc resume_nccl` (tensor parallel only)
  vllm_wake_up,       ///< `/wake_up`
  reload_weights,     ///< `collective_rpc reload_weights` (after level 2)
  reset_prefix_cache, ///< `/reset_prefix_cache` (after level 2)
};

std::string_view to_string(engine_step step);

/// What besides the eviction decides a plan.
struct plan_facts {
  /// The engine's tensor-parallel size: above 1, NCCL is suspended around CUDA state moves.
  std::uint64_t tp_size = 1;
  /// Checkpoint images go to (and come from) the object store.
  bool object_store = false;
};

/// The steps that take an active engine off the GPU with `eviction`.
std::vector<engine_step> eviction_plan(const config::eviction_policy& eviction,
                                       const plan_facts& facts);

/// The steps that bring back an engine evicted with `evicted_with` (the eviction it rests in,
/// not the one configured now). After cuda-checkpoint's resume a vLLM that also slept is
/// woken too (the reference's v0.7.13 left it asleep).
std::vector<engine_step> wake_plan(const config::eviction_policy& evicted_with,
                                   const plan_facts& facts);

} // namespace llmux::actors
