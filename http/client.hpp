#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

namespace llmux::http {

/// The outcome of one HTTP exchange.
struct http_result {
  /// False when no complete response arrived (refused, timed out, cut off).
  bool complete = false;
  /// libcurl's description of what went wrong, when `complete` is false.
  std::string failure;
  /// The peer accepted the connection (or never answered it) but did not answer in time.
  bool timed_out = false;
  long status = 0;
  std::string content_type;
  /// The body as received, chunked framing removed; for a response cut off midway, what came.
  std::string body;
};

/// One blocking HTTP request with libcurl: the client of engine control calls, the tools and
/// the tests. Never call it on a cooperative CAF worker or an Asio io thread.
/// `method` is GET, POST, PUT, DELETE, ...; a non-empty `body` is sent as JSON unless a
/// Content-Type is among `headers` (`Name: value`).
http_result http_request(std::string_view method, const std::string& url,
                         const std::string& body = {}, const std::vector<std::string>& headers = {},
                         std::chrono::milliseconds timeout = std::chrono::seconds(30));

/// `url` with `text` percent-encoded for a query value.
std::string url_encode(std::string_view text);

} // namespace llmux::http
