#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "config/parsed.hpp"

namespace llmux::config {

/// What happens to a model's weights when it is evicted from the GPU.
enum class weight_strategy {
  retain,  ///< weights stay in GPU memory
  offload, ///< vLLM sleep level 1: weights move to host memory
  discard, ///< vLLM sleep level 2: weights are dropped and reloaded on wake
};

/// What happens to a model's engine process when it is evicted from the GPU.
enum class process_strategy {
  keep_running, ///< the process keeps running (and keeps its CUDA context)
  cuda_suspend, ///< cuda-checkpoint moves the process's GPU state to host memory
  checkpoint,   ///< CRIU dumps the whole process to disk and ends it
  stop,         ///< the process is stopped; waking means a cold start
};

/// The two-axis eviction policy of one model (spec §1.4).
struct eviction_policy {
  weight_strategy weights = weight_strategy::retain;
  process_strategy process = process_strategy::stop;

  friend bool operator==(const eviction_policy&, const eviction_policy&) = default;

  /// True when eviction goes through vLLM's `/sleep` endpoint.
  bool needs_vllm_sleep() const {
    return weights != weight_strategy::retain;
  }

  /// True when eviction runs the cuda-checkpoint tool.
  bool needs_cuda_checkpoint() const {
    return process == process_strategy::cuda_suspend || process == process_strategy::checkpoint;
  }

  /// True when eviction dumps the process with CRIU.
  bool needs_criu() const {
    return process == process_strategy::checkpoint;
  }

  /// True when eviction leaves the model's GPU memory in place: nothing is freed.
  bool frees_nothing() const {
    return weights == weight_strategy::retain && process == process_strategy::keep_running;
  }
};

/// The snake_case name used in configuration files, e.g. `offload`.
std::string_view to_string(weight_strategy value);

/// The snake_case name used in configuration files, e.g. `keep_running`.
std::string_view to_string(process_strategy value);

/// Parses a snake_case weight strategy name.
std::optional<weight_strategy> parse_weight_strategy(std::string_view text);

/// Parses a snake_case process strategy name.
std::optional<process_strategy> parse_process_strategy(std::string_view text);

/// The compact `weights+process` form, e.g. `offload+keep_running`; `parse_eviction_spec` reads it.
std::string to_spec(const eviction_policy& policy);

/// The CamelCase form the reference shows in API answers, e.g. `Offload+KeepRunning`.
std::string display_name(const eviction_policy& policy);

/// Parses the compact `weights+process` form used on the command line and in configs.
parsed<eviction_policy> parse_eviction_spec(std::string_view spec);

/// Maps the reference's legacy numeric eviction levels 1–5 to their two-axis meaning:
/// 1 offload+keep_running, 2 discard+keep_running, 3 retain+cuda_suspend, 4 discard+checkpoint,
/// 5 retain+stop. Other numbers yield nothing.
std::optional<eviction_policy> eviction_from_level(std::int64_t level);

} // namespace llmux::config
