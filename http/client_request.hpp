#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <boost/beast/http/field.hpp>
#include <boost/beast/http/verb.hpp>
#include <boost/system/error_code.hpp>

#include "http/message_parser.hpp"

namespace llmux::http {

/// A client's request as the proxy keeps it: the request line, the header lines as text and
/// the body. The target and every header line share one string (a message container allocates
/// and indexes each field); the headers the proxy reads on every request are noted as they are
/// parsed, others are found by a scan.
class client_request {
public:
  /// What a request that could not be read answers to: no method or target, HTTP/1.1.
  client_request() = default;
  /// A request made by hand (a refusal's answer, tests); keep-alive as HTTP/1.x's default.
  client_request(boost::beast::http::verb method, std::string_view target, unsigned version);

  /// `verb::unknown` for a method Beast does not name (method_string() has it).
  boost::beast::http::verb method() const {
    return method_;
  }
  /// The method as sent.
  std::string_view method_string() const;
  /// The request target as sent.
  std::string_view target() const {
    return std::string_view(text_).substr(target_at_, target_size_);
  }
  /// 11 for HTTP/1.1, 10 for HTTP/1.0.
  unsigned version() const {
    return version_;
  }
  /// Whether the connection stays open after the answer (by version and Connection).
  bool keep_alive() const {
    return keep_alive_;
  }
  /// Sets what `keep_alive()` says; an answer follows it.
  void keep_alive(bool keep) {
    keep_alive_ = keep;
  }

  /// A header's value (the first, if sent more than once); empty when absent.
  std::string_view operator[](boost::beast::http::field name) const;
  std::string_view operator[](std::string_view name) const;

  /// The bytes its strings hold (what keeping it for a connection's next request costs).
  std::size_t capacity() const {
    return text_.capacity() + body_.capacity();
  }

  /// Empties it for a next request to fill, keeping the memory its strings hold.
  void clear();

  /// Gives back the room its head (target and header lines) has beyond what they take; the
  /// body keeps its capacity (a JSON parser's padding lies in it).
  void shrink_head_to_fit() {
    text_.shrink_to_fit();
  }

  /// Appends `name: value` (for requests made by hand: tests, refusals).
  void insert(std::string_view name, std::string_view value);

  /// Room a body of known length gets beyond its end: a JSON parser that reads the body in
  /// place (simdjson) needs this much readable padding, and the body is not moved to add it.
  static constexpr std::size_t body_slack = 64;

  /// The body, whole (the proxy reads a request to its end before it forwards it).
  std::string& body() {
    return body_;
  }
  const std::string& body() const {
    return body_;
  }

  /// Calls `each(line)` for every header line the engine gets unchanged (forwards_request_header),
  /// in the client's order; `line` is "Name: value\r\n".
  template <class Each>
  void for_each_forwarded(Each&& each) const {
    std::size_t at = fields_at_;
    std::size_t index = 0;
    while (at < text_.size()) {
      auto end = text_.find('\n', at) + 1;
      if (forwarded(index, at)) {
        each(std::string_view(text_).substr(at, end - at));
      }
      at = end;
      ++index;
    }
  }

private:
  friend class client_request_parser;

  /// A header noted while parsing, by where its value lies in `text_`.
  struct noted {
    std::uint32_t at = 0;
    std::uint32_t size = 0;
    bool present = false;
  };
  /// The headers the proxy reads for every request.
  enum noted_field { authorization, x_api_key, model_override, expect, content_type, noted_count };

  /// Notes the header line just appended, its value at `value_at` in `text_`: whether it is
  /// forwarded, and where its value lies if it is a noted one (`noted`, else -1).
  void note_line(int noted, std::size_t value_at, std::size_t value_size, bool forwarded);
  /// Whether the line at `at`, the `index`th, is forwarded.
  bool forwarded(std::size_t index, std::size_t at) const;
  /// Which noted header a line names; -1 for none.
  static int noted_index(boost::beast::http::field name, std::string_view name_string);
  /// The value of noted header `index`; empty when it was not sent.
  std::string_view noted_value(int index) const;

  boost::beast::http::verb method_ = boost::beast::http::verb::unknown;
  unsigned version_ = 11;
  bool keep_alive_ = true;
  /// The method as sent (when Beast does not know it), the target, then the header lines.
  std::string text_;
  std::uint32_t method_size_ = 0;
  std::uint32_t target_at_ = 0;
  std::uint32_t target_size_ = 0;
  std::uint32_t fields_at_ = 0;
  /// For the first 64 header lines, one bit each: forwarded to the engine. Later lines (a
  /// request with more is rare) are judged again when iterated.
  std::uint64_t forwarded_lines_ = 0;
  std::size_t line_count_ = 0;
  noted noted_[noted_count]{};
  std::string body_;
};

/// Parses a client's request into a `client_request`: HTTP/1.0 and 1.1 as RFC 9112 frames a
/// request, taking each header line once (copied into the request's one string as it came,
/// and judged by its name's length first). Strict where a body's end is at stake, since
/// anything read as a body's end that is not would be read as the next request: lines end
/// with CRLF; no folded lines (RFC 9112, section 5.2 lets a server refuse them with 400); a
/// Content-Length is a list of equal numbers, never beside a Transfer-Encoding; a
/// Transfer-Encoding is one field saying just "chunked" (a body chunked over another coding is
/// `unsupported_transfer_coding`). A request-target is visible ASCII, as the engine's server
/// takes it. Empty lines before a request line are passed by (RFC 9112, section 2.2). Errors
/// are Beast's (`boost::beast::http::error`), as its request parser gives them. (Beast's parser
/// cost about 3,000 instructions per request: BENCHMARKS.md, "Data path".)
class client_request_parser final : public message_parser<client_request_parser> {
public:
  /// Beast's default header limit.
  static constexpr std::uint32_t default_header_limit = 8 * 1024;

  client_request_parser();
  /// Fills `memory`, emptied first: a keep-alive connection's requests can reuse the strings of
  /// the one before.
  explicit client_request_parser(client_request memory);

  /// The most the head (request line, header lines, the empty line) and, apart, the trailer
  /// lines of a chunked body may take; 8 KB unless set (before parsing).
  void header_limit(std::uint32_t bytes);
  /// The longest body taken; 1 MB unless set.
  void body_limit(std::uint64_t bytes) {
    body_limit_ = bytes;
  }

  /// The Content-Length the client sent (with a head read whole).
  std::optional<std::uint64_t> content_length() const {
    return content_length_;
  }

  /// The request read so far (whole once is_done()).
  client_request& get() {
    return request_;
  }
  const client_request& get() const {
    return request_;
  }
  /// Hands the request over; the parser is done with it.
  client_request release() {
    return std::move(request_);
  }

  /// After `bad_transfer_encoding`: whether the request's body was chunked over another coding
  /// ("gzip, chunked": not implemented) rather than framed ambiguously (chunked not the final
  /// coding, or given twice: a bad request).
  bool unsupported_transfer_coding() const {
    return unsupported_transfer_coding_;
  }
  /// After `bad_version`: whether the version was well formed, only not HTTP/1.x.
  bool unsupported_version() const {
    return unsupported_version_;
  }

private:
  friend class message_parser<client_request_parser>;
  using error_code = boost::system::error_code;

  bool parse_head(const char*& first, const char* last, error_code& ec);
  void parse_request_line(std::string_view line, error_code& ec);
  /// Takes a header line whose value lies at `value_at` in the request's string.
  void take_field(std::string_view name, std::string_view value, std::size_t value_at,
                  error_code& ec);
  void take_connection(std::string_view value);
  void take_transfer_encoding(std::string_view value);
  void end_head(error_code& ec);
  bool take_body(const char* first, std::size_t size, error_code& ec);

  client_request request_;
  std::uint64_t body_limit_ = 1024 * 1024;
  std::optional<std::uint64_t> content_length_;
  std::uint32_t header_limit_ = default_header_limit;
  /// How much of the head earlier parses took (whole lines).
  std::uint32_t head_taken_ = 0;
  bool request_line_read_ = false;
  bool connection_close_ = false;
  bool connection_keep_alive_ = false;
  /// Transfer-Encoding fields seen, and what the last one said.
  int transfer_encodings_ = 0;
  bool plain_chunked_ = false;
  bool finally_chunked_ = false;
  bool unsupported_transfer_coding_ = false;
  bool unsupported_version_ = false;
};

} // namespace llmux::http
