#include <algorithm>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/read_size.hpp>
#include <boost/beast/http/error.hpp>

#include "http/drained_read.hpp"
#include "http/session.hpp"

namespace llmux::http {

namespace {

namespace bhttp = beast::http;

/// The most one socket read asks for, as Beast's reads.
constexpr std::size_t read_size_limit = 64 * 1024;
/// The most a read buffer grows to for reads that fill it: nginx's client_body_buffer_size.
/// Every client connection and every relay may hold one (4,096 connections: 64 MB each side).
constexpr std::size_t largest_read_room = 16 * 1024;
/// The room of a read made only when bytes are there (late_read_room): a page, as much as a
/// client connection keeps between its requests.
constexpr std::size_t late_read_size = 4096;

template <class Parser>
bool reached(const Parser& parser, read_until until) {
  return until == read_until::header ? parser.is_header_done() : parser.is_done();
}

} // namespace

template <class Parser>
std::optional<net::mutable_buffer> parse_buffered(beast::flat_buffer& buffer, Parser& parser,
                                                  read_until until, beast::error_code& ec) {
  // As Beast's: a header read stops parsing at its end, a whole read parses all it can.
  if (until == read_until::header) {
    parser.eager(false);
  } else if (until == read_until::message) {
    parser.eager(true);
  }
  ec = {};
  if (until != read_until::some && reached(parser, until)) {
    return std::nullopt;
  }
  for (;;) {
    ec = bhttp::error::need_more;
    std::size_t used = 0;
    if (buffer.size() > 0) {
      ec = {};
      used = parser.put(buffer.data(), ec);
      buffer.consume(used);
    }
    if (!ec) {
      if (until == read_until::some || reached(parser, until)) {
        return std::nullopt;
      }
      continue;
    }
    if (ec != bhttp::error::need_more) {
      return std::nullopt; // a parse error, a limit, or need_buffer (no room for more body)
    }
    ec = {};
    if (until == read_until::some && used > 0) {
      // Progress before the input ran out: back to the caller before a read, which may move
      // the bytes just consumed (a parser may keep views into them).
      return std::nullopt;
    }
    auto size = beast::read_size(buffer, read_size_limit);
    if (size == 0) {
      ec = bhttp::error::buffer_overflow;
      return std::nullopt;
    }
    // read_size keeps within the buffer's maximum: prepare does not throw.
    return buffer.prepare(size);
  }
}

bool malformed_message(const beast::error_code& ec) {
  return ec.category() == bhttp::make_error_code(bhttp::error::bad_target).category()
         && ec != bhttp::error::end_of_stream && ec != bhttp::error::partial_message;
}

template <class Parser>
bool take_read(beast::flat_buffer& buffer, Parser& parser, beast::error_code read_error,
               std::size_t read, std::size_t room, beast::error_code& ec) {
  if (read_error == net::error::eof) {
    // The peer closed: the end of a message that ends with the connection, else a message
    // cut short (or none at all).
    ec = {};
    if (!parser.got_some()) {
      ec = bhttp::error::end_of_stream;
    } else {
      parser.put_eof(ec);
    }
    return false;
  }
  ec = read_error;
  if (read_error) {
    return false;
  }
  buffer.commit(read);
  // A read that filled all its room says more is waiting: the next gets twice the room, up to
  // 16 KB. (A long body read 512 bytes at a time costs a system call, a handler and, on the
  // relay, a write per 512 bytes.)
  if (read == room && buffer.capacity() < largest_read_room) {
    buffer.reserve(std::min({2 * buffer.capacity(), buffer.max_size(), largest_read_room}));
  }
  return true;
}

template std::optional<net::mutable_buffer>
parse_buffered(beast::flat_buffer&, client_request_parser&, read_until, beast::error_code&);
template std::optional<net::mutable_buffer>
parse_buffered(beast::flat_buffer&, engine_response_parser&, read_until, beast::error_code&);
template bool take_read(beast::flat_buffer&, client_request_parser&, beast::error_code, std::size_t,
                        std::size_t, beast::error_code&);
template bool take_read(beast::flat_buffer&, engine_response_parser&, beast::error_code,
                        std::size_t, std::size_t, beast::error_code&);

net::mutable_buffer late_read_room::make() const {
  auto size = beast::read_size(*buffer, read_size_limit);
  // Made only when bytes are there, a later read's room may as well hold a usual request: a
  // chat request of a few KB then takes one read, not three into rooms that double from 512.
  return buffer->prepare(first_read ? size : std::max(size, late_read_size));
}

void late_read_room::nothing_came() const {
  if (buffer->size() == 0) {
    buffer->shrink_to_fit();
  }
}

net::awaitable<beast::error_code> read_http(tcp::socket& socket, beast::flat_buffer& buffer,
                                            engine_response_parser& parser, read_until until,
                                            read_wait_hook* hook) {
  buffered_read read(buffer, parser, until);
  while (read.needs_bytes()) {
    if (hook != nullptr) {
      hook->waiting();
    }
    read.took(co_await async_read_drained(socket, read.room(), use_tuple));
  }
  co_return read.result();
}

} // namespace llmux::http
