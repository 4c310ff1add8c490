#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "actors/serving.hpp"
#include "http/access.hpp"

namespace llmux::http {

class http_metrics;

/// How long a relay lets either side stay silent.
struct relay_limits {
  /// The engine sends nothing for this long once its response has begun: the relay ends
  /// (an SSE error event for streams).
  std::chrono::seconds engine_idle{600};
  /// The client leaves a write unread for this long: the connection is closed.
  std::chrono::seconds client_write{120};
};

/// How the proxy listens and what it accepts.
struct server_settings {
  std::string host = "0.0.0.0";
  std::uint16_t port = 3000;
  std::size_t io_threads = 1;
  /// Larger request bodies get 413.
  std::size_t body_limit = 32 * 1024 * 1024;
  /// Larger request headers get 431.
  std::size_t header_limit = 64 * 1024;
  /// How long a request may wait for its model (`policy.request_timeout_secs`); then 504.
  /// Zero: no limit.
  std::chrono::milliseconds request_timeout{300000};
  /// A streamed request waiting for its model this long gets its response begun and an SSE
  /// comment (`: waiting for <model>`), and another at each such interval; zero: none.
  std::chrono::seconds stream_keepalive{15};
  /// How long an idle keep-alive connection stays open, and how long a request may take to
  /// arrive (then 408).
  std::chrono::seconds idle_timeout{60};
  relay_limits relay;
  /// Most client connections open at once; while at it, new ones wait in the listen backlog.
  std::size_t max_connections = 4096;
  /// Most request body bytes buffered at once over all connections; a request that would
  /// exceed it gets 503.
  std::size_t max_buffered_bytes = 512u * 1024 * 1024;
  /// Whether a client that shuts down its sending side after its request is still answered
  /// (as HAProxy does without abortonclose). By default it counts as gone, as with nginx.
  bool serve_half_closed = false;
  /// Idle keep-alive connections kept per engine and io thread for later requests.
  std::size_t upstream_idle_per_engine = 64;
  /// An idle engine connection older than this is closed (engines close theirs: uvicorn, which
  /// vLLM runs, after 5 s).
  std::chrono::milliseconds upstream_idle_time{4000};
  /// Which keys open which model at the start; none configured: the proxy is open.
  access_keys keys;
};

/// The OpenAI-compatible proxy on `port`: answers /health, /llmux/status and /v1/models
/// itself, forwards the OpenAI inference surface (router.hpp) to the engine of the model the
/// request names once `backend` grants a lease, streaming the answer back as it arrives, and
/// answers everything else with 404. Beast lives only in the .cpp files.
class proxy_server {
public:
  /// Records into `metrics`, which must outlive the server.
  proxy_server(actors::serving_backend& backend, server_settings settings, http_metrics& metrics);
  proxy_server(const proxy_server&) = delete;
  proxy_server& operator=(const proxy_server&) = delete;
  ~proxy_server();

  /// Binds, listens and starts the io threads; returns the bound port (useful with port 0).
  /// On failure returns 0 and sets `error`.
  std::uint16_t start(std::string& error);

  /// Replaces the proxy's access keys (a reload); requests already checked go on.
  void set_access_keys(const access_keys& keys);

  /// Stops accepting connections; requests in progress go on.
  void stop_accepting();

  /// Ends every connection and joins the io threads.
  void stop();

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

} // namespace llmux::http
