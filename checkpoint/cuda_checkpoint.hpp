#pragma once

// The cuda-checkpoint driver (cuda_suspend eviction): find an engine's CUDA processes, read
// their state, and move them between the GPU and host memory, all of them in parallel.

#include <chrono>
#include <optional>
#include <string>
#include <sys/types.h>
#include <vector>

namespace llmux::checkpoint {

/// `root` and all its descendants, parents before children (read from /proc); empty when `root`
/// is gone.
std::vector<pid_t> process_tree(pid_t root);

/// One process's CUDA state as `cuda-checkpoint --get-state` reports it: `running`, `locked`,
/// `checkpointed`.
struct cuda_process {
  pid_t pid = 0;
  std::string state;

  friend bool operator==(const cuda_process&, const cuda_process&) = default;
};

/// Which way a toggle goes.
enum class cuda_direction { suspend, resume };

/// What a toggle in `direction` does to `processes`: the processes to toggle (those in the
/// direction's source state); those already where the direction leads are left alone. A
/// process in any other state (`locked`: a checkpoint half done) is an error, since toggling
/// it would move it the wrong way.
struct toggle_plan {
  std::vector<pid_t> toggle;
  std::vector<pid_t> already_done;
  std::optional<std::string> error;
};

toggle_plan plan_toggle(const std::vector<cuda_process>& processes, cuda_direction direction);

/// The processes of `root`'s tree that have CUDA state, each with it: every process of the tree
/// is asked, in parallel (a process without CUDA state makes the tool fail; it is skipped).
std::vector<cuda_process> cuda_processes(const std::string& tool, pid_t root,
                                         std::chrono::milliseconds timeout);

/// Suspends or resumes every CUDA process of `root`'s tree, in parallel, reading each state
/// first. Nothing on success, else what failed (naming the processes).
std::optional<std::string> toggle_tree(const std::string& tool, pid_t root,
                                       cuda_direction direction, std::chrono::milliseconds timeout);

} // namespace llmux::checkpoint
