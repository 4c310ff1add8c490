#pragma once

#include <array>
#include <cstddef>
#include <span>
#include <string>
#include <string_view>

#include <boost/beast/http/basic_parser.hpp>

namespace llmux::http {

/// Parses an engine's response for relaying it: of the head it keeps only what the client's
/// head is made of (the status, the reason, the header lines to forward, as text), and of the
/// body where it lies in the caller's input. A relay copies each header once, into one string,
/// where a message container would allocate and index every field, and copies no body at all:
/// it writes the pieces out from its read buffer before it reads again.
///
/// A parse takes at most `max_pieces` pieces of body (one per chunk of a chunked body); one
/// that has no room for another stops with `error::need_buffer`, and the bytes it did not take
/// stay in the caller's input.
class engine_response_parser final : public boost::beast::http::basic_parser<false> {
public:
  /// Unlimited body (an answer is as long as the generation), Beast's default header limit.
  /// The forwarded header lines go into `fields` (emptied first), memory the caller keeps
  /// between responses: a keep-alive connection's relays then allocate nothing for them.
  explicit engine_response_parser(std::string& fields);

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

  /// A relay, which does not parse eagerly, gets one piece per parse; a relay's coroutine frame
  /// holds the parser, and Asio reuses only frames of up to 1,020 bytes.
  static constexpr std::size_t max_pieces = 2;

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
  using error_code = boost::system::error_code;
  using string_view = boost::beast::string_view;

  void on_request_impl(boost::beast::http::verb, string_view, string_view, int,
                       error_code&) override {
  }
  void on_response_impl(int code, string_view reason, int version, error_code& ec) override;
  void on_field_impl(boost::beast::http::field name, string_view name_string, string_view value,
                     error_code& ec) override;
  void on_header_impl(error_code&) override {
  }
  void on_body_init_impl(const boost::optional<std::uint64_t>&, error_code&) override {
  }
  std::size_t on_body_impl(string_view body, error_code& ec) override;
  void on_chunk_header_impl(std::uint64_t, string_view, error_code&) override {
  }
  std::size_t on_chunk_body_impl(std::uint64_t remain, string_view body, error_code& ec) override;
  void on_finish_impl(error_code&) override {
  }

  int status_ = 0;
  std::string reason_;
  bool event_stream_ = false;
  /// The caller's memory (a pointer, not a reference: restart_after_interim assigns anew).
  std::string* forwarded_;
  bool interim_seen_ = false;
  std::array<std::string_view, max_pieces> pieces_;
  std::size_t count_ = 0;
  std::size_t body_size_ = 0;
};

} // namespace llmux::http
