#include "actors/process.hpp"

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <memory>
#include <mutex>
#include <poll.h>
#include <set>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "checkpoint/tool.hpp"

namespace llmux::actors {

struct output_end {
  std::mutex mutex;
  std::condition_variable changed;
  bool ended = false;
};

namespace {

int decode_status(int status) {
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

// Runs in the forked child: never returns. Reports a failed exec through `error_fd`.
// The command line and environment of a child, built before the fork: between fork and exec a
// child of a threaded process may not allocate (another thread may have held the allocator's
// lock at the fork, and the child would wait for it forever).
struct exec_image {
  std::vector<std::string> command;
  std::vector<std::string> environment;
  std::vector<char*> argv;
  std::vector<char*> envp;

  explicit exec_image(const process_spec& spec)
    : environment(checkpoint::child_environment(spec.environment)) {
    command.push_back(spec.executable);
    command.insert(command.end(), spec.arguments.begin(), spec.arguments.end());
    argv = checkpoint::exec_pointers(command);
    envp = checkpoint::exec_pointers(environment);
  }
};

[[noreturn]] void exec_child(const exec_image& image, int output_fd, int errors_fd, int error_fd) {
  ::setpgid(0, 0);
  // The engine must not outlive the daemon.
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  int null = ::open("/dev/null", O_RDONLY);
  ::dup2(null, 0);
  ::dup2(output_fd, 1);
  ::dup2(errors_fd, 2);
  // The engine inherits stdin, stdout and stderr only: one that inherited the daemon's
  // listening socket, its client connections or its kept engine connections would hold them
  // open after llmux closed them. Marked close-on-exec rather than closed, so that `error_fd`
  // still reports a failed exec.
  checkpoint::keep_only_standard_descriptors();
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  ::execvpe(image.argv[0], image.argv.data(), image.envp.data());
  int error = errno;
  auto ignored = ::write(error_fd, &error, sizeof error);
  (void)ignored;
  std::_Exit(127);
}

// Logs each complete line of `pending` (without ANSI colours) and keeps the incomplete rest.
void log_lines(std::string& pending, const std::string& log_name,
               const std::shared_ptr<spdlog::logger>& logger) {
  for (auto end = pending.find('\n'); end != std::string::npos; end = pending.find('\n')) {
    auto line = strip_ansi(std::string_view(pending).substr(0, end));
    if (logger && !line.empty()) {
      logger->debug("{}: {}", log_name, line);
    }
    pending.erase(0, end + 1);
  }
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
    log_lines(pending, log_name, logger);
  }
  ::close(fd);
}

// Follows output files (from `from_end` on: their current end, else their start) until the
// process has ended and everything it wrote has been read. Between looks it waits for more
// output, or for the end, which wakes it at once: the process's owner waits for this reader
// when it stops the process, and a stop is a step of a switch.
void follow_output(std::vector<std::string> paths, bool from_end, std::string log_name,
                   std::shared_ptr<output_end> end) {
  auto logger = spdlog::get("engine");
  struct followed {
    int fd;
    std::string pending;
  };
  std::vector<followed> files;
  for (const auto& path : paths) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
      if (from_end) {
        ::lseek(fd, 0, SEEK_END);
      }
      files.push_back({fd, {}});
    }
  }
  char buffer[4096];
  for (;;) {
    bool last_round = false;
    {
      std::lock_guard lock(end->mutex);
      last_round = end->ended;
    }
    bool read_any = false;
    for (auto& file : files) {
      ssize_t got = 0;
      while ((got = ::read(file.fd, buffer, sizeof buffer)) > 0) {
        file.pending.append(buffer, static_cast<std::size_t>(got));
        read_any = true;
      }
      log_lines(file.pending, log_name, logger);
    }
    if (last_round) {
      break;
    }
    if (!read_any) {
      std::unique_lock lock(end->mutex);
      end->changed.wait_for(lock, std::chrono::milliseconds(200), [&] { return end->ended; });
    }
  }
  for (auto& file : files) {
    ::close(file.fd);
  }
}

// Whether `pid` has ended: gone, or a zombie its parent has not reaped yet.
bool has_ended(pid_t pid) {
  char path[64];
  std::snprintf(path, sizeof path, "/proc/%d/stat", static_cast<int>(pid));
  std::FILE* file = std::fopen(path, "re");
  if (file == nullptr) {
    return true;
  }
  char line[512];
  bool ended = false;
  if (std::fgets(line, sizeof line, file) != nullptr) {
    const char* close = std::strrchr(line, ')');
    ended = close != nullptr && close[1] == ' ' && (close[2] == 'Z' || close[2] == 'X');
  }
  std::fclose(file);
  return ended;
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
  bool to_files = !spec.stdout_file.empty();
  int output[2] = {-1, -1};
  int error_output = -1;
  if (to_files) {
    // O_APPEND: CRIU then restores a log that has grown since the dump.
    constexpr int flags = O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC;
    output[1] = ::open(spec.stdout_file.c_str(), flags, 0644);
    error_output = ::open(spec.stderr_file.c_str(), flags, 0644);
    if (output[1] < 0 || error_output < 0) {
      error = fmt::format("cannot open the engine's log files {} and {}: {}", spec.stdout_file,
                          spec.stderr_file, std::strerror(errno));
      ::close(output[1]);
      ::close(error_output);
      return nullptr;
    }
  } else if (::pipe2(output, O_CLOEXEC) != 0) {
    error = fmt::format("cannot create a pipe: {}", std::strerror(errno));
    return nullptr;
  }
  int exec_error[2];
  if (::pipe2(exec_error, O_CLOEXEC) != 0) {
    error = fmt::format("cannot create a pipe: {}", std::strerror(errno));
    return nullptr;
  }
  exec_image image(spec);
  pid_t pid = ::fork();
  if (pid < 0) {
    error = fmt::format("fork failed: {}", std::strerror(errno));
    return nullptr;
  }
  if (pid == 0) {
    exec_child(image, output[1], to_files ? error_output : output[1], exec_error[1]);
  }
  ::setpgid(pid, pid);
  ::close(output[1]);
  ::close(error_output);
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
  std::unique_ptr<engine_process> process(new engine_process(pid, true));
  if (to_files) {
    process->output_reader_
      = std::thread(follow_output, std::vector{spec.stdout_file, spec.stderr_file}, false,
                    spec.log_name, process->ended_);
  } else {
    process->output_reader_ = std::thread(log_output, output[0], spec.log_name);
  }
  return process;
}

std::unique_ptr<engine_process> engine_process::adopt(pid_t pid, const process_spec& spec) {
  std::unique_ptr<engine_process> process(new engine_process(pid, false));
  if (!spec.stdout_file.empty()) {
    process->output_reader_
      = std::thread(follow_output, std::vector{spec.stdout_file, spec.stderr_file}, true,
                    spec.log_name, process->ended_);
  }
  return process;
}

namespace {

std::mutex managed_mutex;
std::multiset<pid_t> managed;

} // namespace

std::vector<pid_t> managed_engines() {
  std::lock_guard lock(managed_mutex);
  return {managed.begin(), managed.end()};
}

engine_process::engine_process(pid_t pid, bool child)
  : pid_(pid), child_(child), ended_(std::make_shared<output_end>()) {
  std::lock_guard lock(managed_mutex);
  managed.insert(pid);
}

engine_process::~engine_process() {
  if (!released_) {
    terminate(std::chrono::milliseconds(0));
  }
  {
    std::lock_guard lock(managed_mutex);
    if (auto entry = managed.find(pid_); entry != managed.end()) {
      managed.erase(entry);
    }
  }
  {
    std::lock_guard lock(ended_->mutex);
    ended_->ended = true;
  }
  ended_->changed.notify_all();
  if (output_reader_.joinable()) {
    output_reader_.join();
  }
}

std::optional<int> engine_process::exit_status() {
  if (!exit_status_) {
    int status = 0;
    if (child_ && ::waitpid(pid_, &status, WNOHANG) == pid_) {
      exit_status_ = decode_status(status);
    } else if (!child_ && has_ended(pid_)) {
      exit_status_ = -1;
    }
  }
  return exit_status_;
}

void engine_process::terminate(std::chrono::milliseconds grace) {
  // The group may hold descendants even after the leader has gone. A restored tree keeps the
  // group it was dumped with only if it led one.
  pid_t target = child_ || ::getpgid(pid_) == pid_ ? -pid_ : pid_;
  if (!exit_status_) {
    ::kill(target, SIGTERM);
  }
  wait_for_exit(std::chrono::steady_clock::now() + grace);
  ::kill(target, SIGKILL);
  if (exit_status_) {
    return;
  }
  if (child_) {
    int status = 0;
    ::waitpid(pid_, &status, 0);
    exit_status_ = decode_status(status);
    return;
  }
  // Not ours to reap: wait (boundedly) until its parent has.
  wait_for_exit(std::chrono::steady_clock::now() + std::chrono::seconds(5));
}

void engine_process::wait_for_exit(std::chrono::steady_clock::time_point deadline) {
  // Woken by the exit itself (a pidfd is readable once the process has ended), not by polling:
  // an engine that stops in a millisecond would otherwise cost a whole polling interval per
  // stop, and so per switch. Polling only where the kernel has no pidfds.
  int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid_, 0));
  while (!exit_status()) {
    auto left
      = std::chrono::ceil<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      break;
    }
    if (pidfd >= 0) {
      pollfd ended{pidfd, POLLIN, 0};
      if (::poll(&ended, 1, static_cast<int>(left.count())) > 0 && !exit_status()) {
        std::this_thread::sleep_for(std::chrono::milliseconds(1)); // ended, not yet reaped
      }
    } else {
      std::this_thread::sleep_for(std::min(left, std::chrono::milliseconds(10)));
    }
  }
  if (pidfd >= 0) {
    ::close(pidfd);
  }
}

} // namespace llmux::actors
