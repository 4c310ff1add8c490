#include "http/engine_response.hpp"

#include <algorithm>
#include <charconv>
#include <cstring>

#include <boost/beast/http/error.hpp>

#include "http/field_syntax.hpp"
#include "http/headers.hpp"

namespace llmux::http {

namespace {

using boost::system::error_code;
using bhttp_error = boost::beast::http::error;

/// The longest chunk-size line (with its extensions) taken: as long as a whole head may be.
constexpr std::size_t chunk_line_limit = engine_response_parser::header_limit;

} // namespace

engine_response_parser::engine_response_parser(std::string& fields) : forwarded_(&fields) {
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

std::size_t engine_response_parser::put(boost::asio::const_buffer input, error_code& ec) {
  ec = {};
  const auto* first = static_cast<const char*>(input.data());
  const auto* last = first + input.size();
  if (input.size() == 0) {
    if (state_ != state::done) {
      ec = bhttp_error::need_more; // (an empty buffer's data may be null: no memchr on it)
    }
    return 0;
  }
  got_some_ = true;
  const auto* next = first;
  if (state_ == state::head) {
    if (!parse_head(next, last, ec)) {
      if (!ec) {
        ec = bhttp_error::need_more;
      }
      return 0;
    }
    if (!eager_) {
      return static_cast<std::size_t>(next - first);
    }
  }
  next = parse_body(next, last, ec);
  if (!ec && next == first && state_ != state::done) {
    ec = bhttp_error::need_more;
  }
  return static_cast<std::size_t>(next - first);
}

void engine_response_parser::put_eof(error_code& ec) {
  ec = {};
  if (state_ == state::body_to_eof || state_ == state::done) {
    state_ = state::done;
  } else {
    ec = bhttp_error::partial_message;
  }
}

std::optional<std::string_view>
engine_response_parser::next_line(const char* first, const char* last, std::size_t limit,
                                  error_code too_long, error_code& ec) {
  auto available = static_cast<std::size_t>(last - first);
  const auto* end = static_cast<const char*>(std::memchr(first, '\n', std::min(available, limit)));
  if (end == nullptr) {
    if (available >= limit) {
      ec = too_long;
    }
    return std::nullopt;
  }
  if (end == first || end[-1] != '\r') {
    ec = bhttp_error::bad_line_ending;
    return std::nullopt;
  }
  return std::string_view(first, static_cast<std::size_t>(end - 1 - first));
}

bool engine_response_parser::parse_head(const char*& first, const char* last, error_code& ec) {
  // Line by line, each parsed once: a head that arrives in pieces goes on where the last parse
  // stopped, at its first line that was not whole (the input may have moved since: the
  // caller's buffer grows; nothing points into it between parses).
  const auto* limit = first + std::min(header_limit, static_cast<std::size_t>(last - first));
  const auto* next = first + head_taken_;
  if (head_taken_ == 0) {
    auto line = next_line(first, last, header_limit, bhttp_error::header_limit, ec);
    if (!line) {
      return false;
    }
    parse_status_line(*line, ec);
    if (ec) {
      return false;
    }
    next = line->data() + line->size() + 2;
  }
  // A forwarded line already in the form "Name: value" (the usual case) goes as it came, and a
  // run of such lines in one copy.
  const auto* run = next;
  const auto* run_end = next;
  auto flush_run = [&] {
    forwarded_->append(run, static_cast<std::size_t>(run_end - run));
    run = run_end;
  };
  auto stop_for_more = [&] {
    flush_run();
    head_taken_ = static_cast<std::uint16_t>(next - first);
    if (limit - first == static_cast<std::ptrdiff_t>(header_limit)) {
      ec = bhttp_error::header_limit;
    }
    return false;
  };
  for (;;) {
    if (next == limit || (*next == '\r' && next + 1 == limit)) {
      return stop_for_more();
    }
    if (*next == '\r' || *next == '\n') {
      if (*next == '\n' || next[1] != '\n') {
        ec = bhttp_error::bad_line_ending;
        return false;
      }
      next += 2;
      break; // the empty line that ends the head
    }
    auto line = read_field_line(next, limit, ec);
    if (line.outcome == field_line::incomplete) {
      return stop_for_more();
    }
    if (line.outcome == field_line::malformed || !take_field(line.name, line.value, ec)) {
      if (ec) {
        return false;
      }
    } else if (line.value.data() == line.name.data() + line.name.size() + 2
               && line.name.data()[line.name.size() + 1] == ' '
               && line.value.data() + line.value.size() + 2 == line.end) {
      if (run_end != next) {
        flush_run();
        run = next;
      }
      run_end = line.end;
    } else {
      flush_run();
      auto& out = *forwarded_;
      out.append(line.name).append(": ").append(line.value).append("\r\n");
    }
    next = line.end;
  }
  flush_run();
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
        take_content_length(value, ec);
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

void engine_response_parser::take_content_length(std::string_view value, error_code& ec) {
  // A list of equal lengths, in one field or several, is one length (RFC 9110, section 8.6);
  // lengths that differ, or one beside a Transfer-Encoding, leave the body's end in doubt.
  if (chunked_) {
    ec = bhttp_error::bad_content_length;
    return;
  }
  for_each_list_element(value, [&](std::string_view element) {
    if (ec) {
      return;
    }
    // Digits only (no sign, no blanks), within 64 bits.
    std::uint64_t length = 0;
    const auto* end = element.data() + element.size();
    auto [stop, error] = std::from_chars(element.data(), end, length);
    if (error != std::errc{} || stop != end) {
      ec = bhttp_error::bad_content_length;
      return;
    }
    if (content_length_ && *content_length_ != length) {
      ec = bhttp_error::multiple_content_length;
      return;
    }
    content_length_ = length;
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
    state_ = state::done;
  } else if (chunked_) {
    state_ = state::chunk_size;
  } else if (content_length_) {
    remaining_ = *content_length_;
    state_ = remaining_ > 0 ? state::body_length : state::done;
  } else {
    state_ = state::body_to_eof;
    ends_with_connection_ = true;
  }
}

bool engine_response_parser::add_piece(const char* first, std::size_t size) {
  if (count_ == max_pieces) {
    return false;
  }
  pieces_[count_++] = std::string_view(first, size);
  body_size_ += size;
  return true;
}

const char* engine_response_parser::parse_body(const char* first, const char* last,
                                               error_code& ec) {
  while (state_ != state::done && !ec) {
    auto available = static_cast<std::size_t>(last - first);
    switch (state_) {
      case state::body_length:
      case state::chunk_data: {
        if (available == 0) {
          return first;
        }
        auto size = static_cast<std::size_t>(std::min<std::uint64_t>(remaining_, available));
        if (!add_piece(first, size)) {
          ec = bhttp_error::need_buffer;
          return first;
        }
        first += size;
        remaining_ -= size;
        if (remaining_ == 0) {
          state_ = state_ == state::body_length ? state::done : state::chunk_end;
        }
        break;
      }
      case state::body_to_eof:
        if (available == 0) {
          return first;
        }
        if (!add_piece(first, available)) {
          ec = bhttp_error::need_buffer;
        }
        return ec ? first : last;
      case state::chunk_end:
        if (available < 2) {
          if (available == 1 && *first != '\r') {
            ec = bhttp_error::bad_chunk;
          }
          return first;
        }
        if (first[0] != '\r' || first[1] != '\n') {
          ec = bhttp_error::bad_chunk;
          return first;
        }
        first += 2;
        state_ = state::chunk_size;
        break;
      case state::chunk_size: {
        auto line = next_line(first, last, chunk_line_limit, bhttp_error::bad_chunk_extension, ec);
        if (!line) {
          return first;
        }
        if (!take_chunk_size(*line, ec)) {
          return first;
        }
        first = line->data() + line->size() + 2;
        break;
      }
      case state::trailer: {
        // Trailer lines are passed by, not relayed (the head has gone out): only where they
        // end matters.
        auto line
          = next_line(first, last, header_limit - trailer_taken_, bhttp_error::header_limit, ec);
        if (!line) {
          return first;
        }
        trailer_taken_ = static_cast<std::uint16_t>(trailer_taken_ + line->size() + 2);
        first = line->data() + line->size() + 2;
        if (line->empty()) {
          state_ = state::done;
        }
        break;
      }
      case state::head:
      case state::done:
        return first;
    }
  }
  return first;
}

bool engine_response_parser::take_chunk_size(std::string_view line, error_code& ec) {
  // chunk-size [BWS ";" chunk-ext] (RFC 9112, section 7.1): the extensions are passed by.
  std::uint64_t size = 0;
  std::size_t digits = 0;
  for (; digits < line.size(); ++digits) {
    char c = line[digits];
    unsigned value = 0;
    if (c >= '0' && c <= '9') {
      value = static_cast<unsigned>(c - '0');
    } else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f') {
      value = static_cast<unsigned>((c | 0x20) - 'a' + 10);
    } else {
      break;
    }
    if (size >> 60 != 0) {
      ec = bhttp_error::bad_chunk;
      return false;
    }
    size = size << 4 | value;
  }
  auto rest = trim_blanks(line.substr(digits));
  if (digits == 0) {
    ec = bhttp_error::bad_chunk;
    return false;
  }
  if (!rest.empty() && (rest.front() != ';' || !is_field_text(rest))) {
    ec = bhttp_error::bad_chunk_extension;
    return false;
  }
  remaining_ = size;
  state_ = size > 0 ? state::chunk_data : state::trailer;
  return true;
}

} // namespace llmux::http
