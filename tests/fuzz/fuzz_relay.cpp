// Fuzz target: the response relay (forward_to_engine). The input is what an engine sends back:
// status line, headers and body, well-formed or not, cut short or not. An in-process "engine"
// on loopback answers the relayed request with it and closes. Whatever it is, the relay ends,
// the client gets the head of an HTTP response, and when the engine's response was complete
// and well-formed the client gets a complete response with the same status and body, unless
// llmux refuses it by design (refused_by_design), when the client gets a 502.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <memory>
#include <string>
#include <string_view>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <spdlog/sinks/null_sink.h>
#include <spdlog/spdlog.h>

#include "http/session.hpp"
#include "tests/fuzz/http_oracle.hpp"

namespace {

using namespace llmux::http;
namespace bhttp = beast::http;

constexpr auto use_tuple = net::as_tuple(net::use_awaitable);

struct loopback {
  // The relay logs through the "http" logger, as in the daemon; here its lines go nowhere.
  std::shared_ptr<spdlog::logger> log = spdlog::null_logger_mt("http");
  net::io_context io;
  // As an io thread's: it outlives every relay run on `io`.
  waiting_relays waiting{io.get_executor()};
  tcp::acceptor engine{io, {net::ip::make_address_v4("127.0.0.1"), 0}};
  tcp::acceptor proxy{io, {net::ip::make_address_v4("127.0.0.1"), 0}};
  /// The coroutines of the input under way that have not ended.
  int running = 0;

  /// A completion for co_spawn that counts the coroutine in `running` until it ends.
  auto count_done() {
    ++running;
    return [this](const std::exception_ptr&) { --running; };
  }
};

// The engine: reads one request, answers with `answer` verbatim, closes.
net::awaitable<void> engine(tcp::acceptor& acceptor, std::string answer) {
  auto [ec, socket] = co_await acceptor.async_accept(use_tuple);
  if (ec) {
    co_return;
  }
  beast::flat_buffer buffer;
  bhttp::request<bhttp::string_body> request;
  std::tie(ec, std::ignore) = co_await bhttp::async_read(socket, buffer, request, use_tuple);
  std::tie(ec, std::ignore) = co_await net::async_write(socket, net::buffer(answer), use_tuple);
  beast::error_code ignored;
  socket.shutdown(tcp::socket::shutdown_both, ignored);
}

// The client program: reads everything llmux sends until the connection ends.
net::awaitable<void> read_all(tcp::socket& user, std::string& received) {
  char buffer[4096];
  for (;;) {
    auto [ec, n] = co_await user.async_read_some(net::buffer(buffer), use_tuple);
    received.append(buffer, n);
    if (ec) {
      co_return;
    }
  }
}

// llmux's side: one request relayed to the engine, then the connection closed.
net::awaitable<void> relay(loopback& net_, tcp::socket& user, std::string& received) {
  auto [connect_error] = co_await user.async_connect(net_.proxy.local_endpoint(), use_tuple);
  auto [accept_error, accepted] = co_await net_.proxy.async_accept(use_tuple);
  if (connect_error || accept_error) {
    co_return;
  }
  net::co_spawn(net_.io, read_all(user, received), net_.count_done());
  tcp::socket client(std::move(accepted));
  client_request request{bhttp::verb::post, "/v1/chat/completions", 11};
  request.insert("Content-Type", "application/json");
  request.body() = R"({"model":"m","stream":true})";
  llmux::actors::lease_outcome lease;
  lease.granted = true;
  lease.engine_port = net_.engine.local_endpoint().port();
  lease.model_path = "m";
  relay_limits limits{std::chrono::seconds(5), std::chrono::seconds(5)};
  // No idle engine connections are kept: each input gets an engine of its own.
  engine_pool pool{{0, std::chrono::seconds(4)}};
  connection_deadlines deadlines(client);
  relay_strings strings;
  co_await forward_to_engine(
    client, request, "/v1/chat/completions", spliced_body(request.body()), lease,
    relay_context{pool, limits, deadlines, net_.waiting, strings, {}, {}, *spdlog::get("http")},
    std::make_shared<relay_cut>());
  beast::error_code ignored;
  client.shutdown(tcp::socket::shutdown_both, ignored);
  client.close(ignored);
}

// A response parsed whole from `bytes`, or nothing when it is not complete and well-formed.
std::optional<bhttp::response<bhttp::string_body>> parse_whole(const std::string& bytes) {
  bhttp::response_parser<bhttp::string_body> parser;
  parser.eager(true);
  // No whole body is longer than the input (string_body reserves what Content-Length says).
  parser.body_limit(bytes.size());
  beast::error_code ec;
  parser.put(net::buffer(bytes), ec);
  if (!ec && !parser.is_done()) {
    parser.put_eof(ec);
  }
  if (ec || !parser.is_done()) {
    return std::nullopt;
  }
  return parser.release();
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static loopback net_;
  std::string answer(reinterpret_cast<const char*>(data), size);
  std::string received;
  tcp::socket user(net_.io);
  net_.running = 0;
  net::co_spawn(net_.io, engine(net_.engine, answer), net_.count_done());
  net::co_spawn(net_.io, relay(net_, user, received), net_.count_done());
  // Until the three are done, not until io has no work: the waiting relays' tick stays armed
  // after a relay (50 ms), and waiting it out each time made the target 50 times slower.
  net_.io.restart();
  while (net_.running > 0 && net_.io.run_one() > 0) {
  }
  if (received.rfind("HTTP/1.1 ", 0) != 0) {
    __builtin_trap(); // no response head at all
  }
  // Beast reads a response without a length to the end of the connection, as llmux does.
  auto sent = parse_whole(answer);
  if (!sent || sent->result_int() < 200 || sent->result_int() == 204 || sent->result_int() == 304) {
    return 0;
  }
  auto got = parse_whole(received);
  if (llmux::fuzz::refused_by_design(answer)) {
    if (!got || got->result_int() != 502) {
      __builtin_trap(); // a refused answer was relayed
    }
    return 0;
  }
  if (!got || got->result_int() != sent->result_int() || got->body() != sent->body()) {
    __builtin_trap(); // a complete engine response did not arrive whole
  }
  return 0;
}
