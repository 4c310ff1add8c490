// A fake nvidia-smi that reports the emulated GPU of the running mock-vllm engines, in the real
// tool's output formats, for the query forms llmux uses.

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include "tools/mock-vllm/gpu_registry.hpp"

namespace {

using llmux::tools::mock_vllm::gpu_process;

constexpr double default_total_mib = 81920;

struct format_options {
  bool header = true;
  bool units = true;
};

struct gpu_summary {
  long used = 0;
  long total = 0;
};

gpu_summary summarise(const std::vector<gpu_process>& processes) {
  double used = 0;
  double total = 0;
  for (const auto& process : processes) {
    used += process.gpu_used_mib;
    total = std::max(total, process.gpu_total_mib);
  }
  return {std::lround(used), std::lround(total > 0 ? total : default_total_mib)};
}

std::vector<std::string> split(std::string_view text, char separator) {
  std::vector<std::string> parts;
  while (true) {
    auto at = text.find(separator);
    parts.emplace_back(text.substr(0, at));
    if (at == std::string_view::npos) {
      return parts;
    }
    text = text.substr(at + 1);
  }
}

// One field's header text and value; empty header means the field is unknown.
struct cell {
  std::string header;
  std::string value;
  bool mib = false;
};

cell gpu_field(const std::string& field, const gpu_summary& gpu) {
  if (field == "memory.used") {
    return {"memory.used [MiB]", std::to_string(gpu.used), true};
  }
  if (field == "memory.total") {
    return {"memory.total [MiB]", std::to_string(gpu.total), true};
  }
  if (field == "memory.free") {
    return {"memory.free [MiB]", std::to_string(gpu.total - gpu.used), true};
  }
  if (field == "name") {
    return {"name", "NVIDIA Mock GPU", false};
  }
  if (field == "index") {
    return {"index", "0", false};
  }
  return {};
}

cell app_field(const std::string& field, const gpu_process& process) {
  if (field == "pid") {
    return {"pid", std::to_string(process.pid), false};
  }
  if (field == "used_memory" || field == "used_gpu_memory") {
    return {"used_gpu_memory [MiB]", std::to_string(std::lround(process.gpu_used_mib)), true};
  }
  if (field == "process_name" || field == "name") {
    return {"process_name", "mock-vllm", false};
  }
  return {};
}

template <class Row>
int print_rows(const std::vector<std::string>& fields, const std::vector<Row>& rows,
               cell (*field_of)(const std::string&, const Row&), format_options format) {
  std::vector<std::vector<cell>> table;
  for (const auto& row : rows) {
    std::vector<cell> cells;
    for (const auto& field : fields) {
      auto value = field_of(field, row);
      if (value.header.empty()) {
        fmt::print("Field \"{}\" is not a valid field to query.\n", field);
        return 2;
      }
      cells.push_back(value);
    }
    table.push_back(cells);
  }
  if (format.header && !table.empty()) {
    std::vector<std::string> headers;
    for (const auto& value : table.front()) {
      headers.push_back(value.header);
    }
    fmt::print("{}\n", fmt::join(headers, ", "));
  }
  for (const auto& cells : table) {
    std::vector<std::string> values;
    for (const auto& value : cells) {
      values.push_back(value.mib && format.units ? value.value + " MiB" : value.value);
    }
    fmt::print("{}\n", fmt::join(values, ", "));
  }
  return 0;
}

} // namespace

int main(int argc, char** argv) {
  auto processes = llmux::tools::mock_vllm::live_processes(
    llmux::tools::mock_vllm::registry_dir_from_environment());
  auto gpu = summarise(processes);
  std::string gpu_query;
  std::string app_query;
  format_options format;
  bool list = false;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg.starts_with("--query-gpu=")) {
      gpu_query = arg.substr(12);
    } else if (arg.starts_with("--query-compute-apps=")) {
      app_query = arg.substr(21);
    } else if (arg.starts_with("--format=")) {
      auto options = split(arg.substr(9), ',');
      format.header = std::find(options.begin(), options.end(), "noheader") == options.end();
      format.units = std::find(options.begin(), options.end(), "nounits") == options.end();
    } else if (arg == "-L" || arg == "--list-gpus") {
      list = true;
    } else {
      fmt::print("Invalid combination of input arguments. Please run 'nvidia-smi -h' for help.\n");
      return 2;
    }
  }
  if (list) {
    fmt::print("GPU 0: NVIDIA Mock GPU (UUID: GPU-00000000-0000-0000-0000-00006d6f636b)\n");
    return 0;
  }
  if (!gpu_query.empty()) {
    return print_rows(split(gpu_query, ','), std::vector<gpu_summary>{gpu}, &gpu_field, format);
  }
  if (!app_query.empty()) {
    std::vector<gpu_process> on_gpu;
    std::copy_if(processes.begin(), processes.end(), std::back_inserter(on_gpu),
                 [](const gpu_process& process) { return process.gpu_used_mib > 0; });
    return print_rows(split(app_query, ','), on_gpu, &app_field, format);
  }
  fmt::print("NVIDIA Mock GPU | {}MiB / {}MiB | {} process(es)\n", gpu.used, gpu.total,
             processes.size());
  for (const auto& process : processes) {
    fmt::print("  {:>8}  mock-vllm ({})  {}MiB\n", process.pid, process.model,
               std::lround(process.gpu_used_mib));
  }
  return 0;
}
