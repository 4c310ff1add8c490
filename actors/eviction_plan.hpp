#pragma once

// Evictions and wakes as plans: which engine steps, in which order, for each cell of the
// eviction matrix (README "Eviction"). Pure, table-tested; the model actor carries them out.

#include <cstdint>
#include <string>
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

/// The steps of one eviction or wake, as the engine actor receives them.
struct engine_plan {
  std::vector<engine_step> steps;
};

/// How far a plan got: every step, or up to the one that failed and why.
struct plan_outcome {
  bool ok = true;
  /// Steps that finished; on failure `steps[completed]` is the one that failed.
  std::uint64_t completed = 0;
  std::string error;
  /// GPU memory the engine held afterwards, per GPU in MiB, when measured (0: not).
  std::uint64_t gpu_memory_mib = 0;
};

/// The phases whose deadlines bound a plan's steps (engine.hpp, `engine_deadlines`).
enum class step_phase : std::uint8_t {
  sleep,      ///< vLLM sleep levels, NCCL suspend
  checkpoint, ///< cuda-checkpoint, CRIU dump and restore
  transfer,   ///< the object store
  wake,       ///< NCCL resume, vLLM's wake sequence
};

step_phase phase_of(engine_step step);

/// The distinct phases `steps` pass through, in order of first appearance.
std::vector<step_phase> phases_of(const std::vector<engine_step>& steps);

/// What an eviction of `steps` did with the weights (the sleep level it went through).
config::weight_strategy weights_of(const std::vector<engine_step>& steps);

/// Whether `steps` take an engine off the GPU (rather than bring one back).
bool evicts(const std::vector<engine_step>& steps);

/// Whether a failure of `step` leaves the engine without a usable process, so that a cold
/// start is the way back (download, restore, CUDA resume), rather than a failed wake.
bool restores_process(engine_step step);

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
