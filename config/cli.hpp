#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "config/eviction.hpp"

namespace llmux::config {

/// What the command line asked for.
struct cli_options {
  std::string config_path = "config.json";
  std::optional<std::uint16_t> port;
  bool verbose = false;
  bool check_config = false;
  /// Address the proxy listens on.
  std::string host = "0.0.0.0";
  /// Threads serving HTTP.
  std::size_t io_threads = 1;
  /// On SIGINT/SIGTERM, how long requests in flight may take to finish before engines stop.
  std::uint64_t shutdown_grace_secs = 30;
  /// Most client connections open at once; beyond it new ones wait in the listen backlog.
  std::size_t max_connections = 4096;
  /// Most request body bytes held in memory at once, over all requests; beyond it 503.
  std::size_t max_buffered_mb = 512;
  /// How long an idle engine connection is kept for reuse (below the engines' own keep-alive
  /// timeout: uvicorn's is 5 s); 0 opens a connection per request.
  std::uint64_t upstream_idle_ms = 4000;
  /// Answer clients that shut down their sending side after the request, instead of taking
  /// that for a departure.
  bool serve_half_closed = false;
  /// `--gateway`: route across the nodes the file lists (`cluster.nodes`) instead of serving
  /// models.
  bool gateway = false;

  // One-shot flows instead of the daemon (at most one of them).
  /// `--validate MODEL`: sleep and wake MODEL with each of `validate_policies`, print a table.
  std::optional<std::string> validate_model;
  std::vector<eviction_policy> validate_policies{
    {weight_strategy::offload, process_strategy::keep_running},
    {weight_strategy::discard, process_strategy::keep_running}};
  /// `--checkpoint MODEL`: start MODEL, warm it, dump it with `checkpoint_eviction`.
  std::optional<std::string> checkpoint_model;
  eviction_policy checkpoint_eviction{weight_strategy::discard, process_strategy::checkpoint};
  /// `--no-warmup`: no inference before the dump.
  bool no_warmup = false;
  /// `--restore-detached MODEL`: restore MODEL's checkpoint and leave it running.
  std::optional<std::string> restore_model;
};

/// Exit status for command-line mistakes (unknown flag, bad value), as the reference uses.
inline constexpr int usage_error_status = 2;

/// Parses `argv`. Returns the options, or the exit status when the program should end right
/// away: 0 after `--help` or `--version` (their text already printed), `usage_error_status`
/// after a usage error (its message already printed to standard error).
std::variant<cli_options, int> parse_command_line(int argc, const char* const* argv);

} // namespace llmux::config
