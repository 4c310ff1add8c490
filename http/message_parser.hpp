#pragma once

// What parsing an HTTP/1.x message (RFC 9112) takes whichever side sent it: where a line ends,
// what Content-Length says, where the body ends, and the parse calls a buffered read makes.
// The client's request parser and the engine's response parser are built on it.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

#include <boost/asio/buffer.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/system/error_code.hpp>

namespace llmux::http {

/// The line at `first` without its CRLF, if it ends within `limit` bytes and before `last`.
/// Nothing while it may still come whole; nothing with `ec` set when it cannot: `too_long`
/// when `limit` bytes hold no line end, bad_line_ending when a bare LF ends it.
std::optional<std::string_view> read_crlf_line(const char* first, const char* last,
                                               std::size_t limit,
                                               boost::system::error_code too_long,
                                               boost::system::error_code& ec);

/// Takes a Content-Length field's value into `length`: a list of equal numbers, in one field or
/// several, is one length (RFC 9110, section 8.6). Digits only, within 64 bits, else
/// bad_content_length; lengths that differ are multiple_content_length.
void read_content_length(std::string_view value, std::optional<std::uint64_t>& length,
                         boost::system::error_code& ec);

/// Where a message's body ends as its bytes arrive: after a length, at the connection's end,
/// or chunk by chunk (RFC 9112, sections 6 and 7.1: chunk extensions and trailer lines are
/// passed by). It hands the body's bytes to its caller's `sink`, piece by piece, and keeps
/// none.
class body_framing {
public:
  /// The longest chunk-size line (with its extensions) taken.
  static constexpr std::size_t chunk_line_limit = 8 * 1024;

  /// Trailer lines may take `trailer_limit` bytes in all. No body until one is framed.
  explicit body_framing(std::uint32_t trailer_limit) : trailer_limit_(trailer_limit) {
  }

  /// The body is `length` bytes (none: done at once).
  void by_length(std::uint64_t length) {
    remaining_ = length;
    state_ = length > 0 ? state::length : state::done;
  }
  void chunked() {
    state_ = state::chunk_size;
  }
  /// The body ends when the connection does.
  void to_eof() {
    state_ = state::to_eof;
  }
  void none() {
    state_ = state::done;
  }

  bool done() const {
    return state_ == state::done;
  }
  /// The connection ended: whether that ends the body (else it was cut short).
  bool end_at_eof() {
    if (state_ == state::to_eof) {
      state_ = state::done;
    }
    return done();
  }

  /// Where the body's pieces go: `take(context, data, size, ec)` says whether it took the
  /// piece (else the parse stops, with `ec` saying why).
  struct sink {
    void* context;
    bool (*take)(void* context, const char* data, std::size_t size, boost::system::error_code& ec);
  };

  /// Parses the body from `first`, handing each piece of it to `to`. Returns how far it got:
  /// at the body's end, where the input ran out, where `to` declined or an error (`ec`)
  /// stopped it. (One call with an indirect one per piece: an event of a stream is a piece,
  /// and a loop in a template around a call per framing step cost each event about 70
  /// instructions more.)
  const char* parse(const char* first, const char* last, sink to, boost::system::error_code& ec);

private:
  enum class state : std::uint8_t {
    done,
    length,     ///< `remaining_` bytes of body left
    to_eof,     ///< the body ends with the connection
    chunk_size, ///< a chunk-size line is next
    chunk_data, ///< `remaining_` bytes of the chunk left
    chunk_end,  ///< the CRLF after a chunk's data is next
    trailer,    ///< trailer lines after the last chunk, up to an empty one
  };

  bool take_chunk_size(std::string_view line, boost::system::error_code& ec);

  state state_ = state::done;
  std::uint32_t trailer_limit_;
  /// The trailer bytes taken so far.
  std::uint32_t trailer_taken_ = 0;
  std::uint64_t remaining_ = 0;
};

/// The parse calls a buffered read makes, shared by the request and the response parser:
/// `Message` parses its head (`parse_head(first, last, ec)`: whether the head is all there and
/// read, `first` then past it; false with `ec` when it is malformed) and frames its body in
/// `body_`, taking the body's pieces in `take_body(data, size, ec)`. A head is taken only whole; a
/// parse takes what it can.
template <class Message>
class message_parser {
public:
  /// Parses what it can of `input`, which starts where the last parse stopped taking bytes;
  /// returns how many bytes it took. Until the head is whole each parse takes nothing and says
  /// need_more (as it does when the input holds nothing more it can take).
  std::size_t put(boost::asio::const_buffer input, boost::system::error_code& ec) {
    using boost::beast::http::error;
    ec = {};
    const auto* first = static_cast<const char*>(input.data());
    const auto* last = first + input.size();
    if (input.size() == 0) {
      if (!is_done()) {
        ec = error::need_more; // (an empty buffer's data may be null: not to be read)
      }
      return 0;
    }
    got_some_ = true;
    const auto* next = first;
    if (!head_done_) {
      if (!self().parse_head(next, last, ec)) {
        if (!ec) {
          ec = error::need_more;
        }
        return 0;
      }
      head_done_ = true;
      if (!eager_) {
        return static_cast<std::size_t>(next - first);
      }
    }
    auto take
      = [](void* message, const char* data, std::size_t size, boost::system::error_code& failed) {
          return static_cast<Message*>(message)->take_body(data, size, failed);
        };
    next = body_.parse(next, last, {&self(), take}, ec);
    if (!ec && next == first && !is_done()) {
      ec = error::need_more;
    }
    return static_cast<std::size_t>(next - first);
  }

  /// The peer closed its connection: the end of a body that ends with it, else
  /// partial_message.
  void put_eof(boost::system::error_code& ec) {
    ec = {};
    if (!head_done_ || !body_.end_at_eof()) {
      ec = boost::beast::http::error::partial_message;
    }
  }

  /// Whether a parse that completes the head goes on into the body (else it stops there, and
  /// the body's first bytes stay in the input for the next parse).
  void eager(bool go_on) {
    eager_ = go_on;
  }

  /// Whether the peer sent anything (its first byte counts).
  bool got_some() const {
    return got_some_;
  }
  bool is_header_done() const {
    return head_done_;
  }
  bool is_done() const {
    return head_done_ && body_.done();
  }

protected:
  explicit message_parser(std::uint32_t trailer_limit) : body_(trailer_limit) {
  }

  body_framing body_;

private:
  Message& self() {
    return static_cast<Message&>(*this);
  }

  bool head_done_ = false;
  bool eager_ = false;
  bool got_some_ = false;
};

} // namespace llmux::http
