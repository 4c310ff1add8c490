// A fake cuda-checkpoint with the real tool's command line, acting on a mock-vllm engine's
// emulated GPU: checkpointing moves its GPU memory to host memory and stops it from running
// work until it is restored.

#include <cstdio>
#include <string>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "http/client.hpp"
#include "tools/mock-vllm/gpu_registry.hpp"

namespace {

using namespace llmux::tools;
using llmux::http::http_request;
using llmux::http::url_encode;

constexpr auto call_timeout = std::chrono::minutes(10);

// Runs one action on the engine; prints the tool's error and returns false on failure.
bool act(int pid, std::uint16_t port, std::string_view action) {
  auto result
    = http_request("POST", fmt::format("http://127.0.0.1:{}/mock/cuda?action={}", port, action), "",
                   {}, call_timeout);
  if (!result.complete || result.status != 200) {
    fmt::print(stderr, "Error: could not {} process {}: {}\n", action, pid,
               result.complete ? result.body : result.failure);
    return false;
  }
  return true;
}

} // namespace

int main(int argc, char** argv) {
  CLI::App app{"cuda-checkpoint (fake, for mock-vllm engines): checkpoint and restore the CUDA "
               "state of a process"};
  app.name("cuda-checkpoint");
  int pid = 0;
  bool get_state = false;
  bool toggle = false;
  bool get_restore_tid = false;
  std::string action;
  long timeout_ms = 0;
  app.add_option("--pid,-p", pid, "Process to act on")->required();
  app.add_flag("--get-state", get_state, "Print the CUDA state: running, locked or checkpointed");
  app.add_flag("--toggle", toggle, "running -> checkpointed, or checkpointed -> running");
  app.add_option("--action", action, "lock, checkpoint, restore or unlock")
    ->check(CLI::IsMember({"lock", "checkpoint", "restore", "unlock"}));
  app.add_option("--timeout,-t", timeout_ms, "Lock timeout in milliseconds (accepted, unused)");
  app.add_flag("--get-restore-tid", get_restore_tid, "Print the CUDA restore thread id");
  CLI11_PARSE(app, argc, argv);

  auto process = mock_vllm::find_process(mock_vllm::registry_dir_from_environment(), pid);
  if (!process) {
    fmt::print(stderr,
               "Could not get process state for pid {}: OS call failed or operation not "
               "supported on this OS\n",
               pid);
    return 1;
  }
  if (get_state) {
    fmt::print("{}\n", process->cuda_state);
    return 0;
  }
  if (get_restore_tid) {
    fmt::print("{}\n", pid);
    return 0;
  }
  if (!action.empty()) {
    return act(pid, process->port, action) ? 0 : 1;
  }
  if (toggle) {
    if (process->cuda_state == "running") {
      return act(pid, process->port, "lock") && act(pid, process->port, "checkpoint") ? 0 : 1;
    }
    if (process->cuda_state == "checkpointed") {
      return act(pid, process->port, "restore") && act(pid, process->port, "unlock") ? 0 : 1;
    }
    fmt::print(stderr, "Error: cannot toggle process {} in state {}\n", pid, process->cuda_state);
    return 1;
  }
  fmt::print(stderr, "one of --get-state, --toggle, --action or --get-restore-tid is required\n");
  return 2;
}
