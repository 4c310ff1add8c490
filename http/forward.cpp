// Forwarding one request to an engine and relaying its response, streamed.

#include <array>
#include <chrono>
#include <string_view>
#include <tuple>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/chunk_encode.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "http/errors.hpp"
#include "http/session.hpp"

namespace llmux::http {

namespace bhttp = beast::http;

namespace {

constexpr auto use_tuple = net::as_tuple(net::use_awaitable);
constexpr auto connect_timeout = std::chrono::seconds(10);
constexpr std::size_t relay_buffer_size = 16 * 1024;

// Headers that describe one hop, not the message: never copied across the proxy.
bool is_hop_by_hop(std::string_view name) {
  static constexpr std::array<std::string_view, 11> names{
    "connection",      "keep-alive", "proxy-authenticate", "proxy-authorization", "te",
    "trailer",         "upgrade",    "transfer-encoding",  "content-length",      "host",
    "proxy-connection"};
  for (auto hop : names) {
    if (beast::iequals(name, hop)) {
      return true;
    }
  }
  return false;
}

client_request engine_request(const client_request& request, std::string body, std::uint16_t port) {
  client_request out{request.method(), request.target(), 11};
  for (const auto& field : request) {
    auto name = field.name_string();
    if (!is_hop_by_hop(name) && !beast::iequals(name, "model-override")) {
      out.insert(name, field.value());
    }
  }
  out.set(bhttp::field::host, fmt::format("127.0.0.1:{}", port));
  out.keep_alive(false);
  out.body() = std::move(body);
  out.prepare_payload();
  return out;
}

// The engine failed after the response began: tell an SSE client in-band, as vLLM does.
std::string stream_error_event(std::string_view what) {
  return fmt::format("data: {}\n\ndata: [DONE]\n\n", openai_error(502, what));
}

} // namespace

net::awaitable<bool> forward_to_engine(beast::tcp_stream& client, const client_request& request,
                                       std::string body, const actors::lease_outcome& lease) {
  auto log = spdlog::get("http");
  beast::tcp_stream engine(co_await net::this_coro::executor);
  engine.expires_after(connect_timeout);
  tcp::endpoint endpoint(net::ip::make_address_v4("127.0.0.1"), lease.engine_port);
  if (auto [ec] = co_await engine.async_connect(endpoint, use_tuple); ec) {
    log->warn("engine on port {} unreachable: {}", lease.engine_port, ec.message());
    co_return co_await send_error(
      client, request, 502,
      fmt::format("the engine of {} is unreachable: {}", lease.model_path, ec.message()));
  }
  // Generation can take as long as it takes; the lease and the client bound it.
  engine.expires_never();
  auto outgoing = engine_request(request, std::move(body), lease.engine_port);
  if (auto [ec, n] = co_await bhttp::async_write(engine, outgoing, use_tuple); ec) {
    co_return co_await send_error(client, request, 502,
                                  fmt::format("sending to the engine failed: {}", ec.message()));
  }
  beast::flat_buffer engine_buffer;
  bhttp::response_parser<bhttp::buffer_body> parser;
  parser.body_limit(boost::none);
  if (auto [ec, n] = co_await bhttp::async_read_header(engine, engine_buffer, parser, use_tuple);
      ec) {
    log->warn("engine on port {} failed before answering: {}", lease.engine_port, ec.message());
    co_return co_await send_error(
      client, request, 502, fmt::format("the engine closed the connection: {}", ec.message()));
  }
  const auto& head = parser.get();
  bool event_stream
    = head[bhttp::field::content_type].find("text/event-stream") != beast::string_view::npos;
  auto length = parser.content_length();
  bhttp::response<bhttp::empty_body> response{head.result(), request.version()};
  for (const auto& field : head) {
    if (!is_hop_by_hop(field.name_string())) {
      response.insert(field.name_string(), field.value());
    }
  }
  bool chunked = !length || event_stream;
  if (chunked) {
    response.chunked(true);
  } else {
    response.content_length(*length);
  }
  response.keep_alive(request.keep_alive());
  bhttp::response_serializer<bhttp::empty_body> serializer{response};
  if (auto [ec, n] = co_await bhttp::async_write_header(client, serializer, use_tuple); ec) {
    co_return false;
  }
  std::array<char, relay_buffer_size> buffer;
  while (!parser.is_done()) {
    parser.get().body().data = buffer.data();
    parser.get().body().size = buffer.size();
    auto [ec, n] = co_await bhttp::async_read_some(engine, engine_buffer, parser, use_tuple);
    if (ec == bhttp::error::need_buffer) {
      ec = {};
    }
    auto got = buffer.size() - parser.get().body().size;
    if (got > 0) {
      // Each piece goes out as soon as it arrives: SSE events are not held back.
      auto piece = net::buffer(buffer.data(), got);
      beast::error_code write_error;
      if (chunked) {
        std::tie(write_error, std::ignore)
          = co_await net::async_write(client, bhttp::make_chunk(piece), use_tuple);
      } else {
        std::tie(write_error, std::ignore) = co_await net::async_write(client, piece, use_tuple);
      }
      if (write_error) {
        co_return false; // the client went away; the lease is returned by the caller
      }
    }
    if (ec) {
      log->warn("engine on port {} failed mid-response: {}", lease.engine_port, ec.message());
      if (event_stream) {
        auto event = stream_error_event(
          fmt::format("the engine of {} failed mid-stream: {}", lease.model_path, ec.message()));
        co_await net::async_write(client, bhttp::make_chunk(net::buffer(event)), use_tuple);
        co_await net::async_write(client, bhttp::make_chunk_last(), use_tuple);
      }
      co_return false;
    }
  }
  if (chunked) {
    if (auto [ec, n] = co_await net::async_write(client, bhttp::make_chunk_last(), use_tuple); ec) {
      co_return false;
    }
  }
  co_return request.keep_alive();
}

} // namespace llmux::http
