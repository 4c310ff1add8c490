#include "checkpoint/cuda_checkpoint.hpp"

#include <charconv>
#include <dirent.h>
#include <fstream>
#include <future>
#include <map>
#include <sstream>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "checkpoint/tool.hpp"

namespace llmux::checkpoint {

namespace {

using clock_type = std::chrono::steady_clock;

std::optional<pid_t> parse_pid(std::string_view text) {
  pid_t pid = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), pid);
  if (error != std::errc{} || end != text.data() + text.size() || pid <= 0) {
    return std::nullopt;
  }
  return pid;
}

// The parent of `pid` from /proc/<pid>/stat; the command name (field 2) may hold spaces and
// parentheses, so fields are counted from the last ')'.
std::optional<pid_t> parent_of(pid_t pid) {
  std::ifstream file(fmt::format("/proc/{}/stat", pid));
  std::string stat;
  if (!file || !std::getline(file, stat)) {
    return std::nullopt;
  }
  auto close = stat.rfind(')');
  if (close == std::string::npos) {
    return std::nullopt;
  }
  std::istringstream rest(stat.substr(close + 1));
  std::string state;
  std::string parent;
  if (!(rest >> state >> parent)) {
    return std::nullopt;
  }
  return parse_pid(parent);
}

std::string_view source_state(cuda_direction direction) {
  return direction == cuda_direction::suspend ? "running" : "checkpointed";
}

std::string_view target_state(cuda_direction direction) {
  return direction == cuda_direction::suspend ? "checkpointed" : "running";
}

std::string_view verb(cuda_direction direction) {
  return direction == cuda_direction::suspend ? "suspend" : "resume";
}

std::chrono::milliseconds left_until(clock_type::time_point deadline) {
  return std::max(
    std::chrono::milliseconds(0),
    std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock_type::now()));
}

} // namespace

std::vector<pid_t> process_tree(pid_t root) {
  std::multimap<pid_t, pid_t> children;
  bool root_alive = false;
  if (auto* proc = ::opendir("/proc")) {
    while (auto* entry = ::readdir(proc)) {
      auto pid = parse_pid(entry->d_name);
      if (!pid) {
        continue;
      }
      root_alive = root_alive || *pid == root;
      if (auto parent = parent_of(*pid)) {
        children.emplace(*parent, *pid);
      }
    }
    ::closedir(proc);
  }
  if (!root_alive) {
    return {};
  }
  std::vector<pid_t> tree{root};
  for (std::size_t next = 0; next < tree.size(); ++next) {
    auto [begin, end] = children.equal_range(tree[next]);
    for (auto child = begin; child != end; ++child) {
      tree.push_back(child->second);
    }
  }
  return tree;
}

toggle_plan plan_toggle(const std::vector<cuda_process>& processes, cuda_direction direction) {
  toggle_plan plan;
  std::vector<std::string> stuck;
  for (const auto& process : processes) {
    if (process.state == source_state(direction)) {
      plan.toggle.push_back(process.pid);
    } else if (process.state == target_state(direction)) {
      plan.already_done.push_back(process.pid);
    } else {
      stuck.push_back(fmt::format("{} is {}", process.pid, process.state));
    }
  }
  if (processes.empty()) {
    plan.error = "the engine has no process with CUDA state";
  } else if (!stuck.empty()) {
    plan.error
      = fmt::format("cannot {} CUDA state: process {}", verb(direction), fmt::join(stuck, ", "));
  }
  return plan;
}

std::vector<cuda_process> cuda_processes(const std::string& tool, pid_t root,
                                         std::chrono::milliseconds timeout) {
  std::vector<std::pair<pid_t, std::future<tool_result>>> asked;
  for (auto pid : process_tree(root)) {
    asked.emplace_back(
      pid, std::async(std::launch::async, [&tool, pid, timeout] {
        return run_tool(privileged({tool, "--get-state", "--pid", std::to_string(pid)}), timeout);
      }));
  }
  std::vector<cuda_process> found;
  for (auto& [pid, answer] : asked) {
    auto result = answer.get();
    auto state = result.out.substr(0, result.out.find_first_of(" \r\n"));
    if (result.ok() && !state.empty()) {
      found.push_back({pid, state});
    }
  }
  return found;
}

std::optional<std::string> toggle_tree(const std::string& tool, pid_t root,
                                       cuda_direction direction,
                                       std::chrono::milliseconds timeout) {
  auto deadline = clock_type::now() + timeout;
  auto plan = plan_toggle(cuda_processes(tool, root, timeout), direction);
  if (plan.error) {
    return plan.error;
  }
  std::vector<std::pair<pid_t, std::future<tool_result>>> toggled;
  for (auto pid : plan.toggle) {
    toggled.emplace_back(pid, std::async(std::launch::async, [&tool, pid, deadline] {
                           return run_tool(
                             privileged({tool, "--toggle", "--pid", std::to_string(pid)}),
                             left_until(deadline));
                         }));
  }
  std::vector<std::string> failures;
  for (auto& [pid, answer] : toggled) {
    auto result = answer.get();
    if (!result.ok()) {
      failures.push_back(fmt::format("process {}: {}", pid, result.failure()));
    }
  }
  if (failures.empty()) {
    return std::nullopt;
  }
  return fmt::format("cuda-checkpoint --toggle ({}) failed for {}", verb(direction),
                     fmt::join(failures, "; "));
}

} // namespace llmux::checkpoint
