#include "tools/mock-vllm/gpu_registry.hpp"

#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <signal.h>
#include <sstream>

#include <fmt/format.h>
#include <simdjson.h>

#include "config/json_writer.hpp"

namespace llmux::tools::mock_vllm {

namespace {

namespace fs = std::filesystem;

std::string entry_path(const std::string& dir, int pid) {
  return fmt::format("{}/{}.json", dir, pid);
}

std::optional<gpu_process> read_entry(const fs::path& path) {
  std::ifstream file(path);
  std::stringstream text;
  text << file.rdbuf();
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  auto content = text.str();
  if (parser.parse(content).get(root)) {
    return std::nullopt;
  }
  gpu_process process;
  std::int64_t pid = 0;
  std::uint64_t port = 0;
  std::string_view model;
  std::string_view cuda;
  if (root["pid"].get_int64().get(pid) || root["port"].get_uint64().get(port)
      || root["model"].get_string().get(model) || root["cuda_state"].get_string().get(cuda)
      || root["gpu_used_mib"].get_double().get(process.gpu_used_mib)
      || root["gpu_total_mib"].get_double().get(process.gpu_total_mib)
      || root["host_used_mib"].get_double().get(process.host_used_mib)) {
    return std::nullopt;
  }
  process.pid = static_cast<int>(pid);
  process.port = static_cast<std::uint16_t>(port);
  process.model = model;
  process.cuda_state = cuda;
  return process;
}

} // namespace

bool is_running(int pid) {
  if (pid <= 0 || (::kill(pid, 0) != 0 && errno != EPERM)) {
    return false;
  }
  // /proc/<pid>/stat: "pid (comm) S ..."; the state letter follows the last ')'.
  std::ifstream stat(fmt::format("/proc/{}/stat", pid));
  std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  auto close = text.rfind(')');
  return close == std::string::npos || close + 2 >= text.size() || text[close + 2] != 'Z';
}

std::string registry_dir_from_environment() {
  const char* dir = std::getenv("LLMUX_MOCK_GPU_DIR");
  return dir != nullptr && *dir != '\0' ? dir : "/tmp/llmux-mock-gpu";
}

void publish(const std::string& dir, const gpu_process& process) {
  config::json_writer out(config::json_writer::layout::compact);
  out.begin_object();
  out.key("pid");
  out.integer(static_cast<std::uint64_t>(process.pid));
  out.key("port");
  out.integer(process.port);
  out.key("model");
  out.string(process.model);
  out.key("gpu_used_mib");
  out.real(process.gpu_used_mib);
  out.key("gpu_total_mib");
  out.real(process.gpu_total_mib);
  out.key("host_used_mib");
  out.real(process.host_used_mib);
  out.key("cuda_state");
  out.string(process.cuda_state);
  out.end_object();
  std::error_code ignored;
  fs::create_directories(dir, ignored);
  auto path = entry_path(dir, process.pid);
  auto temporary = path + ".tmp";
  {
    std::ofstream file(temporary, std::ios::trunc);
    file << out.str() << '\n';
  }
  fs::rename(temporary, path, ignored);
}

void withdraw(const std::string& dir, int pid) {
  std::error_code ignored;
  fs::remove(entry_path(dir, pid), ignored);
}

std::vector<gpu_process> live_processes(const std::string& dir) {
  std::vector<gpu_process> processes;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    if (entry.path().extension() != ".json") {
      continue;
    }
    auto process = read_entry(entry.path());
    if (!process) {
      continue;
    }
    if (!is_running(process->pid)) {
      fs::remove(entry.path(), ec);
      continue;
    }
    processes.push_back(*process);
  }
  return processes;
}

std::optional<gpu_process> find_process(const std::string& dir, int pid) {
  auto process = read_entry(entry_path(dir, pid));
  if (!process || !is_running(pid)) {
    return std::nullopt;
  }
  return process;
}

} // namespace llmux::tools::mock_vllm
