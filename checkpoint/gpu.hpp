#pragma once

// What nvidia-smi says about the GPU: memory in use (the CLI tools' readings) and the processes
// holding memory (the stray-process sweep before a wake).

#include <chrono>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <sys/types.h>
#include <vector>

namespace llmux::checkpoint {

/// One process with memory on a GPU.
struct gpu_process {
  pid_t pid = 0;
  std::uint64_t used_mib = 0;

  friend bool operator==(const gpu_process&, const gpu_process&) = default;
};

/// The rows of `nvidia-smi --query-compute-apps=pid,used_memory --format=csv,noheader,nounits`;
/// rows it cannot read (`[N/A]`, blank) are skipped.
std::vector<gpu_process> parse_compute_apps(std::string_view csv);

/// The processes of `on_gpu` that are not in `known`.
std::vector<gpu_process> strays(const std::vector<gpu_process>& on_gpu,
                                const std::set<pid_t>& known);

/// The processes holding GPU memory, or nothing when `nvidia_smi` cannot tell (not installed,
/// no driver).
std::optional<std::vector<gpu_process>> gpu_processes(const std::string& nvidia_smi,
                                                      std::chrono::milliseconds timeout);

/// GPU memory in use, all GPUs together, in MiB; nothing when `nvidia_smi` cannot tell.
std::optional<std::uint64_t> gpu_memory_used_mib(const std::string& nvidia_smi,
                                                 std::chrono::milliseconds timeout);

/// The memory of the smallest GPU, in MiB; nothing when `nvidia_smi` cannot tell.
std::optional<std::uint64_t> gpu_memory_total_mib(const std::string& nvidia_smi,
                                                  std::chrono::milliseconds timeout);

/// The command line of `pid`, arguments separated by spaces (for a log line); empty when gone.
std::string command_line_of(pid_t pid);

} // namespace llmux::checkpoint
