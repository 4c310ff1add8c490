#include "config/logging.hpp"

#include <algorithm>
#include <optional>

#include <fmt/format.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "config/suggest.hpp"

namespace llmux::config {

namespace {

constexpr std::array<std::pair<std::string_view, spdlog::level::level_enum>, 8> level_names{{
  {"trace", spdlog::level::trace},
  {"debug", spdlog::level::debug},
  {"info", spdlog::level::info},
  {"warn", spdlog::level::warn},
  {"warning", spdlog::level::warn},
  {"error", spdlog::level::err},
  {"critical", spdlog::level::critical},
  {"off", spdlog::level::off},
}};

std::optional<spdlog::level::level_enum> parse_level(std::string_view text) {
  for (const auto& [name, level] : level_names) {
    if (name == text) {
      return level;
    }
  }
  return std::nullopt;
}

std::string_view trim(std::string_view text) {
  auto first = text.find_first_not_of(" \t");
  if (first == std::string_view::npos) {
    return {};
  }
  auto last = text.find_last_not_of(" \t");
  return text.substr(first, last - first + 1);
}

} // namespace

parsed<log_levels> parse_log_levels(std::string_view text) {
  log_levels result;
  while (!text.empty()) {
    auto comma = text.find(',');
    auto item = trim(text.substr(0, comma));
    text = comma == std::string_view::npos ? std::string_view{} : text.substr(comma + 1);
    if (item.empty()) {
      continue;
    }
    auto equals = item.find('=');
    auto level_text = equals == std::string_view::npos ? item : trim(item.substr(equals + 1));
    auto level = parse_level(level_text);
    if (!level) {
      return parsed<log_levels>::failure(fmt::format(
        "unknown log level '{}'; expected trace, debug, info, warn, error, critical or off",
        level_text));
    }
    if (equals == std::string_view::npos) {
      result.default_level = *level;
      continue;
    }
    auto logger = trim(item.substr(0, equals));
    if (std::find(logger_names.begin(), logger_names.end(), logger) == logger_names.end()) {
      auto hint = closest_match(logger, logger_names);
      return parsed<log_levels>::failure(
        fmt::format("unknown logger '{}'{}; loggers: {}", logger,
                    hint ? fmt::format(" (did you mean '{}'?)", *hint) : std::string{},
                    fmt::join(logger_names, ", ")));
    }
    result.overrides.emplace_back(std::string{logger}, *level);
  }
  return result;
}

void setup_logging(const log_levels& levels, bool verbose) {
  auto sink = std::make_shared<spdlog::sinks::stderr_color_sink_mt>();
  auto default_level
    = verbose ? std::min(levels.default_level, spdlog::level::debug) : levels.default_level;
  for (auto name : logger_names) {
    auto logger = spdlog::get(std::string{name});
    if (!logger) {
      logger = std::make_shared<spdlog::logger>(std::string{name}, sink);
      spdlog::register_logger(logger);
    }
    logger->set_level(default_level);
    for (const auto& [overridden, level] : levels.overrides) {
      if (overridden == name) {
        logger->set_level(level);
      }
    }
  }
  spdlog::set_default_logger(spdlog::get("main"));
}

} // namespace llmux::config
