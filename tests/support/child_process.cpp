#include "tests/support/child_process.hpp"

#include <csignal>
#include <cstdlib>
#include <fcntl.h>
#include <poll.h>
#include <stdexcept>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

#include "checkpoint/tool.hpp"

namespace llmux::testing_support {

namespace {

using clock = std::chrono::steady_clock;

int decode_status(int status) {
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

} // namespace

child_process::child_process(const std::vector<std::string>& argv,
                             const std::vector<std::string>& environment) {
  // Built before the fork: a child of a threaded test may not allocate before its exec.
  auto command = argv;
  auto args = checkpoint::exec_pointers(command);
  auto env = checkpoint::child_environment(environment);
  auto envp = checkpoint::exec_pointers(env);
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) {
    throw std::runtime_error("pipe2 failed");
  }
  pid_ = ::fork();
  if (pid_ < 0) {
    throw std::runtime_error("fork failed");
  }
  if (pid_ == 0) {
    ::setpgid(0, 0);
    ::dup2(pipe_fds[1], 1);
    ::dup2(pipe_fds[1], 2);
    ::execvpe(args[0], args.data(), envp.data());
    std::_Exit(127);
  }
  ::setpgid(pid_, pid_);
  ::close(pipe_fds[1]);
  output_fd_ = pipe_fds[0];
}

child_process::~child_process() {
  if (!exit_status_) {
    ::kill(-pid_, SIGKILL);
    ::kill(pid_, SIGKILL);
    int status = 0;
    ::waitpid(pid_, &status, 0);
  }
  ::close(output_fd_);
}

bool child_process::read_some(std::chrono::milliseconds timeout) {
  pollfd fd{output_fd_, POLLIN, 0};
  if (::poll(&fd, 1, static_cast<int>(timeout.count())) <= 0) {
    return true;
  }
  char buffer[4096];
  auto got = ::read(output_fd_, buffer, sizeof buffer);
  if (got <= 0) {
    return false;
  }
  output_.append(buffer, static_cast<std::size_t>(got));
  return true;
}

template <class Match>
std::optional<std::string> child_process::wait_for(Match matches,
                                                   std::chrono::milliseconds timeout) {
  auto deadline = clock::now() + timeout;
  bool open = true;
  for (;;) {
    std::size_t start = 0;
    for (auto end = output_.find('\n'); end != std::string::npos;
         start = end + 1, end = output_.find('\n', start)) {
      std::string_view line(output_.data() + start, end - start);
      if (matches(line)) {
        return std::string{line};
      }
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock::now());
    if (!open || left.count() <= 0) {
      return std::nullopt;
    }
    open = read_some(std::min(left, std::chrono::milliseconds(50)));
  }
}

std::optional<std::string> child_process::wait_for_line(std::string_view prefix,
                                                        std::chrono::milliseconds timeout) {
  return wait_for([&](std::string_view line) { return line.starts_with(prefix); }, timeout);
}

std::optional<std::string> child_process::wait_for_text(std::string_view fragment,
                                                        std::chrono::milliseconds timeout) {
  return wait_for([&](std::string_view line) { return line.find(fragment) != line.npos; }, timeout);
}

std::optional<int> child_process::wait_exit(std::chrono::milliseconds timeout) {
  auto deadline = clock::now() + timeout;
  while (!exit_status_) {
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      exit_status_ = decode_status(status);
      break;
    }
    if (clock::now() >= deadline) {
      return std::nullopt;
    }
    read_some(std::chrono::milliseconds(10));
  }
  // Collect what the process wrote before it ended.
  for (;;) {
    pollfd fd{output_fd_, POLLIN, 0};
    if (::poll(&fd, 1, 0) <= 0 || !read_some(std::chrono::milliseconds(0))) {
      break;
    }
  }
  return exit_status_;
}

} // namespace llmux::testing_support
