#include "http/server.hpp"

#include <array>
#include <atomic>
#include <memory>
#include <sys/socket.h>
#include <thread>
#include <tuple>
#include <vector>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "config/json_writer.hpp"
#include "http/errors.hpp"
#include "http/model_extract.hpp"
#include "http/router.hpp"
#include "http/session.hpp"

namespace llmux::http {

namespace bhttp = beast::http;

namespace {

constexpr auto use_tuple = net::as_tuple(net::use_awaitable);
constexpr auto linger_timeout = std::chrono::seconds(2);

// Turns a call that reports through a callback (on an actor thread) into an Asio operation whose
// completion runs on the handler's executor: the connection's strand, never the actor thread.
// `start(done)` makes the call.
template <class Result, class Start, class Token>
auto async_callback(Start start, Token&& token) {
  return net::async_initiate<Token, void(Result)>(
    [start = std::move(start)](auto handler) mutable {
      auto work = net::make_work_guard(net::get_associated_executor(handler));
      auto shared = std::make_shared<decltype(handler)>(std::move(handler));
      start([shared, work](Result result) mutable {
        auto executor = work.get_executor();
        net::post(executor, [shared, work = std::move(work), result = std::move(result)]() mutable {
          (*shared)(std::move(result));
        });
      });
    },
    token);
}

/// Shared by a request and the watcher that notices its client leaving while it waits.
struct wait_watch {
  std::uint64_t ticket = 0;
  bool client_gone = false;
};

// Waits until the client's socket becomes readable while its request waits for a lease; a
// peek that finds the connection closed cancels the request in the scheduler.
net::awaitable<void> watch_client(tcp::socket& socket, actors::serving_backend& backend,
                                  std::shared_ptr<wait_watch> watch) {
  auto [ec] = co_await socket.async_wait(tcp::socket::wait_read, use_tuple);
  if (ec) {
    co_return; // cancelled: the lease came first
  }
  char byte;
  auto peeked = ::recv(socket.native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  if (peeked == 0 || (peeked < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) {
    watch->client_gone = true;
    backend.release(watch->ticket);
  }
}

// Returns the ticket exactly once, however the request ends.
class lease_guard {
public:
  lease_guard(actors::serving_backend& backend, std::uint64_t ticket)
    : backend_(backend), ticket_(ticket) {
  }
  lease_guard(const lease_guard&) = delete;
  lease_guard& operator=(const lease_guard&) = delete;
  ~lease_guard() {
    backend_.release(ticket_);
  }

private:
  actors::serving_backend& backend_;
  std::uint64_t ticket_;
};

std::string model_list(const std::vector<std::string>& names) {
  auto created = std::chrono::duration_cast<std::chrono::seconds>(
                   std::chrono::system_clock::now().time_since_epoch())
                   .count();
  std::string data;
  for (const auto& name : names) {
    data += fmt::format(R"({}{{"id":{},"object":"model","created":{},"owned_by":"llmux"}})",
                        data.empty() ? "" : ",", config::json_quote(name), created);
  }
  return fmt::format(R"({{"object":"list","data":[{}]}})", data);
}

} // namespace

// Closing a socket with unread input makes the kernel reset the connection, which can destroy
// an error response the client has not read yet. So stop sending, then read and discard what
// the client still sends, for a bounded time.
net::awaitable<void> linger(beast::tcp_stream& client) {
  beast::error_code ignored;
  client.socket().shutdown(tcp::socket::shutdown_send, ignored);
  client.expires_after(linger_timeout);
  std::array<char, 16 * 1024> sink;
  for (;;) {
    auto [ec, n] = co_await client.async_read_some(net::buffer(sink), use_tuple);
    if (ec) {
      co_return;
    }
  }
}

net::awaitable<bool> send_response(beast::tcp_stream& client, const client_request& request,
                                   int status, std::string content_type, std::string body) {
  bhttp::response<bhttp::string_body> response{static_cast<bhttp::status>(status),
                                               request.version()};
  response.set(bhttp::field::server, "llmux");
  response.set(bhttp::field::content_type, content_type);
  response.keep_alive(request.keep_alive());
  response.body() = std::move(body);
  response.prepare_payload();
  auto [ec, n] = co_await bhttp::async_write(client, response, use_tuple);
  co_return !ec && request.keep_alive();
}

net::awaitable<bool> send_error(beast::tcp_stream& client, const client_request& request,
                                int status, std::string_view message, std::string_view param) {
  co_return co_await send_response(client, request, status, "application/json",
                                   openai_error(status, message, param));
}

struct proxy_server::impl {
  impl(actors::serving_backend& backend, server_settings settings)
    : backend_(backend), settings_(std::move(settings)),
      io_(static_cast<int>(settings_.io_threads)), acceptor_(net::make_strand(io_)) {
  }

  net::awaitable<void> accept_loop();
  net::awaitable<void> serve_connection(tcp::socket socket);
  net::awaitable<bool> handle(beast::tcp_stream& client, client_request& request);
  net::awaitable<bool> proxy(beast::tcp_stream& client, client_request& request);

  actors::serving_backend& backend_;
  server_settings settings_;
  net::io_context io_;
  tcp::acceptor acceptor_;
  std::vector<std::thread> threads_;
  std::shared_ptr<spdlog::logger> log_ = spdlog::get("http");
};

net::awaitable<void> proxy_server::impl::accept_loop() {
  for (;;) {
    auto [ec, socket] = co_await acceptor_.async_accept(net::make_strand(io_), use_tuple);
    if (ec == net::error::operation_aborted || !acceptor_.is_open()) {
      co_return;
    }
    if (ec) {
      continue;
    }
    auto executor = socket.get_executor();
    net::co_spawn(executor, serve_connection(std::move(socket)), net::detached);
  }
}

net::awaitable<void> proxy_server::impl::serve_connection(tcp::socket socket) {
  beast::tcp_stream client(std::move(socket));
  beast::flat_buffer buffer;
  for (;;) {
    bhttp::request_parser<bhttp::string_body> parser;
    parser.header_limit(static_cast<std::uint32_t>(settings_.header_limit));
    parser.body_limit(settings_.body_limit);
    client.expires_after(settings_.idle_timeout);
    beast::error_code ec;
    std::tie(ec, std::ignore)
      = co_await bhttp::async_read_header(client, buffer, parser, use_tuple);
    if (!ec && !parser.is_done()
        && beast::iequals(parser.get()[bhttp::field::expect], "100-continue")) {
      // The client holds a large body back until it hears this (curl waits a second).
      bhttp::response<bhttp::empty_body> go_on{bhttp::status::continue_, parser.get().version()};
      std::tie(ec, std::ignore) = co_await bhttp::async_write(client, go_on, use_tuple);
    }
    if (!ec && !parser.is_done()) {
      std::tie(ec, std::ignore) = co_await bhttp::async_read(client, buffer, parser, use_tuple);
    }
    if (ec == bhttp::error::body_limit || ec == bhttp::error::header_limit) {
      client_request head{parser.get().method(), parser.get().target(), parser.get().version()};
      head.keep_alive(false);
      // No conditional expressions with temporaries around co_await: g++ 12 destroys such
      // temporaries twice.
      int status = 431;
      auto message = fmt::format("the request headers exceed {} bytes", settings_.header_limit);
      if (ec == bhttp::error::body_limit) {
        status = 413;
        message = fmt::format("the request body exceeds {} bytes", settings_.body_limit);
      }
      co_await send_error(client, head, status, message);
      co_await linger(client);
      co_return;
    }
    if (ec) {
      break; // end of stream, idle timeout or a malformed request: close
    }
    client.expires_never();
    auto request = parser.release();
    if (!co_await handle(client, request)) {
      break;
    }
  }
  beast::error_code ignored;
  client.socket().shutdown(tcp::socket::shutdown_send, ignored);
}

net::awaitable<bool> proxy_server::impl::handle(beast::tcp_stream& client,
                                                client_request& request) {
  auto target = std::string_view(request.target());
  auto path = target.substr(0, target.find('?'));
  switch (route_of(std::string_view(request.method_string()), path)) {
    case route::health:
      co_return co_await send_response(client, request, 200, "application/json",
                                       R"({"status":"ok"})");
    case route::model_list:
      co_return co_await send_response(client, request, 200, "application/json",
                                       model_list(backend_.model_names()));
    case route::status: {
      auto text = co_await async_callback<std::string>(
        [&](auto done) { backend_.status(std::move(done)); }, net::use_awaitable);
      co_return co_await send_response(client, request, 200, "application/json", std::move(text));
    }
    case route::engine_control:
      co_return co_await send_error(
        client, request, 404,
        fmt::format("{} is an engine control endpoint; llmux does not forward it", path));
    case route::method_not_allowed:
      co_return co_await send_error(
        client, request, 405,
        fmt::format("{} does not allow {}", path, std::string_view(request.method_string())));
    case route::proxy:
      break;
  }
  co_return co_await proxy(client, request);
}

net::awaitable<bool> proxy_server::impl::proxy(beast::tcp_stream& client, client_request& request) {
  auto reference = find_model(request["model-override"], request.body());
  if (!reference.error.empty()) {
    co_return co_await send_error(client, request, 400, reference.error);
  }
  if (reference.model.empty()) {
    co_return co_await send_error(client, request, 400,
                                  "no model named: set the body's \"model\" or the "
                                  "model-override header",
                                  "model");
  }
  const auto& names = backend_.model_names();
  if (std::find(names.begin(), names.end(), reference.model) == names.end()) {
    co_return co_await send_error(client, request, 404,
                                  fmt::format("The model `{}` does not exist.", reference.model),
                                  "model");
  }
  // While the request waits, a watcher notices a client that leaves and cancels the wait. It
  // reads the ticket only after its socket wait completes, by when acquire has assigned it.
  auto watch = std::make_shared<wait_watch>();
  net::co_spawn(co_await net::this_coro::executor, watch_client(client.socket(), backend_, watch),
                net::detached);
  auto outcome = co_await async_callback<actors::lease_outcome>(
    [&](auto done) {
      watch->ticket = backend_.acquire(reference.model, settings_.request_timeout, std::move(done));
    },
    net::use_awaitable);
  beast::error_code ignored;
  client.socket().cancel(ignored);
  if (watch->client_gone) {
    if (outcome.granted) {
      backend_.release(watch->ticket);
    }
    co_return false;
  }
  if (!outcome.granted) {
    co_return co_await send_error(client, request, outcome.status, outcome.message);
  }
  lease_guard lease(backend_, watch->ticket);
  auto body = reference.body_span
                ? splice_model(request.body(), *reference.body_span, outcome.model_path)
                : std::move(request.body());
  log_->debug("{} {} -> {} (port {})", std::string_view(request.method_string()),
              std::string_view(request.target()), reference.model, outcome.engine_port);
  co_return co_await forward_to_engine(client, request, std::move(body), outcome);
}

proxy_server::proxy_server(actors::serving_backend& backend, server_settings settings)
  : impl_(std::make_unique<impl>(backend, std::move(settings))) {
}

proxy_server::~proxy_server() {
  stop();
}

std::uint16_t proxy_server::start(std::string& error) {
  auto& self = *impl_;
  beast::error_code ec;
  auto address = net::ip::make_address(self.settings_.host, ec);
  if (ec) {
    error = fmt::format("invalid listen address {}: {}", self.settings_.host, ec.message());
    return 0;
  }
  tcp::endpoint endpoint(address, self.settings_.port);
  self.acceptor_.open(endpoint.protocol(), ec);
  if (!ec) {
    self.acceptor_.set_option(net::socket_base::reuse_address(true), ec);
    self.acceptor_.bind(endpoint, ec);
  }
  if (!ec) {
    self.acceptor_.listen(net::socket_base::max_listen_connections, ec);
  }
  if (ec) {
    error = fmt::format("cannot listen on {}:{}: {}", self.settings_.host, self.settings_.port,
                        ec.message());
    return 0;
  }
  auto port = self.acceptor_.local_endpoint().port();
  net::co_spawn(self.acceptor_.get_executor(), self.accept_loop(), net::detached);
  for (std::size_t i = 0; i < self.settings_.io_threads; ++i) {
    self.threads_.emplace_back([&self] { self.io_.run(); });
  }
  return port;
}

void proxy_server::stop_accepting() {
  auto& self = *impl_;
  net::post(self.acceptor_.get_executor(), [&self] {
    beast::error_code ignored;
    self.acceptor_.close(ignored);
  });
}

void proxy_server::stop() {
  auto& self = *impl_;
  self.io_.stop();
  for (auto& thread : self.threads_) {
    if (thread.joinable()) {
      thread.join();
    }
  }
  self.threads_.clear();
}

} // namespace llmux::http
