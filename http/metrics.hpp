#pragma once

// llmux's Prometheus metrics: the events the HTTP side sees (requests admitted or refused,
// responses by status class, stalled relays), the switches the scheduler reports, and, at each
// scrape, the scheduler's snapshot (queues, leases, engine states, costs, GPU time). README
// documents every metric. prometheus-cpp stays inside metrics.cpp.

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "actors/serving.hpp"
#include "actors/snapshot.hpp"
#include "http/local_server.hpp"

namespace llmux::http {

/// Which side of a relay stopped moving.
enum class stalled_side {
  engine, ///< the engine sent nothing for `engine_idle_timeout_secs`
  client, ///< the client read nothing for `client_write_timeout_secs`
};

/// Thread-safe: the io threads and the actor threads record into it while a scrape renders.
class http_metrics {
public:
  /// `models`: the configured model names (their series exist from the start, at zero).
  explicit http_metrics(const std::vector<std::string>& models);
  ~http_metrics();
  http_metrics(const http_metrics&) = delete;
  http_metrics& operator=(const http_metrics&) = delete;

  /// Makes the series of models added by a reload (at zero); known names are left alone.
  void add_models(const std::vector<std::string>& models);

  /// A request for `model` got its lease after waiting `waited` (zero on the fast path).
  void request_admitted(const std::string& model, std::chrono::steady_clock::duration waited);

  /// A request for a configured `model` got no lease.
  void request_refused(const std::string& model, actors::refusal reason);

  /// A response with `status` went out (proxied or llmux's own).
  void response_sent(int status);

  void relay_stalled(std::string_view model, stalled_side side);

  /// A switch ended (the scheduler's switch_ended hook).
  void switch_ended(const actors::switch_record& record);

  /// The exposition text: every metric, those read from `snapshot` included when there is
  /// one (null: the scheduler did not answer; `llmux_scheduler_up` says so).
  std::string render(const actors::scheduler_snapshot* snapshot) const;

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

/// The metrics port: `GET /metrics` renders `metrics` with a fresh snapshot from `backend`
/// (Prometheus text format 0.0.4); other paths 404, other methods 405.
local_handler metrics_endpoint(http_metrics& metrics, actors::serving_backend& backend);

} // namespace llmux::http
