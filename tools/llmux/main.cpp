// llmux's entry point: command line, logging, configuration, then the chosen mode.

#include <cstdio>
#include <cstdlib>
#include <string>
#include <variant>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "config/cli.hpp"
#include "config/load.hpp"
#include "config/logging.hpp"
#include "config/print.hpp"

namespace {

using namespace llmux;

constexpr int invalid_config_status = 1;

// Diagnostics go to standard error as plain lines, so `--check-config` output can be read by
// people and by scripts alike, whatever the log level.
void report(const std::string& config_path, const config::diagnostics& findings) {
  for (const auto& item : findings.items()) {
    fmt::print(stderr, "{}: {}\n", config_path, config::format_diagnostic(item));
  }
}

std::variant<config::log_levels, int> log_levels_from_environment() {
  const char* text = std::getenv("LLMUX_LOG");
  if (text == nullptr) {
    return config::log_levels{};
  }
  auto levels = config::parse_log_levels(text);
  if (!levels) {
    fmt::print(stderr, "llmux: LLMUX_LOG: {}\n", levels.error());
    return config::usage_error_status;
  }
  return *levels;
}

} // namespace

int main(int argc, char** argv) {
  auto command_line = config::parse_command_line(argc, argv);
  if (auto* status = std::get_if<int>(&command_line)) {
    return *status;
  }
  const auto& options = std::get<config::cli_options>(command_line);
  auto levels = log_levels_from_environment();
  if (auto* status = std::get_if<int>(&levels)) {
    return *status;
  }
  config::setup_logging(std::get<config::log_levels>(levels), options.verbose);

  config::load_options load_options;
  load_options.port_override = options.port;
  auto loaded = config::load_config_file(options.config_path, load_options);
  report(options.config_path, loaded.findings);
  if (!loaded.ok()) {
    fmt::print(stderr, "{}: configuration is invalid\n", options.config_path);
    return invalid_config_status;
  }
  if (options.check_config) {
    fmt::print("{}", config::to_json(loaded.cfg));
    return 0;
  }
  spdlog::get("main")->error("serving is not built yet: this build only checks configurations "
                             "(--check-config)");
  return invalid_config_status;
}
