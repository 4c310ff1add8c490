#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <sys/types.h>
#include <vector>

namespace llmux::testing_support {

/// A real child process for end-to-end tests: started in its own process group with standard
/// output and error captured, and killed (the whole group) when the object goes away, so no
/// test leaves a process behind.
class child_process {
public:
  /// Starts `argv` with the environment plus `environment` (`KEY=value`, overriding).
  child_process(const std::vector<std::string>& argv, const std::vector<std::string>& environment);
  child_process(const child_process&) = delete;
  child_process& operator=(const child_process&) = delete;
  ~child_process();

  /// The first output line (so far or within `timeout`) that starts with `prefix`.
  std::optional<std::string> wait_for_line(std::string_view prefix,
                                           std::chrono::milliseconds timeout);

  /// The first output line (so far or within `timeout`) that contains `fragment`.
  std::optional<std::string> wait_for_text(std::string_view fragment,
                                           std::chrono::milliseconds timeout);

  /// The exit status once the process ends within `timeout` (128 + N after signal N).
  std::optional<int> wait_exit(std::chrono::milliseconds timeout);

  /// Everything the process wrote so far.
  const std::string& output() const {
    return output_;
  }

  pid_t pid() const {
    return pid_;
  }

private:
  template <class Match>
  std::optional<std::string> wait_for(Match matches, std::chrono::milliseconds timeout);

  // Reads what is available within `timeout`; false at end of output.
  bool read_some(std::chrono::milliseconds timeout);

  pid_t pid_ = -1;
  int output_fd_ = -1;
  std::string output_;
  std::optional<int> exit_status_;
};

} // namespace llmux::testing_support
