#include "config/load.hpp"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "config/gpu_memory.hpp"

namespace llmux::config {

load_result load_config(std::string_view json_text, const load_options& options) {
  auto result = parse_config(json_text);
  if (!result.document_read) {
    return result;
  }
  if (options.port_override) {
    result.cfg.port = *options.port_override;
  }
  path_probe real_file_system = [](const std::string& path) {
    std::error_code ignored;
    return std::filesystem::exists(path, ignored);
  };
  validate_config(result.cfg, options.path_exists ? options.path_exists : real_file_system,
                  result.findings);
  if (result.cfg.gpu_memory_budget_mib && options.gpu_total_mib) {
    if (auto total = options.gpu_total_mib()) {
      fit_to_gpu(result.cfg, *total, result.findings);
    } else {
      result.findings.error("gpu_memory_budget_mib",
                            "the GPU's memory could not be read (nvidia-smi); it is needed to fit "
                            "the engines beside each other");
    }
  }
  return result;
}

load_result load_config_file(const std::string& path, const load_options& options) {
  auto unreadable = [&](std::string_view reason) {
    load_result failed;
    failed.findings.error("", fmt::format("cannot read config file {}: {}", path, reason));
    return failed;
  };
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    return unreadable("it is a directory");
  }
  std::ifstream file(path, std::ios::binary);
  if (!file) {
    return unreadable(std::strerror(errno));
  }
  std::ostringstream text;
  text << file.rdbuf();
  return load_config(text.str(), options);
}

} // namespace llmux::config
