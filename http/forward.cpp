// Forwarding one request to an engine and relaying its response, streamed.

#include <array>
#include <chrono>
#include <string_view>
#include <tuple>

#include <sys/socket.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
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
#include "http/headers.hpp"
#include "http/session.hpp"

namespace llmux::http {

namespace bhttp = beast::http;

namespace {

constexpr auto use_tuple = net::as_tuple(net::use_awaitable);
constexpr auto connect_timeout = std::chrono::seconds(10);
constexpr std::size_t relay_buffer_size = 16 * 1024;

client_request engine_request(const client_request& request, std::string_view target,
                              std::string body, std::uint16_t port,
                              std::string_view client_address) {
  client_request out{request.method(), target, 11};
  for (const auto& field : request) {
    auto name = field.name_string();
    if (forwards_request_header(name)) {
      out.insert(name, field.value());
    }
  }
  out.set(bhttp::field::host, fmt::format("127.0.0.1:{}", port));
  out.set("x-forwarded-proto", "http");
  if (!client_address.empty()) {
    out.set("x-forwarded-for", client_address);
  }
  out.keep_alive(false);
  out.body() = std::move(body);
  out.prepare_payload();
  return out;
}

// The engine failed after the response began: tell an SSE client in-band, as vLLM does.
std::string stream_error_event(int status, std::string_view what) {
  return fmt::format("data: {}\n\ndata: [DONE]\n\n", openai_error(status, what));
}

// The client side of one relayed response: how its body is framed, and writes bounded by the
// client write limit.
class client_writer {
public:
  client_writer(beast::tcp_stream& client, bool chunked, std::chrono::seconds write_limit)
    : client_(client), chunked_(chunked), write_limit_(write_limit) {
  }

  net::awaitable<bool> write(net::const_buffer piece) {
    client_.expires_after(write_limit_);
    beast::error_code ec;
    if (chunked_) {
      std::tie(ec, std::ignore)
        = co_await net::async_write(client_, bhttp::make_chunk(piece), use_tuple);
    } else {
      std::tie(ec, std::ignore) = co_await net::async_write(client_, piece, use_tuple);
    }
    client_.expires_never();
    co_return !ec;
  }

  net::awaitable<bool> finish() {
    if (!chunked_) {
      co_return true;
    }
    client_.expires_after(write_limit_);
    auto [ec, n] = co_await net::async_write(client_, bhttp::make_chunk_last(), use_tuple);
    client_.expires_never();
    co_return !ec;
  }

private:
  beast::tcp_stream& client_;
  bool chunked_;
  std::chrono::seconds write_limit_;
};

// Points `cut` at the engine connection while it is open.
class cut_scope {
public:
  cut_scope(relay_cut& cut, beast::tcp_stream& engine) : cut_(cut) {
    cut_.engine = &engine;
  }
  cut_scope(const cut_scope&) = delete;
  cut_scope& operator=(const cut_scope&) = delete;
  ~cut_scope() {
    cut_.engine = nullptr;
  }

private:
  relay_cut& cut_;
};

// While the engine works on a request and nothing has been sent back, a client that leaves
// cancels the request: the engine connection is closed, so the engine stops generating.
net::awaitable<void> cancel_when_client_leaves(tcp::socket& client,
                                               std::shared_ptr<relay_cut> cut) {
  auto [ec] = co_await client.async_wait(tcp::socket::wait_read, use_tuple);
  if (!ec && cut->watching_client && peer_closed(client)) {
    cut->cut("the client closed its connection");
  }
}

} // namespace

bool peer_closed(tcp::socket& socket) {
  char byte;
  auto peeked = ::recv(socket.native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  return peeked == 0 || (peeked < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
}

net::awaitable<bool> forward_to_engine(beast::tcp_stream& client, const client_request& request,
                                       std::string target, std::string body,
                                       const actors::lease_outcome& lease,
                                       const relay_limits& limits, std::shared_ptr<relay_cut> cut) {
  auto log = spdlog::get("http");
  if (cut->reason) {
    co_return co_await send_error(client, request, 503, *cut->reason);
  }
  beast::tcp_stream engine(co_await net::this_coro::executor);
  cut_scope scope(*cut, engine);
  engine.expires_after(connect_timeout);
  tcp::endpoint endpoint(net::ip::make_address_v4("127.0.0.1"), lease.engine_port);
  if (auto [ec] = co_await engine.async_connect(endpoint, use_tuple); ec) {
    log->warn("engine on port {} unreachable: {}", lease.engine_port, ec.message());
    co_return co_await send_error(
      client, request, 502,
      fmt::format("the engine of {} is unreachable: {}", lease.model_path, ec.message()));
  }
  // The answer may take as long as the generation does: the engine's liveness probes, a
  // revoked lease or the client leaving end the wait for it.
  engine.expires_never();
  beast::error_code no_peer;
  auto peer = client.socket().remote_endpoint(no_peer);
  auto outgoing = engine_request(request, target, std::move(body), lease.engine_port,
                                 no_peer ? std::string{} : peer.address().to_string());
  cut->watching_client = true;
  net::co_spawn(co_await net::this_coro::executor, cancel_when_client_leaves(client.socket(), cut),
                net::detached);
  beast::flat_buffer engine_buffer;
  bhttp::response_parser<bhttp::buffer_body> parser;
  parser.body_limit(boost::none);
  beast::error_code ec;
  std::tie(ec, std::ignore) = co_await bhttp::async_write(engine, outgoing, use_tuple);
  if (!ec) {
    std::tie(ec, std::ignore)
      = co_await bhttp::async_read_header(engine, engine_buffer, parser, use_tuple);
  }
  // Stop watching the client: from here on its departure shows as a failed write.
  cut->watching_client = false;
  beast::error_code ignored;
  client.socket().cancel(ignored);
  if (ec) {
    if (cut->reason) {
      log->info("request to {} cut before the engine answered: {}", lease.model_path, *cut->reason);
      co_return co_await send_error(client, request, 503, *cut->reason);
    }
    log->warn("engine on port {} failed before answering: {}", lease.engine_port, ec.message());
    co_return co_await send_error(
      client, request, 502, fmt::format("the engine closed the connection: {}", ec.message()));
  }
  const auto& head = parser.get();
  bool event_stream
    = head[bhttp::field::content_type].find("text/event-stream") != beast::string_view::npos;
  auto length = parser.content_length();
  // The status as a number: a code Beast does not know (420, 599, ...) must pass unchanged.
  bhttp::response<bhttp::empty_body> response;
  response.version(request.version());
  response.result(head.result_int());
  response.reason(head.reason());
  for (const auto& field : head) {
    if (forwards_response_header(field.name_string())) {
      response.insert(field.name_string(), field.value());
    }
  }
  // HTTP/1.0 has no chunked encoding: a body of unknown length ends with the connection.
  bool open_length = !length || event_stream;
  bool chunked = open_length && request.version() >= 11;
  bool keep_alive = request.keep_alive() && !(open_length && !chunked);
  if (chunked) {
    response.chunked(true);
  } else if (!open_length) {
    response.content_length(*length);
  }
  response.keep_alive(keep_alive);
  bhttp::response_serializer<bhttp::empty_body> serializer{response};
  client.expires_after(limits.client_write);
  std::tie(ec, std::ignore) = co_await bhttp::async_write_header(client, serializer, use_tuple);
  client.expires_never();
  if (ec) {
    co_return false;
  }
  client_writer to_client(client, chunked, limits.client_write);
  std::array<char, relay_buffer_size> buffer;
  while (!parser.is_done()) {
    parser.get().body().data = buffer.data();
    parser.get().body().size = buffer.size();
    engine.expires_after(limits.engine_idle);
    std::tie(ec, std::ignore)
      = co_await bhttp::async_read_some(engine, engine_buffer, parser, use_tuple);
    if (ec == bhttp::error::need_buffer) {
      ec = {};
    }
    auto got = buffer.size() - parser.get().body().size;
    // Each piece goes out as soon as it arrives: SSE events are not held back.
    if (got > 0 && !co_await to_client.write(net::buffer(buffer.data(), got))) {
      co_return false; // the client went away or stopped reading; the caller releases the lease
    }
    if (ec) {
      // No conditional expressions with temporaries in a coroutine: g++ 12 destroys such
      // temporaries twice.
      std::string what;
      if (cut->reason) {
        what = *cut->reason;
      } else if (ec == beast::error::timeout) {
        what = fmt::format("the engine of {} sent nothing for {} s", lease.model_path,
                           limits.engine_idle.count());
      } else {
        what
          = fmt::format("the engine of {} failed mid-response: {}", lease.model_path, ec.message());
      }
      log->warn("{} (port {})", what, lease.engine_port);
      if (event_stream) {
        auto event = stream_error_event(cut->reason ? 503 : 502, what);
        co_await to_client.write(net::buffer(event));
        co_await to_client.finish();
      }
      co_return false;
    }
  }
  if (!co_await to_client.finish()) {
    co_return false;
  }
  co_return keep_alive;
}

} // namespace llmux::http
