// A fake criu for mock-vllm engines (the real one cannot run on these machines): `dump` makes the
// engine write its state and real image bytes into the images directory and end; `restore`
// brings it back on the same port, already loaded, after a time proportional to the image size.

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <string>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "http/client.hpp"
#include "tools/mock-vllm/checkpoint_image.hpp"
#include "tools/mock-vllm/gpu_registry.hpp"

namespace {

using namespace llmux::tools;
using llmux::http::http_request;
using llmux::http::url_encode;
using namespace std::chrono_literals;

constexpr auto dump_timeout = std::chrono::minutes(30);
constexpr auto exit_wait = 30s;
constexpr auto restore_health_wait = 60s;

int dump(int pid, const std::string& images_dir) {
  auto process = mock_vllm::find_process(mock_vllm::registry_dir_from_environment(), pid);
  if (!process) {
    fmt::print(stderr, "Error (criu/cr-dump.c): Can't dump {}: not a mock-vllm engine or gone\n",
               pid);
    return 1;
  }
  auto absolute = std::filesystem::absolute(images_dir).string();
  auto result = http_request(
    "POST",
    fmt::format("http://127.0.0.1:{}/mock/dump?dir={}", process->port, url_encode(absolute)), "",
    {}, dump_timeout);
  if (!result.complete || result.status != 200) {
    fmt::print(stderr, "Error (criu/cr-dump.c): Dumping FAILED: {}\n",
               result.complete ? result.body : result.failure);
    return 1;
  }
  // The dumped tree ends, as with criu's default final state.
  for (auto waited = 0ms; mock_vllm::is_running(pid) && waited < exit_wait; waited += 10ms) {
    std::this_thread::sleep_for(10ms);
  }
  if (mock_vllm::is_running(pid)) {
    ::kill(pid, SIGKILL);
  }
  fmt::print(stderr, "Dumping finished successfully\n");
  return 0;
}

// Starts the engine in its own session, as a restored tree that is nobody's child.
pid_t spawn_restored(const mock_vllm::checkpoint_image& image, const std::string& images_dir) {
  std::vector<std::string> arguments{image.executable};
  arguments.insert(arguments.end(), image.arguments.begin(), image.arguments.end());
  arguments.push_back("--mock-restore-from");
  arguments.push_back(images_dir);
  auto log = (std::filesystem::path(images_dir).parent_path() / "mock-restore.log").string();
  pid_t child = ::fork();
  if (child != 0) {
    return child;
  }
  ::setsid();
  int null = ::open("/dev/null", O_RDONLY);
  int out = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  ::dup2(null, 0);
  ::dup2(out, 1);
  ::dup2(out, 2);
  for (const auto& variable : image.environment) {
    ::putenv(const_cast<char*>(variable.c_str()));
  }
  std::vector<char*> argv;
  for (auto& argument : arguments) {
    argv.push_back(argument.data());
  }
  argv.push_back(nullptr);
  ::execv(argv[0], argv.data());
  std::_Exit(127);
}

int restore(const std::string& images_dir, const std::string& pidfile) {
  auto absolute = std::filesystem::absolute(images_dir).string();
  auto image = mock_vllm::read_checkpoint(absolute);
  if (!image) {
    fmt::print(stderr, "Error (criu/cr-restore.c): {}\n", image.error());
    return 1;
  }
  // Like a PID that is still taken, a port still in use stops the restore.
  auto health = fmt::format("http://127.0.0.1:{}/health", image->port);
  if (http_request("GET", health, "", {}, 1s).complete) {
    fmt::print(stderr,
               "Error (criu/cr-restore.c): Restoring FAILED: port {} is in use; the "
               "dumped engine (or another restore of it) still runs\n",
               image->port);
    return 1;
  }
  std::this_thread::sleep_for(
    std::chrono::microseconds(static_cast<long>(image->restore_ms * 1000)));
  pid_t child = spawn_restored(*image, absolute);
  for (auto waited = 0ms; waited < restore_health_wait; waited += 10ms) {
    int status = 0;
    if (::waitpid(child, &status, WNOHANG) == child) {
      fmt::print(stderr,
                 "Error (criu/cr-restore.c): Restoring FAILED: the restored process "
                 "exited (status {}); is port {} still in use?\n",
                 WIFEXITED(status) ? WEXITSTATUS(status) : -1, image->port);
      return 1;
    }
    if (http_request("GET", health, "", {}, 1s).status == 200) {
      if (!pidfile.empty()) {
        std::ofstream(pidfile) << child << '\n';
      }
      return 0;
    }
    std::this_thread::sleep_for(10ms);
  }
  ::kill(child, SIGKILL);
  fmt::print(stderr, "Error (criu/cr-restore.c): Restoring FAILED: no answer on port {}\n",
             image->port);
  return 1;
}

} // namespace

int main(int argc, char** argv) {
  CLI::App app{"criu (fake, for mock-vllm engines): dump and restore a process tree"};
  app.name("criu");
  app.allow_extras();
  std::vector<std::string> command;
  int tree = 0;
  std::string images_dir;
  std::string pidfile;
  bool version = false;
  app.add_option("command", command, "check | dump | restore");
  app.add_option("-t,--tree", tree, "Root of the process tree to dump");
  app.add_option("-D,--images-dir", images_dir, "Directory of the images");
  app.add_option("--pidfile", pidfile, "Write the restored root's pid here");
  app.add_flag("-V,--version", version, "Print the version");
  app.footer("Other criu flags (--shell-job, --ext-unix-sk, --tcp-established, --link-remap, "
             "--ghost-limit N, --enable-external-masters, -L DIR, --restore-detached, ...) are "
             "accepted and have no further effect here.");
  CLI11_PARSE(app, argc, argv);
  if (version) {
    fmt::print("Version: 3.19 (mock-vllm fake)\n");
    return 0;
  }
  auto verb = command.empty() ? std::string{} : command.front();
  if (verb == "check") {
    fmt::print("Looks good.\n");
    return 0;
  }
  if ((verb == "dump" || verb == "restore") && images_dir.empty()) {
    fmt::print(stderr, "Error: --images-dir is required\n");
    return 1;
  }
  if (verb == "dump") {
    if (tree <= 0) {
      fmt::print(stderr, "Error: --tree PID is required for dump\n");
      return 1;
    }
    return dump(tree, images_dir);
  }
  if (verb == "restore") {
    return restore(images_dir, pidfile);
  }
  fmt::print(stderr, "Error: unknown command '{}'; expected check, dump or restore\n", verb);
  return 1;
}
