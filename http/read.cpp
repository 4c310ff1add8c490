#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/read_size.hpp>
#include <boost/beast/http/error.hpp>

#include "http/session.hpp"

namespace llmux::http {

namespace {

namespace bhttp = beast::http;

constexpr auto use_tuple = net::as_tuple(net::use_awaitable);
/// The most one socket read asks for, as Beast's reads.
constexpr std::size_t read_size_limit = 64 * 1024;

template <bool isRequest>
bool reached(const bhttp::basic_parser<isRequest>& parser, read_until until) {
  return until == read_until::header ? parser.is_header_done() : parser.is_done();
}

template <bool isRequest>
net::awaitable<beast::error_code> read_parsed(tcp::socket& socket, beast::flat_buffer& buffer,
                                              bhttp::basic_parser<isRequest>& parser,
                                              read_until until, read_wait_hook* hook) {
  // As Beast's: a header read stops parsing at its end, a whole read parses all it can.
  if (until == read_until::header) {
    parser.eager(false);
  } else if (until == read_until::message) {
    parser.eager(true);
  }
  if (until != read_until::some && reached(parser, until)) {
    co_return beast::error_code{};
  }
  for (;;) {
    beast::error_code ec = bhttp::error::need_more;
    std::size_t used = 0;
    if (buffer.size() > 0) {
      ec = {};
      used = parser.put(buffer.data(), ec);
      buffer.consume(used);
    }
    if (!ec) {
      if (until == read_until::some || reached(parser, until)) {
        co_return ec;
      }
      continue;
    }
    if (ec == bhttp::error::need_more && until == read_until::some && used > 0) {
      // Progress before the input ran out: back to the caller before a read, which may move
      // the bytes just consumed (a parser may keep views into them).
      co_return beast::error_code{};
    }
    if (ec != bhttp::error::need_more) {
      co_return ec; // a parse error, a limit, or need_buffer (no room for more body)
    }
    auto size = beast::read_size(buffer, read_size_limit);
    if (size == 0) {
      co_return beast::error_code{bhttp::error::buffer_overflow};
    }
    if (hook != nullptr) {
      hook->waiting();
    }
    // read_size keeps within the buffer's maximum: prepare does not throw.
    auto [read_error, read] = co_await socket.async_read_some(buffer.prepare(size), use_tuple);
    if (read_error == net::error::eof) {
      // The peer closed: the end of a message that ends with the connection, else a message
      // cut short (or none at all).
      if (!parser.got_some()) {
        co_return beast::error_code{bhttp::error::end_of_stream};
      }
      beast::error_code at_end;
      parser.put_eof(at_end);
      co_return at_end;
    }
    if (read_error) {
      co_return read_error;
    }
    buffer.commit(read);
  }
}

} // namespace

net::awaitable<beast::error_code> read_http(tcp::socket& socket, beast::flat_buffer& buffer,
                                            bhttp::basic_parser<true>& parser, read_until until,
                                            read_wait_hook* hook) {
  return read_parsed(socket, buffer, parser, until, hook);
}

net::awaitable<beast::error_code> read_http(tcp::socket& socket, beast::flat_buffer& buffer,
                                            bhttp::basic_parser<false>& parser, read_until until,
                                            read_wait_hook* hook) {
  return read_parsed(socket, buffer, parser, until, hook);
}

} // namespace llmux::http
