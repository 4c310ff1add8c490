#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace llmux::tools::mock_vllm {

/// What one running mock engine publishes about its emulated GPU use: the contract between
/// mock-vllm and the fake nvidia-smi, cuda-checkpoint and criu.
struct gpu_process {
  int pid = 0;
  std::uint16_t port = 0;
  std::string model;
  double gpu_used_mib = 0;
  double gpu_total_mib = 0;
  double host_used_mib = 0;
  std::string cuda_state = "running";
};

/// True while `pid` runs; a zombie (ended, not yet reaped by its parent) counts as gone.
bool is_running(int pid);

/// The registry directory: `$LLMUX_MOCK_GPU_DIR`, else `/tmp/llmux-mock-gpu`.
std::string registry_dir_from_environment();

/// Writes (atomically) `<dir>/<pid>.json`.
void publish(const std::string& dir, const gpu_process& process);

/// Removes `<dir>/<pid>.json`.
void withdraw(const std::string& dir, int pid);

/// Every published process that is still alive; entries of dead processes are removed, as the
/// driver frees a dead process's GPU memory.
std::vector<gpu_process> live_processes(const std::string& dir);

/// The live published process `pid`, if any.
std::optional<gpu_process> find_process(const std::string& dir, int pid);

} // namespace llmux::tools::mock_vllm
