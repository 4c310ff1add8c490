#include "checkpoint/gpu.hpp"

#include <algorithm>
#include <fstream>
#include <iterator>
#include <numeric>

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

// One number per GPU for a `--query-gpu` field; empty when nvidia-smi cannot tell.
std::vector<std::uint64_t> per_gpu(const std::string& nvidia_smi, std::string_view field,
                                   std::chrono::milliseconds timeout) {
  auto result = run_tool(
    {nvidia_smi, fmt::format("--query-gpu={}", field), "--format=csv,noheader,nounits"}, timeout);
  std::vector<std::uint64_t> values;
  if (!result.ok()) {
    return values;
  }
  for_each_line(result.out, [&](std::string_view line) {
    if (auto value = config::parse_unsigned(line)) {
      values.push_back(*value);
    }
  });
  return values;
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
  auto used = per_gpu(nvidia_smi, "memory.used", timeout);
  if (used.empty()) {
    return std::nullopt;
  }
  return std::accumulate(used.begin(), used.end(), std::uint64_t{0});
}

std::optional<std::uint64_t> gpu_memory_total_mib(const std::string& nvidia_smi,
                                                  std::chrono::milliseconds timeout) {
  auto totals = per_gpu(nvidia_smi, "memory.total", timeout);
  if (totals.empty()) {
    return std::nullopt;
  }
  return *std::min_element(totals.begin(), totals.end());
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
