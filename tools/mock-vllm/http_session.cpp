#include "tools/mock-vllm/http_session.hpp"

#include <ctime>
#include <tuple>

#include <fmt/format.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http/chunk_encode.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/write.hpp>

namespace llmux::tools::mock_vllm {

namespace http = beast::http;

namespace {

constexpr auto use_tuple = net::as_tuple(net::use_awaitable);

int hex_value(char c) {
  if (c >= '0' && c <= '9') {
    return c - '0';
  }
  if (c >= 'a' && c <= 'f') {
    return c - 'a' + 10;
  }
  if (c >= 'A' && c <= 'F') {
    return c - 'A' + 10;
  }
  return -1;
}

std::string percent_decode(std::string_view text) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '+') {
      out += ' ';
    } else if (text[i] == '%' && i + 2 < text.size() && hex_value(text[i + 1]) >= 0
               && hex_value(text[i + 2]) >= 0) {
      out += static_cast<char>(hex_value(text[i + 1]) * 16 + hex_value(text[i + 2]));
      i += 2;
    } else {
      out += text[i];
    }
  }
  return out;
}

} // namespace

std::pair<std::string_view, query_list> split_target(std::string_view target) {
  auto question = target.find('?');
  auto path = target.substr(0, question);
  query_list query;
  if (question == std::string_view::npos) {
    return {path, query};
  }
  auto rest = target.substr(question + 1);
  while (!rest.empty()) {
    auto amp = rest.find('&');
    auto item = rest.substr(0, amp);
    rest = amp == std::string_view::npos ? std::string_view{} : rest.substr(amp + 1);
    if (item.empty()) {
      continue;
    }
    auto equals = item.find('=');
    auto value = equals == std::string_view::npos ? std::string_view{} : item.substr(equals + 1);
    query.emplace_back(percent_decode(item.substr(0, equals)), percent_decode(value));
  }
  return {path, query};
}

const std::string* find_query(const query_list& query, std::string_view key) {
  for (const auto& [name, value] : query) {
    if (name == key) {
      return &value;
    }
  }
  return nullptr;
}

net::awaitable<bool> reply(beast::tcp_stream& stream, const http_request& request,
                           http::status status, std::string_view content_type, std::string body,
                           std::optional<std::chrono::milliseconds> body_on_head) {
  http::response<http::string_body> response{status, request.version()};
  response.set(http::field::server, "mock-vllm");
  if (!content_type.empty()) {
    response.set(http::field::content_type, content_type);
  }
  response.keep_alive(request.keep_alive());
  response.body() = std::move(body);
  response.prepare_payload();
  // As uvicorn does, the answer to HEAD is the head alone (its Content-Length that of the body).
  http::response_serializer<http::string_body> serializer(response);
  beast::error_code failed;
  if (request.method() == http::verb::head) {
    std::tie(failed, std::ignore)
      = co_await http::async_write_header(stream, serializer, use_tuple);
    if (!failed && body_on_head) {
      net::steady_timer pause(stream.get_executor(), *body_on_head);
      co_await pause.async_wait(use_tuple);
      std::tie(failed, std::ignore)
        = co_await net::async_write(stream, net::buffer(response.body()), use_tuple);
    }
  } else {
    std::tie(failed, std::ignore) = co_await http::async_write(stream, serializer, use_tuple);
  }
  co_return !failed;
}

net::awaitable<bool> write_raw(beast::tcp_stream& stream, std::string_view bytes) {
  auto [failed, written] = co_await net::async_write(stream, net::buffer(bytes), use_tuple);
  co_return !failed;
}

event_stream::event_stream(beast::tcp_stream& stream, const http_request& request, bool timestamps)
  : stream_(stream), request_(request), timestamps_(timestamps) {
}

net::awaitable<bool> event_stream::open() {
  http::response<http::empty_body> response{http::status::ok, request_.version()};
  response.set(http::field::server, "mock-vllm");
  response.set(http::field::content_type, "text/event-stream; charset=utf-8");
  response.keep_alive(request_.keep_alive());
  response.chunked(true);
  http::response_serializer<http::empty_body> serializer{response};
  auto [ec, written] = co_await http::async_write_header(stream_, serializer, use_tuple);
  co_return !ec;
}

net::awaitable<bool> event_stream::send(std::string event) {
  if (timestamps_) {
    timespec now{};
    clock_gettime(CLOCK_MONOTONIC, &now);
    event.insert(0, fmt::format(": sent_ns={}\n", now.tv_sec * 1'000'000'000LL + now.tv_nsec));
  }
  auto [ec, written]
    = co_await net::async_write(stream_, http::make_chunk(net::buffer(event)), use_tuple);
  co_return !ec;
}

net::awaitable<bool> event_stream::close() {
  auto [ec, written] = co_await net::async_write(stream_, http::make_chunk_last(), use_tuple);
  co_return !ec;
}

net::awaitable<void> pause_for(double milliseconds) {
  if (milliseconds <= 0) {
    co_return;
  }
  net::steady_timer timer(co_await net::this_coro::executor);
  timer.expires_after(std::chrono::microseconds(static_cast<std::int64_t>(milliseconds * 1000)));
  co_await timer.async_wait(use_tuple);
}

} // namespace llmux::tools::mock_vllm
