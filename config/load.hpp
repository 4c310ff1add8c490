#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "config/parse.hpp"
#include "config/validate.hpp"

namespace llmux::config {

/// What the command line adds to loading a configuration.
struct load_options {
  /// `--port`: replaces the file's `port` before validation, so collisions are caught.
  std::optional<std::uint16_t> port_override;
  /// How `checkpoint_path` existence is checked; the real file system by default.
  path_probe path_exists;
  /// Reads the GPU's memory in MiB (nothing: it cannot tell). Given, a configuration with
  /// `gpu_memory_budget_mib` is fitted to that GPU (gpu_memory.hpp); not given, it is not.
  std::function<std::optional<std::uint64_t>()> gpu_total_mib;
};

/// Parses `json_text`, applies the options and validates the result.
load_result load_config(std::string_view json_text, const load_options& options);

/// Reads the file at `path` and loads it like `load_config`; a file that cannot be read is
/// reported as an error naming the path and the system's reason.
load_result load_config_file(const std::string& path, const load_options& options);

} // namespace llmux::config
