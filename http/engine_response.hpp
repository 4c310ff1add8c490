#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include <boost/system/error_code.hpp>

#include "http/message_parser.hpp"

namespace llmux::http {

/// Parses an engine's response for relaying it: of the head it keeps only what the client's
/// head is made of (the status, the reason, the header lines to forward, as text), and of the
/// body where it lies in the caller's input. A relay copies each header once, into one string,
/// where a message container would allocate and index every field, and copies no body at all:
/// it writes the pieces out from its read buffer before it reads again.
///
/// HTTP/1.0 and 1.1 as RFC 9112 frames a response, strictly where framing is at stake: lines
/// end with CRLF; a Content-Length (a list of equal numbers, in one or more fields) or a
/// Transfer-Encoding, never both, and chunked the only transfer coding; no folded lines
/// (RFC 9112, section 5.2 lets a proxy refuse them with a 502). The head is read a whole line
/// at a time, each line once, and taken from the input only whole (at most `header_limit`
/// bytes, as Beast's default for all of it). Errors are Beast's
/// (`boost::beast::http::error`): need_more, need_buffer, partial_message and the bad_* ones
/// for what is malformed. (Beast's own parser cost about a sixth of llmux's instructions per
/// request, most of it on header lines the relay only copies: BENCHMARKS.md, "Data path".)
///
/// A parse takes at most `max_pieces` pieces of body (one per chunk of a chunked body); one
/// that has no room for another stops with `need_buffer`, and the bytes it did not take stay in
/// the caller's input.
class engine_response_parser : public message_parser<engine_response_parser> {
public:
  /// The most a head (status line, header lines, the empty line) may take.
  static constexpr std::size_t header_limit = 8 * 1024;

  /// A relay gets up to this many pieces per parse; a relay's coroutine frame holds the
  /// parser, and Asio reuses only frames of up to 1,020 bytes.
  static constexpr std::size_t max_pieces = 2;

  /// Unlimited body (an answer is as long as the generation). The forwarded header lines go
  /// into `fields` (emptied first), memory the caller keeps between responses: a keep-alive
  /// connection's relays then allocate nothing for them.
  explicit engine_response_parser(std::string& fields);

  /// Whether the answer has no body whatever its fields say: the answer to HEAD.
  void skip(bool no_body) {
    skip_body_ = no_body;
  }

  /// Whether the connection may carry the next request (after a whole answer).
  bool keep_alive() const;
  /// The Content-Length the engine sent (with a head read whole).
  std::optional<std::uint64_t> content_length() const {
    return content_length_;
  }
  /// Whether the body comes chunked.
  bool chunked() const {
    return chunked_;
  }

  /// The status code as sent (one Beast does not name, 420 or 599, too).
  int status() const {
    return status_;
  }
  /// Whether the head parsed is an interim answer (1xx): the final one follows it on the same
  /// connection (RFC 9110, section 15.2).
  bool interim() const {
    return status_ >= 100 && status_ < 200;
  }
  /// After an interim answer: parses the next answer from scratch (its status, fields and
  /// framing), `skip_body` as `skip`.
  void restart_after_interim(bool skip_body);
  /// Whether the engine has sent any part of an answer, an interim one included: then it has
  /// the request, which must not go again.
  bool answered_some() const {
    return got_some() || interim_seen_;
  }

  /// The reason phrase as the engine sent it (possibly empty).
  std::string_view reason() const {
    return reason_;
  }

  /// Whether the engine answers with an event stream (Content-Type text/event-stream).
  bool event_stream() const {
    return event_stream_;
  }

  /// The header lines the client gets unchanged, "Name: value\r\n" each, in the engine's order:
  /// all but the hop-by-hop ones (forwards_response_header), whose framing the relay sets.
  std::string_view forwarded_fields() const {
    return *forwarded_;
  }

  /// The body the parses since `clear_body` took: views into the input they were given, valid
  /// while that memory is (a relay writes them out before its buffer takes more bytes).
  std::span<const std::string_view> body_pieces() const {
    return {pieces_.data(), count_};
  }

  /// The bytes in `body_pieces`.
  std::size_t body_size() const {
    return body_size_;
  }

  void clear_body() {
    count_ = 0;
    body_size_ = 0;
  }

private:
  friend class message_parser<engine_response_parser>;

  // The head, from `first`: whether it is all there and parsed (`first` then past it).
  bool parse_head(const char*& first, const char* last, boost::system::error_code& ec);
  void parse_status_line(std::string_view line, boost::system::error_code& ec);
  // Takes what a header line says about the framing; whether the client gets the line.
  bool take_field(std::string_view name, std::string_view value, boost::system::error_code& ec);
  void take_connection(std::string_view value);
  void take_transfer_encoding(std::string_view value, boost::system::error_code& ec);
  void end_head();
  // A piece of body, if there is room for it (else need_buffer). (Inline: once per event of a
  // stream.)
  bool take_body(const char* first, std::size_t size, boost::system::error_code& ec) {
    if (count_ == max_pieces) {
      ec = boost::beast::http::error::need_buffer;
      return false;
    }
    pieces_[count_++] = std::string_view(first, size);
    body_size_ += size;
    return true;
  }

  int status_ = 0;
  bool http11_ = false;
  bool connection_close_ = false;
  bool connection_keep_alive_ = false;
  bool chunked_ = false;
  bool ends_with_connection_ = false;
  bool event_stream_ = false;
  bool skip_body_ = false;
  bool interim_seen_ = false;
  std::uint8_t count_ = 0;
  /// How much of the head earlier parses took (whole lines; 0 before the status line).
  std::uint16_t head_taken_ = 0;
  std::optional<std::uint64_t> content_length_;
  std::string reason_;
  /// The caller's memory (a pointer, not a reference: restart_after_interim assigns anew).
  std::string* forwarded_;
  std::array<std::string_view, max_pieces> pieces_;
  std::size_t body_size_ = 0;
};

} // namespace llmux::http
