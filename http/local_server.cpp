#include "http/local_server.hpp"

#include <thread>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <fmt/format.h>

#include "http/session.hpp"

namespace llmux::http {

namespace bhttp = beast::http;

namespace {

constexpr std::size_t header_limit = 16 * 1024;
constexpr std::size_t body_limit = 1024 * 1024;
constexpr auto read_timeout = std::chrono::seconds(30);
constexpr auto write_timeout = std::chrono::seconds(30);

local_request to_local(const bhttp::request<bhttp::string_body>& request) {
  local_request out;
  out.method = std::string(request.method_string());
  out.target = std::string(request.target());
  out.authorization = std::string(request[bhttp::field::authorization]);
  out.content_type = std::string(request[bhttp::field::content_type]);
  out.body = request.body();
  return out;
}

bhttp::response<bhttp::string_body> to_beast(const local_response& answer, unsigned version,
                                             bool keep_alive) {
  bhttp::response<bhttp::string_body> response{static_cast<bhttp::status>(answer.status), version};
  response.set(bhttp::field::server, "llmux");
  response.set(bhttp::field::content_type, answer.content_type);
  for (const auto& [name, value] : answer.headers) {
    response.set(name, value);
  }
  response.keep_alive(keep_alive);
  response.body() = answer.body;
  response.prepare_payload();
  return response;
}

// Sends an event stream's head, then the events `answer.next_event` makes, until the client
// leaves.
net::awaitable<void> stream_events(beast::tcp_stream& stream, local_response& answer,
                                   unsigned version) {
  bhttp::response<bhttp::empty_body> head{bhttp::status::ok, version};
  head.set(bhttp::field::server, "llmux");
  head.set(bhttp::field::content_type, "text/event-stream");
  head.set(bhttp::field::cache_control, "no-cache");
  head.keep_alive(false);
  bhttp::response_serializer<bhttp::empty_body> serializer(head);
  stream.expires_after(write_timeout);
  auto [head_error, head_sent] = co_await bhttp::async_write_header(stream, serializer, use_tuple);
  if (head_error) {
    co_return;
  }
  net::steady_timer pause(stream.get_executor());
  for (;;) {
    auto pending = co_await async_callback<std::string>(
      [&](auto done) { answer.next_event(std::move(done)); }, net::use_awaitable);
    if (!pending.empty()) {
      stream.expires_after(write_timeout);
      auto [ec, n] = co_await net::async_write(stream, net::buffer(pending), use_tuple);
      if (ec) {
        co_return;
      }
    }
    pause.expires_after(std::chrono::milliseconds(answer.interval_ms));
    auto [waited] = co_await pause.async_wait(use_tuple);
    if (waited) {
      co_return;
    }
  }
}

net::awaitable<void> serve_connection(tcp::socket socket, std::shared_ptr<local_handler> handler) {
  beast::tcp_stream stream(std::move(socket));
  beast::flat_buffer buffer;
  for (;;) {
    bhttp::request_parser<bhttp::string_body> parser;
    parser.header_limit(header_limit);
    parser.body_limit(body_limit);
    stream.expires_after(read_timeout);
    auto [read_error, read] = co_await bhttp::async_read(stream, buffer, parser, use_tuple);
    if (read_error) {
      if (read_error == bhttp::error::body_limit || read_error == bhttp::error::header_limit) {
        auto response = to_beast(answer(413, R"({"error":"request too large"})"), 11, false);
        stream.expires_after(write_timeout);
        co_await bhttp::async_write(stream, response, use_tuple);
      }
      co_return;
    }
    auto request = parser.release();
    auto answer = co_await async_callback<local_response>(
      [&](auto done) { (*handler)(to_local(request), std::move(done)); }, net::use_awaitable);
    if (answer.next_event) {
      co_await stream_events(stream, answer, request.version());
      co_return;
    }
    auto response = to_beast(answer, request.version(), request.keep_alive());
    stream.expires_after(write_timeout);
    auto [write_error, written] = co_await bhttp::async_write(stream, response, use_tuple);
    if (write_error || !request.keep_alive()) {
      beast::error_code ignored;
      stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
      co_return;
    }
  }
}

net::awaitable<void> accept_loop(tcp::acceptor& acceptor, std::shared_ptr<local_handler> handler) {
  for (;;) {
    auto [ec, socket] = co_await acceptor.async_accept(use_tuple);
    if (ec == net::error::operation_aborted || !acceptor.is_open()) {
      co_return;
    }
    if (ec) {
      // Out of descriptors: wait a little rather than spin.
      net::steady_timer pause(acceptor.get_executor(), std::chrono::milliseconds(100));
      co_await pause.async_wait(use_tuple);
      continue;
    }
    beast::error_code ignored;
    socket.set_option(tcp::no_delay(true), ignored);
    net::co_spawn(acceptor.get_executor(), serve_connection(std::move(socket), handler),
                  net::detached);
  }
}

} // namespace

struct local_server::impl {
  net::io_context io{1};
  std::vector<std::unique_ptr<tcp::acceptor>> acceptors;
  std::vector<std::shared_ptr<local_handler>> handlers;
  std::thread thread;
};

local_server::local_server() : impl_(std::make_unique<impl>()) {
}

local_server::~local_server() {
  stop();
}

std::uint16_t local_server::listen(const std::string& host, std::uint16_t port,
                                   local_handler handler, std::string& error) {
  beast::error_code ec;
  auto address = net::ip::make_address(host, ec);
  if (ec) {
    error = fmt::format("invalid listen address {}: {}", host, ec.message());
    return 0;
  }
  auto acceptor = std::make_unique<tcp::acceptor>(impl_->io);
  tcp::endpoint endpoint(address, port);
  acceptor->open(endpoint.protocol(), ec);
  if (!ec) {
    acceptor->set_option(net::socket_base::reuse_address(true), ec);
  }
  if (!ec) {
    acceptor->bind(endpoint, ec);
  }
  if (!ec) {
    acceptor->listen(net::socket_base::max_listen_connections, ec);
  }
  if (ec) {
    error = fmt::format("cannot listen on {}:{}: {}", host, port, ec.message());
    return 0;
  }
  auto bound = acceptor->local_endpoint().port();
  impl_->handlers.push_back(std::make_shared<local_handler>(std::move(handler)));
  impl_->acceptors.push_back(std::move(acceptor));
  return bound;
}

void local_server::start() {
  auto& self = *impl_;
  if (self.acceptors.empty() || self.thread.joinable()) {
    return;
  }
  for (std::size_t i = 0; i < self.acceptors.size(); ++i) {
    net::co_spawn(self.io, accept_loop(*self.acceptors[i], self.handlers[i]), net::detached);
  }
  self.thread = std::thread([&io = self.io] { io.run(); });
}

void local_server::stop() {
  auto& self = *impl_;
  self.io.stop();
  if (self.thread.joinable()) {
    self.thread.join();
  }
}

} // namespace llmux::http
