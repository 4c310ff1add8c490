#include "checkpoint/tool.hpp"

#include <algorithm>
#include <array>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <linux/close_range.h>
#include <optional>
#include <poll.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

#include <fmt/format.h>

namespace llmux::checkpoint {

namespace {

constexpr std::size_t failure_excerpt = 600;

int decode_status(int status) {
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

std::string last_lines(const std::string& text) {
  auto end = text.find_last_not_of(" \n\r\t");
  if (end == std::string::npos) {
    return {};
  }
  auto trimmed = text.substr(0, end + 1);
  return trimmed.size() <= failure_excerpt
           ? trimmed
           : "..." + trimmed.substr(trimmed.size() - failure_excerpt);
}

// Runs in the forked child (of a threaded process): only async-signal-safe calls, everything
// it needs prepared before the fork.
[[noreturn]] void exec_tool(char* const* argv, const std::string& cannot_run, int out_fd,
                            int err_fd) {
  ::setpgid(0, 0);
  int null = ::open("/dev/null", O_RDONLY);
  ::dup2(null, 0);
  ::dup2(out_fd, 1);
  ::dup2(err_fd, 2);
  keep_only_standard_descriptors();
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  ::execvp(argv[0], argv);
  const char* why = std::strerror(errno);
  ssize_t ignored = ::write(2, cannot_run.data(), cannot_run.size());
  ignored = ::write(2, why, std::strlen(why));
  ignored = ::write(2, "\n", 1);
  (void)ignored;
  std::_Exit(127);
}

// Ends a tool that ran past its time: SIGKILL to its group, then reaped. A tool behind sudo runs
// as root and cannot be signalled by an unprivileged llmux: then it is left to finish on its
// own, reaped by a thread of its own, and the step does not wait for it.
int kill_and_reap(pid_t pid) {
  ::kill(-pid, SIGKILL);
  for (int waited_ms = 0; waited_ms < 2000; waited_ms += 10) {
    int status = 0;
    if (::waitpid(pid, &status, WNOHANG) == pid) {
      return decode_status(status);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  std::thread([pid] {
    int status = 0;
    ::waitpid(pid, &status, 0);
  }).detach();
  return 128 + SIGKILL;
}

} // namespace

std::string tool_result::failure() const {
  if (timed_out) {
    return "timed out";
  }
  if (auto text = last_lines(err); !text.empty()) {
    return text;
  }
  if (auto text = last_lines(out); !text.empty()) {
    return text;
  }
  return fmt::format("exit status {}", status);
}

tool_result run_tool(const std::vector<std::string>& argv, std::chrono::milliseconds timeout) {
  tool_result result;
  if (argv.empty()) {
    result.err = "no command";
    return result;
  }
  int out[2];
  int err[2];
  if (::pipe2(out, O_CLOEXEC) != 0) {
    result.err = fmt::format("cannot create a pipe: {}", std::strerror(errno));
    return result;
  }
  if (::pipe2(err, O_CLOEXEC) != 0) {
    result.err = fmt::format("cannot create a pipe: {}", std::strerror(errno));
    ::close(out[0]);
    ::close(out[1]);
    return result;
  }
  std::vector<char*> args;
  for (const auto& argument : argv) {
    args.push_back(const_cast<char*>(argument.c_str()));
  }
  args.push_back(nullptr);
  auto cannot_run = fmt::format("cannot run '{}': ", argv.front());
  pid_t pid = ::fork();
  if (pid == 0) {
    exec_tool(args.data(), cannot_run, out[1], err[1]);
  }
  ::close(out[1]);
  ::close(err[1]);
  if (pid < 0) {
    result.err = fmt::format("fork failed: {}", std::strerror(errno));
    ::close(out[0]);
    ::close(err[0]);
    return result;
  }
  ::setpgid(pid, pid);
  auto deadline = std::chrono::steady_clock::now() + timeout;
  // The tool's output, and its end: a pidfd is readable once the tool has exited, so the wait
  // ends then (polling for the exit cost up to 10 ms per run, and a switch runs tools several
  // times). Where the kernel has no pidfds (-1), poll skips it and the wait polls every 10 ms.
  int exit_fd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  std::array<pollfd, 3> fds{{{out[0], POLLIN, 0}, {err[0], POLLIN, 0}, {exit_fd, POLLIN, 0}}};
  std::array<std::string*, 2> sinks{&result.out, &result.err};
  std::optional<int> exited;
  char buffer[4096];
  auto drain = [&](int wait_ms) {
    if (::poll(fds.data(), fds.size(), wait_ms) <= 0) {
      return false;
    }
    for (std::size_t i = 0; i < sinks.size(); ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) {
        continue;
      }
      auto got = ::read(fds[i].fd, buffer, sizeof buffer);
      if (got > 0) {
        sinks[i]->append(buffer, static_cast<std::size_t>(got));
      } else if (got == 0 || errno != EINTR) {
        ::close(fds[i].fd);
        fds[i].fd = -1;
      }
    }
    return true;
  };
  auto pipes_open = [&] { return fds[0].fd >= 0 || fds[1].fd >= 0; };
  // Until the tool has exited and said everything; a descendant that keeps the pipes open (a
  // restored engine, say) does not hold the step up once the tool itself is gone.
  while (!exited || pipes_open()) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      result.timed_out = true;
      break;
    }
    if (exited) {
      if (!drain(0)) {
        break;
      }
      continue;
    }
    if (pipes_open() || fds[2].fd >= 0) {
      drain(static_cast<int>(std::min<long>(left.count(), 100)));
    } else {
      std::this_thread::sleep_for(std::min(left, std::chrono::milliseconds(10)));
    }
    int status = 0;
    if (::waitpid(pid, &status, WNOHANG) == pid) {
      exited = decode_status(status);
      if (fds[2].fd >= 0) {
        ::close(fds[2].fd); // readable from now on: no more use as a wake-up
        fds[2].fd = -1;
      }
    }
  }
  for (auto& fd : fds) {
    if (fd.fd >= 0) {
      ::close(fd.fd);
    }
  }
  if (!exited) {
    exited = kill_and_reap(pid);
  }
  result.status = *exited;
  return result;
}

std::vector<std::string> child_environment(const std::vector<std::string>& overrides) {
  std::vector<std::string> environment;
  for (char** entry = environ; *entry != nullptr; ++entry) {
    environment.emplace_back(*entry);
  }
  // Each override replaces the variable of its name (a later override an earlier one).
  for (const auto& variable : overrides) {
    auto name = std::string_view(variable).substr(0, variable.find('=') + 1);
    std::erase_if(environment, [name](const std::string& set) { return set.starts_with(name); });
    environment.push_back(variable);
  }
  return environment;
}

std::vector<char*> exec_pointers(std::vector<std::string>& strings) {
  std::vector<char*> pointers;
  for (auto& text : strings) {
    pointers.push_back(text.data());
  }
  pointers.push_back(nullptr);
  return pointers;
}

void keep_only_standard_descriptors() {
  if (::close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) == 0) {
    return;
  }
  // Kernels before 5.11: one call per possible descriptor (async-signal-safe, unlike listing
  // /proc/self/fd).
  rlimit limit{};
  auto highest = ::getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY
                   ? static_cast<int>(limit.rlim_cur)
                   : 65536;
  for (int fd = 3; fd < highest; ++fd) {
    ::fcntl(fd, F_SETFD, FD_CLOEXEC);
  }
}

std::vector<std::string> privileged(std::vector<std::string> argv, bool root) {
  if (!root) {
    argv.insert(argv.begin(), {"sudo", "-n"});
  }
  return argv;
}

std::vector<std::string> privileged(std::vector<std::string> argv) {
  return privileged(std::move(argv), ::geteuid() == 0);
}

} // namespace llmux::checkpoint
