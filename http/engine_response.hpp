#pragma once

#include <cstddef>
#include <span>
#include <string>
#include <string_view>

#include <boost/beast/http/basic_parser.hpp>

namespace llmux::http {

/// Parses an engine's response for relaying it: of the head it keeps only what the client's
/// head is made of (the status, the reason, the header lines to forward, as text), and the body
/// goes into whatever space the caller lends. A relay copies each header once, into one string,
/// where a message container would allocate and index every field.
///
/// The body follows Beast's buffer_body: a parse that fills the lent space stops with
/// `error::need_buffer`, the bytes it did not take stay in the caller's input.
class engine_response_parser final : public boost::beast::http::basic_parser<false> {
public:
  /// Unlimited body (an answer is as long as the generation), Beast's default header limit.
  engine_response_parser();

  int status() const {
    return status_;
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
    return forwarded_;
  }

  /// Lends `space` to the body: the parses that follow put body bytes there, from its start.
  void lend(std::span<char> space) {
    lent_ = space;
    filled_ = 0;
  }

  /// How many bytes of the lent space hold body.
  std::size_t filled() const {
    return filled_;
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
  std::string forwarded_;
  std::span<char> lent_;
  std::size_t filled_ = 0;
};

} // namespace llmux::http
