#pragma once

// Running the checkpoint tools (cuda-checkpoint, criu): short-lived processes whose exit status
// and output decide a step.

#include <chrono>
#include <string>
#include <vector>

namespace llmux::checkpoint {

/// How one tool run ended.
struct tool_result {
  /// The exit status (128 + N after signal N); -1 when the tool could not be started.
  int status = -1;
  bool timed_out = false;
  std::string out;
  std::string err;

  bool ok() const {
    return status == 0 && !timed_out;
  }
  /// What went wrong, for an error message: the last lines of standard error, else of the
  /// output, else the status.
  std::string failure() const;
};

/// Runs `argv` (the first element is looked up in PATH) with standard input from /dev/null,
/// capturing its output; after `timeout` it is killed (its whole process group).
tool_result run_tool(const std::vector<std::string>& argv, std::chrono::milliseconds timeout);

/// This process's environment (`NAME=value`) with `overrides` set, a later one of a name
/// replacing an earlier one: what a child is started with (built before a fork, since a child of a
/// threaded process may not allocate before its exec).
std::vector<std::string> child_environment(const std::vector<std::string>& overrides);

/// Pointers to `strings` followed by a null pointer, for execve's argv and envp.
std::vector<char*> exec_pointers(std::vector<std::string>& strings);

/// For a child between fork and exec: marks every descriptor above standard error
/// close-on-exec, so the program run inherits none of llmux's sockets (Asio opens them without
/// close-on-exec). Async-signal-safe.
void keep_only_standard_descriptors();

/// `argv` as the privileged tools must run: unchanged for root, else behind `sudo -n` (never a
/// password prompt: a sudo that would ask fails at once instead of hanging the step).
std::vector<std::string> privileged(std::vector<std::string> argv, bool root);

/// `privileged` for this process's effective user.
std::vector<std::string> privileged(std::vector<std::string> argv);

} // namespace llmux::checkpoint
