#include "checkpoint/gpu.hpp"

#include <fstream>
#include <iterator>

#include <fmt/format.h>

#include "checkpoint/tool.hpp"
#include "config/parsed.hpp"

namespace llmux::checkpoint {

namespace {

std::string_view trim(std::string_view text) {
  auto begin = text.find_first_not_of(" \t\r");
  if (begin == std::string_view::npos) {
    return {};
  }
  auto end = text.find_last_not_of(" \t\r");
  return text.substr(begin, end - begin + 1);
}

// Calls `each` with every line of `text`.
template <class Each>
void for_each_line(std::string_view text, Each each) {
  while (!text.empty()) {
    auto end = text.find('\n');
    each(trim(text.substr(0, end)));
    text = end == std::string_view::npos ? std::string_view{} : text.substr(end + 1);
  }
}

} // namespace

std::vector<gpu_process> parse_compute_apps(std::string_view csv) {
  std::vector<gpu_process> processes;
  for_each_line(csv, [&](std::string_view line) {
    auto comma = line.find(',');
    if (comma == std::string_view::npos) {
      return;
    }
    auto pid = config::parse_unsigned(trim(line.substr(0, comma)));
    auto used = config::parse_unsigned(trim(line.substr(comma + 1)));
    if (pid && *pid > 0 && used) {
      processes.push_back({static_cast<pid_t>(*pid), *used});
    }
  });
  return processes;
}

std::vector<gpu_process> strays(const std::vector<gpu_process>& on_gpu,
                                const std::set<pid_t>& known) {
  std::vector<gpu_process> found;
  for (const auto& process : on_gpu) {
    if (!known.contains(process.pid)) {
      found.push_back(process);
    }
  }
  return found;
}

std::optional<std::vector<gpu_process>> gpu_processes(const std::string& nvidia_smi,
                                                      std::chrono::milliseconds timeout) {
  auto result = run_tool(
    {nvidia_smi, "--query-compute-apps=pid,used_memory", "--format=csv,noheader,nounits"}, timeout);
  if (!result.ok()) {
    return std::nullopt;
  }
  return parse_compute_apps(result.out);
}

std::optional<std::uint64_t> gpu_memory_used_mib(const std::string& nvidia_smi,
                                                 std::chrono::milliseconds timeout) {
  auto result
    = run_tool({nvidia_smi, "--query-gpu=memory.used", "--format=csv,noheader,nounits"}, timeout);
  if (!result.ok()) {
    return std::nullopt;
  }
  std::uint64_t total = 0;
  bool any = false;
  for_each_line(result.out, [&](std::string_view line) {
    if (auto used = config::parse_unsigned(line)) {
      total += *used;
      any = true;
    }
  });
  return any ? std::optional(total) : std::nullopt;
}

std::string command_line_of(pid_t pid) {
  std::ifstream file(fmt::format("/proc/{}/cmdline", pid));
  std::string line((std::istreambuf_iterator<char>(file)), {});
  while (!line.empty() && line.back() == '\0') {
    line.pop_back();
  }
  for (auto& c : line) {
    c = c == '\0' ? ' ' : c;
  }
  return line;
}

} // namespace llmux::checkpoint
