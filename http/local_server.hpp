#pragma once

// Small HTTP/1.1 listeners for llmux's own endpoints (metrics, admin API, status page), apart
// from the proxy's io threads so that a flood of inference requests never delays them.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace llmux::http {

/// A request to one of llmux's own endpoints, read whole.
struct local_request {
  std::string method;
  /// As sent: path and query.
  std::string target;
  std::string authorization;
  std::string content_type;
  std::string body;

  /// The target without its query.
  std::string_view path() const {
    return std::string_view(target).substr(0, target.find('?'));
  }
};

struct local_response {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  /// Set for a stream of Server-Sent Events: after the head, called once per `interval_ms`
  /// for the next event, which it passes to `done` once, from any thread, framed
  /// (`data: ...\n\n`; empty: nothing this time). The stream ends when the client leaves.
  std::function<void(std::function<void(std::string)> done)> next_event;
  std::uint32_t interval_ms = 1000;
};

/// A whole response with `body`.
inline local_response answer(int status, std::string body,
                             std::string content_type = "application/json") {
  local_response out;
  out.status = status;
  out.body = std::move(body);
  out.content_type = std::move(content_type);
  return out;
}

/// Answers a request, at once or later and from any thread, through `respond` (exactly once).
using local_handler
  = std::function<void(local_request request, std::function<void(local_response)> respond)>;

/// One io thread serving any number of listeners; keep-alive connections, requests bounded
/// (16 KiB of headers, 1 MiB of body, 30 s to arrive).
class local_server {
public:
  local_server();
  ~local_server();
  local_server(const local_server&) = delete;
  local_server& operator=(const local_server&) = delete;

  /// Binds `host:port` (port 0: any free port) for `handler`; the bound port, or 0 with
  /// `error` set. Call before `start`.
  std::uint16_t listen(const std::string& host, std::uint16_t port, local_handler handler,
                       std::string& error);

  /// Starts the io thread (does nothing without listeners).
  void start();

  /// Closes every listener and connection and joins the thread.
  void stop();

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

} // namespace llmux::http
