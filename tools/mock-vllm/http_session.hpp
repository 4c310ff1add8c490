#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

namespace llmux::tools::mock_vllm {

namespace beast = boost::beast;
namespace net = boost::asio;
using tcp = net::ip::tcp;
using http_request = beast::http::request<beast::http::string_body>;

/// One query parameter, percent-decoded; repeated keys stay separate (`tags=a&tags=b`).
using query_list = std::vector<std::pair<std::string, std::string>>;

/// Splits `target` into its path and its decoded query parameters.
std::pair<std::string_view, query_list> split_target(std::string_view target);

/// The first value of `key` in `query`, or nothing.
const std::string* find_query(const query_list& query, std::string_view key);

/// Writes one whole response (the head alone for HEAD); false when the client is gone. With
/// `body_on_head` (a fault), a HEAD answer gets its body anyway, that long after its head.
net::awaitable<bool> reply(beast::tcp_stream& stream, const http_request& request,
                           beast::http::status status, std::string_view content_type,
                           std::string body,
                           std::optional<std::chrono::milliseconds> body_on_head = {});

/// Writes `bytes` as they are (interim answers and other faults); false when the client is gone.
net::awaitable<bool> write_raw(beast::tcp_stream& stream, std::string_view bytes);

/// An open `text/event-stream` response whose events are written one by one.
class event_stream {
public:
  /// With `timestamps`, each event begins with `: sent_ns=N` (see options::sse_timestamps).
  event_stream(beast::tcp_stream& stream, const http_request& request, bool timestamps = false);

  /// Sends the status line and headers; false when the client is gone.
  net::awaitable<bool> open();
  /// Sends one event as its own chunk, so the client sees it at once.
  net::awaitable<bool> send(std::string event);
  /// Ends the chunked body.
  net::awaitable<bool> close();

private:
  beast::tcp_stream& stream_;
  const http_request& request_;
  bool timestamps_;
};

/// Waits `milliseconds` without blocking the thread.
net::awaitable<void> pause_for(double milliseconds);

} // namespace llmux::tools::mock_vllm
