#include "actors/process.hpp"

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <linux/close_range.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

namespace llmux::actors {

namespace {

int decode_status(int status) {
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

// The engine inherits stdin, stdout and stderr only. Sockets are opened without close-on-exec
// (Asio's default): an engine that inherited the daemon's listening socket, its client
// connections or its kept engine connections would hold them open after llmux closed them
// (no FIN reaches the peer while the engine lives). Marked close-on-exec rather than closed,
// so that `error_fd` still reports a failed exec.
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

// Runs in the forked child: never returns. Reports a failed exec through `error_fd`.
[[noreturn]] void exec_child(const process_spec& spec, int output_fd, int error_fd) {
  ::setpgid(0, 0);
  // The engine must not outlive the daemon.
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  int null = ::open("/dev/null", O_RDONLY);
  ::dup2(null, 0);
  ::dup2(output_fd, 1);
  ::dup2(output_fd, 2);
  keep_only_standard_descriptors();
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  for (const auto& variable : spec.environment) {
    ::putenv(const_cast<char*>(variable.c_str()));
  }
  std::vector<char*> argv{const_cast<char*>(spec.executable.c_str())};
  for (const auto& argument : spec.arguments) {
    argv.push_back(const_cast<char*>(argument.c_str()));
  }
  argv.push_back(nullptr);
  ::execvp(argv[0], argv.data());
  int error = errno;
  auto ignored = ::write(error_fd, &error, sizeof error);
  (void)ignored;
  std::_Exit(127);
}

void log_output(int fd, std::string log_name) {
  auto logger = spdlog::get("engine");
  std::string pending;
  char buffer[4096];
  for (;;) {
    auto got = ::read(fd, buffer, sizeof buffer);
    if (got <= 0) {
      break;
    }
    pending.append(buffer, static_cast<std::size_t>(got));
    for (auto end = pending.find('\n'); end != std::string::npos; end = pending.find('\n')) {
      auto line = strip_ansi(std::string_view(pending).substr(0, end));
      if (logger && !line.empty()) {
        logger->debug("{}: {}", log_name, line);
      }
      pending.erase(0, end + 1);
    }
  }
  ::close(fd);
}

} // namespace

std::string strip_ansi(std::string_view line) {
  std::string out;
  for (std::size_t i = 0; i < line.size(); ++i) {
    if (line[i] != '\x1b') {
      out += line[i];
      continue;
    }
    while (++i < line.size()) {
      char c = line[i];
      if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) {
        break;
      }
    }
  }
  return out;
}

std::unique_ptr<engine_process> engine_process::spawn(const process_spec& spec,
                                                      std::string& error) {
  int output[2];
  int exec_error[2];
  if (::pipe2(output, O_CLOEXEC) != 0 || ::pipe2(exec_error, O_CLOEXEC) != 0) {
    error = fmt::format("cannot create pipes: {}", std::strerror(errno));
    return nullptr;
  }
  pid_t pid = ::fork();
  if (pid < 0) {
    error = fmt::format("fork failed: {}", std::strerror(errno));
    return nullptr;
  }
  if (pid == 0) {
    exec_child(spec, output[1], exec_error[1]);
  }
  ::setpgid(pid, pid);
  ::close(output[1]);
  ::close(exec_error[1]);
  int child_errno = 0;
  auto got = ::read(exec_error[0], &child_errno, sizeof child_errno);
  ::close(exec_error[0]);
  if (got == sizeof child_errno) {
    int status = 0;
    ::waitpid(pid, &status, 0);
    ::close(output[0]);
    error = fmt::format("cannot run '{}': {}", spec.executable, std::strerror(child_errno));
    return nullptr;
  }
  return std::unique_ptr<engine_process>(new engine_process(pid, output[0], spec.log_name));
}

engine_process::engine_process(pid_t pid, int output_fd, std::string log_name)
  : pid_(pid), output_reader_(log_output, output_fd, std::move(log_name)) {
}

engine_process::~engine_process() {
  terminate(std::chrono::milliseconds(0));
  if (output_reader_.joinable()) {
    output_reader_.join();
  }
}

std::optional<int> engine_process::exit_status() {
  if (!exit_status_) {
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      exit_status_ = decode_status(status);
    }
  }
  return exit_status_;
}

void engine_process::terminate(std::chrono::milliseconds grace) {
  // The group may hold descendants even after the leader has gone.
  ::kill(-pid_, SIGTERM);
  auto deadline = std::chrono::steady_clock::now() + grace;
  while (!exit_status() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ::kill(-pid_, SIGKILL);
  if (!exit_status_) {
    int status = 0;
    ::waitpid(pid_, &status, 0);
    exit_status_ = decode_status(status);
  }
}

} // namespace llmux::actors
