#pragma once

// Configuration reload for the daemon (SIGHUP and POST /control/reload): reads the file again
// and applies it to the scheduler, the proxy's keys and the metrics; an invalid file is
// rejected with its findings and the old configuration keeps serving.

#include <atomic>
#include <functional>

#include "actors/backend.hpp"
#include "config/cli.hpp"
#include "config/config.hpp"
#include "http/local_server.hpp"
#include "http/metrics.hpp"
#include "http/server.hpp"

namespace llmux {

/// The proxy's keys for `cfg`: its own plus `LLMUX_API_KEYS` (comma-separated), for every model.
http::access_keys access_keys_of(const config::config& cfg);

class config_reloader {
public:
  /// `started`: the configuration llmux started with, which must outlive the reloader.
  config_reloader(const config::cli_options& options, const config::config& started,
                  actors::actor_backend& backend, http::proxy_server& server,
                  http::http_metrics& metrics);

  /// Reloads; `done` gets the answer for the admin API (it is logged as well).
  void reload(std::function<void(http::local_response)> done);

private:
  const config::cli_options& options_;
  /// What only a restart changes (listeners, admin token) is still as llmux started.
  const config::config& started_;
  actors::actor_backend& backend_;
  http::proxy_server& server_;
  http::http_metrics& metrics_;
  /// The proxy's keys of the configuration in force, put back when a reload fails.
  http::access_keys keys_in_force_;
  /// One reload at a time: a second one meanwhile is refused before it touches anything.
  std::atomic<bool> reloading_{false};
};

} // namespace llmux
