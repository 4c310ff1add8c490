#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <sys/types.h>
#include <thread>
#include <vector>

namespace llmux::actors {

/// How to start one engine process.
struct process_spec {
  std::string executable;
  std::vector<std::string> arguments;
  /// Added to (and overriding) the daemon's environment: `KEY=value`.
  std::vector<std::string> environment;
  /// Prefix of the engine's output lines in the `engine` log.
  std::string log_name;
  /// Where standard output and error go instead of a pipe: files opened with O_APPEND (what
  /// CRIU can dump and restore), followed into the log. Empty: a pipe.
  std::string stdout_file;
  std::string stderr_file;
};

/// The end of a process, as a reader that follows its output files learns it (process.cpp).
struct output_end;

/// A running engine process in its own process group. Its standard output and error are read
/// by a thread of its own and logged line by line at debug level (ANSI colours stripped). The
/// process gets SIGKILL if the daemon dies (parent-death signal), and its whole group is ended
/// when the object goes away.
class engine_process {
public:
  /// Starts the process; on failure returns null and sets `error` (e.g. the executable was not
  /// found).
  static std::unique_ptr<engine_process> spawn(const process_spec& spec, std::string& error);

  /// Takes charge of `pid`, a process llmux did not start (CRIU restored it, detached): it is
  /// watched and ended like a child, though its exit status cannot be known. Its output is
  /// followed from the files of `spec` (from their current end).
  static std::unique_ptr<engine_process> adopt(pid_t pid, const process_spec& spec);

  engine_process(const engine_process&) = delete;
  engine_process& operator=(const engine_process&) = delete;
  ~engine_process();

  pid_t pid() const {
    return pid_;
  }

  /// The exit status once the process has ended (128 + N after signal N; -1 for an adopted
  /// process, whose status goes to its own parent); never blocks.
  std::optional<int> exit_status();

  /// Sends SIGTERM to the group, waits up to `grace`, then SIGKILLs the group and reaps it.
  void terminate(std::chrono::milliseconds grace);

  /// Lets the process run on when this object goes away (`--restore-detached`).
  void release() {
    released_ = true;
  }

private:
  engine_process(pid_t pid, bool child);
  /// Waits until the process has ended or `deadline` has passed.
  void wait_for_exit(std::chrono::steady_clock::time_point deadline);

  pid_t pid_;
  /// Started by llmux (waitable), not adopted.
  bool child_;
  bool released_ = false;
  std::optional<int> exit_status_;
  /// Tells a reader that follows output files that the process is gone.
  std::shared_ptr<output_end> ended_;
  std::thread output_reader_;
};

/// The pids of every engine process llmux runs now, spawned or adopted (the roots of their
/// process trees): what a sweep for stray GPU processes knows as llmux's own.
std::vector<pid_t> managed_engines();

/// `line` without ANSI escape sequences (ESC up to and including the next letter).
std::string strip_ansi(std::string_view line);

} // namespace llmux::actors
