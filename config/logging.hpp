#pragma once

#include <array>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <spdlog/common.h>

#include "config/parsed.hpp"

namespace llmux::config {

/// The named loggers, one per room (plus `engine` for the engines' own output).
inline constexpr std::array<std::string_view, 8> logger_names{"main",  "config", "http", "sched",
                                                              "model", "engine", "ckpt", "cluster"};

/// Log levels: one default, and overrides for named loggers.
struct log_levels {
  spdlog::level::level_enum default_level = spdlog::level::info;
  std::vector<std::pair<std::string, spdlog::level::level_enum>> overrides;
};

/// Parses a level list such as `info,engine=debug` (the form of `LLMUX_LOG`): a bare level sets
/// the default, `logger=level` one logger. Unknown levels or loggers are errors, so a typo never
/// silences the log.
parsed<log_levels> parse_log_levels(std::string_view text);

/// Creates every named logger, writing to standard error, at the given levels. `verbose`
/// (`-v`) lowers the default to debug; explicit per-logger overrides still apply.
void setup_logging(const log_levels& levels, bool verbose);

} // namespace llmux::config
