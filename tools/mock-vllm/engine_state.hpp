#pragma once

#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace llmux::tools::mock_vllm {

/// How the emulated GPU memory of one engine is laid out, in MiB.
struct memory_plan {
  double total_mib = 81920;   ///< the GPU's memory
  double utilization = 0.9;   ///< `--gpu-memory-utilization`: the share the engine takes
  double weights_mib = 16384; ///< model weights
  double context_mib = 512;   ///< CUDA context and graphs: survive every sleep level
  /// kvcached's elastic KV cache (`ENABLE_KVCACHED=true`): KV memory is mapped as requests need
  /// it, `kv_per_request_mib` each, up to the utilization's share, and unmapped when they end.
  bool elastic_kv = false;
  double kv_per_request_mib = 512;

  /// What the engine takes from the GPU's free memory when it starts: its utilization's share,
  /// or with an elastic KV cache only its weights and context.
  double startup_mib() const {
    return elastic_kv ? weights_mib + context_mib : utilization * total_mib;
  }
};

/// cuda-checkpoint's view of the process.
enum class cuda_state { running, locked, checkpointed };

/// cuda-checkpoint's `--action` values.
enum class cuda_action { lock, checkpoint, restore, unlock };

std::string_view to_string(cuda_state state);
std::optional<cuda_action> parse_cuda_action(std::string_view text);

/// What survives a CRIU checkpoint of the engine (CUDA comes back running).
struct engine_snapshot {
  std::vector<std::string> sleeping_tags;
  int sleep_level = 0;
  bool weights_offloaded = false;
  bool weights_valid = true;
  bool nccl_suspended = false;
};

/// The state of one emulated vLLM engine, with vLLM's sleep-mode rules (vllm-interface §1.3):
/// `/sleep` puts the `weights` and `kv_cache` tags to sleep (level 1 keeps a host copy of the
/// weights, level 2 discards them), `/wake_up` wakes all or some tags, and weights woken after a
/// level-2 sleep hold garbage until `reload_weights`. Pure: no clocks, no I/O.
class engine_state {
public:
  engine_state(memory_plan plan, bool sleep_mode_enabled);

  /// `/sleep?level=N` for N of 1 or 2; a second sleep while asleep changes nothing (as vLLM).
  void sleep(int level);

  /// `/wake_up?tags=...`; no tags wakes everything. Returns false, changing nothing, when the
  /// engine is awake or a tag is unknown or not asleep (vLLM then logs a warning and answers 200).
  bool wake(std::span<const std::string> tags);

  /// `collective_rpc reload_weights`: the weights are correct again.
  void reload_weights();

  /// True while any tag sleeps (`/is_sleeping`).
  bool is_sleeping() const {
    return !sleeping_tags_.empty();
  }

  /// The level of the current (or last) sleep; 0 before the first.
  int sleep_level() const {
    return sleep_level_;
  }

  /// False after a level-2 wake until `reload_weights`: answers come out as garbage.
  bool weights_valid() const {
    return weights_valid_;
  }

  /// Applies a cuda-checkpoint action; returns an error message for an invalid transition.
  std::optional<std::string> apply(cuda_action action);

  cuda_state cuda() const {
    return cuda_;
  }

  /// `collective_rpc suspend_nccl` / `resume_nccl` (the patched vLLM of tensor-parallel
  /// checkpointing): the workers' communicators are torn down or rebuilt.
  void set_nccl_suspended(bool suspended) {
    nccl_suspended_ = suspended;
  }

  bool nccl_suspended() const {
    return nccl_suspended_;
  }

  /// True when a generation request can run now: every tag awake, CUDA running, NCCL up.
  bool can_serve() const {
    return !is_sleeping() && cuda_ == cuda_state::running && !nccl_suspended_;
  }

  /// GPU memory the engine holds now.
  double gpu_used_mib() const;

  /// Requests being generated: with an elastic KV cache they decide its size.
  void set_running(std::uint64_t requests) {
    running_ = requests;
  }

  /// Host memory holding engine state now: offloaded weights, checkpointed GPU memory.
  double host_used_mib() const;

  /// The `sleep_state` label vLLM's `vllm:engine_sleep_state` gauge sets to 1:
  /// `awake`, `weights_offloaded` or `discard_all`.
  std::string_view sleep_state_label() const;

  engine_snapshot save() const;
  void restore(const engine_snapshot& snapshot);

  const memory_plan& plan() const {
    return plan_;
  }

private:
  double awake_gpu_mib() const;

  memory_plan plan_;
  bool sleep_mode_enabled_;
  std::set<std::string, std::less<>> sleeping_tags_;
  int sleep_level_ = 0;
  bool weights_offloaded_ = false;
  bool weights_valid_ = true;
  cuda_state cuda_ = cuda_state::running;
  double checkpointed_gpu_mib_ = 0;
  bool nccl_suspended_ = false;
  std::uint64_t running_ = 0;
};

} // namespace llmux::tools::mock_vllm
