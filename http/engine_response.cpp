#include "http/engine_response.hpp"

#include <algorithm>

#include <boost/beast/http/error.hpp>

#include "http/field_syntax.hpp"
#include "http/headers.hpp"

namespace llmux::http {

namespace {

using boost::system::error_code;
using bhttp_error = boost::beast::http::error;

} // namespace

engine_response_parser::engine_response_parser(std::string& fields)
  : message_parser(header_limit), forwarded_(&fields) {
  forwarded_->clear();
}

void engine_response_parser::restart_after_interim(bool skip_body) {
  *this = engine_response_parser(*forwarded_);
  interim_seen_ = true;
  skip_body_ = skip_body;
}

bool engine_response_parser::keep_alive() const {
  bool persistent = http11_ ? !connection_close_ : connection_keep_alive_;
  return persistent && !ends_with_connection_;
}

bool engine_response_parser::parse_head(const char*& first, const char* last, error_code& ec) {
  // Line by line, each parsed once: a head that arrives in pieces goes on where the last parse
  // stopped, at its first line that was not whole (the input may have moved since: the
  // caller's buffer grows; nothing points into it between parses).
  const auto* limit = first + std::min(header_limit, static_cast<std::size_t>(last - first));
  const auto* next = first + head_taken_;
  if (head_taken_ == 0) {
    auto line = read_crlf_line(first, last, header_limit, bhttp_error::header_limit, ec);
    if (!line) {
      return false;
    }
    parse_status_line(*line, ec);
    if (ec) {
      return false;
    }
    next = line->data() + line->size() + 2;
  }
  fields_read outcome{};
  {
    field_line_copier copier(*forwarded_);
    outcome = read_field_lines(
      next, limit,
      [&](const field_line& line) {
        if (take_field(line.name, line.value, ec)) {
          copier.copy(line);
        }
        return !ec;
      },
      ec);
  }
  if (outcome == fields_read::incomplete) {
    head_taken_ = static_cast<std::uint16_t>(next - first);
    if (limit - first == static_cast<std::ptrdiff_t>(header_limit)) {
      ec = bhttp_error::header_limit;
    }
    return false;
  }
  if (outcome == fields_read::malformed) {
    return false;
  }
  end_head();
  first = next;
  return true;
}

void engine_response_parser::parse_status_line(std::string_view line, error_code& ec) {
  // HTTP-version SP status-code [SP reason-phrase] (RFC 9112, section 4): a status line with
  // nothing after the code is taken too, as most clients take it.
  auto digit
    = [&](std::size_t at) { return at < line.size() && line[at] >= '0' && line[at] <= '9'; };
  if (!line.starts_with("HTTP/") || !digit(5) || line.size() < 8 || line[6] != '.' || !digit(7)) {
    ec = bhttp_error::bad_version;
    return;
  }
  int version = 10 * (line[5] - '0') + (line[7] - '0');
  if ((version != 10 && version != 11) || line.size() < 9 || line[8] != ' ') {
    ec = bhttp_error::bad_version;
    return;
  }
  if (!digit(9) || !digit(10) || !digit(11) || line[9] == '0'
      || (line.size() > 12 && line[12] != ' ')) {
    ec = bhttp_error::bad_status;
    return;
  }
  status_ = 100 * (line[9] - '0') + 10 * (line[10] - '0') + (line[11] - '0');
  auto reason = line.size() > 12 ? line.substr(13) : std::string_view{};
  if (!is_field_text(reason)) {
    ec = bhttp_error::bad_reason;
    return;
  }
  reason_.assign(reason);
  http11_ = version == 11;
}

bool engine_response_parser::take_field(std::string_view name, std::string_view value,
                                        error_code& ec) {
  // The framing fields are hop-by-hop: the relay sets the client's own.
  switch (name.size()) {
    case 10:
      if (iequals_lower(name, "connection")) {
        take_connection(value);
        return false;
      }
      break;
    case 12:
      if (iequals_lower(name, "content-type")) {
        event_stream_ = event_stream_ || value.find("text/event-stream") != std::string_view::npos;
        return true;
      }
      break;
    case 14:
      if (iequals_lower(name, "content-length")) {
        // Lengths beside a Transfer-Encoding leave the body's end in doubt.
        if (chunked_) {
          ec = bhttp_error::bad_content_length;
        } else {
          read_content_length(value, content_length_, ec);
        }
        return false;
      }
      break;
    case 16:
      if (iequals_lower(name, "proxy-connection")) {
        take_connection(value);
        return false;
      }
      break;
    case 17:
      if (iequals_lower(name, "transfer-encoding")) {
        take_transfer_encoding(value, ec);
        return false;
      }
      break;
    default:
      break;
  }
  return forwards_response_header(name);
}

void engine_response_parser::take_connection(std::string_view value) {
  for_each_list_element(value, [this](std::string_view option) {
    connection_close_ = connection_close_ || iequals_lower(option, "close");
    connection_keep_alive_ = connection_keep_alive_ || iequals_lower(option, "keep-alive");
  });
}

void engine_response_parser::take_transfer_encoding(std::string_view value, error_code& ec) {
  // llmux decodes chunked and nothing else: a body in another coding (gzip, say) would reach
  // the client coded with nothing to say so, once llmux reframes it. One field, one coding.
  if (content_length_ || chunked_ || !iequals_lower(value, "chunked")) {
    ec = bhttp_error::bad_transfer_encoding;
    return;
  }
  chunked_ = true;
}

void engine_response_parser::end_head() {
  // RFC 9112, section 6.3, in its order.
  if (skip_body_ || interim() || status_ == 204 || status_ == 304) {
    body_.none();
  } else if (chunked_) {
    body_.chunked();
  } else if (content_length_) {
    body_.by_length(*content_length_);
  } else {
    body_.to_eof();
    ends_with_connection_ = true;
  }
}

} // namespace llmux::http
