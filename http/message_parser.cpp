#include "http/message_parser.hpp"

#include <algorithm>
#include <charconv>
#include <cstring>

#include "http/field_syntax.hpp"
#include "http/headers.hpp"

namespace llmux::http {

namespace {

using boost::system::error_code;
using bhttp_error = boost::beast::http::error;

} // namespace

std::optional<std::string_view> read_crlf_line(const char* first, const char* last,
                                               std::size_t limit, error_code too_long,
                                               error_code& ec) {
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

void read_content_length(std::string_view value, std::optional<std::uint64_t>& length,
                         error_code& ec) {
  // Digits only (no sign, no blanks), within 64 bits.
  auto take = [&](std::string_view digits) {
    std::uint64_t number = 0;
    const auto* end = digits.data() + digits.size();
    auto [stop, error] = std::from_chars(digits.data(), end, number);
    if (error != std::errc{} || stop != end) {
      ec = bhttp_error::bad_content_length;
    } else if (length && *length != number) {
      ec = bhttp_error::multiple_content_length;
    } else {
      length = number;
    }
  };
  // One number (the usual case) is read without splitting a list.
  if (value.find(',') == std::string_view::npos) {
    take(value);
    return;
  }
  for_each_list_element(value, [&](std::string_view element) {
    if (!ec) {
      take(element);
    }
  });
}

const char* body_framing::parse(const char* first, const char* last, sink to, error_code& ec) {
  for (;;) {
    auto available = static_cast<std::size_t>(last - first);
    switch (state_) {
      case state::done:
        return first;
      case state::length:
      case state::chunk_data: {
        auto size = static_cast<std::size_t>(std::min<std::uint64_t>(remaining_, available));
        if (size == 0 || !to.take(to.context, first, size, ec)) {
          return first;
        }
        first += size;
        remaining_ -= size;
        if (remaining_ == 0) {
          state_ = state_ == state::length ? state::done : state::chunk_end;
        }
        break;
      }
      case state::to_eof:
        return available > 0 && to.take(to.context, first, available, ec) ? last : first;
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
        auto line
          = read_crlf_line(first, last, chunk_line_limit, bhttp_error::bad_chunk_extension, ec);
        if (!line || !take_chunk_size(*line, ec)) {
          return first;
        }
        first = line->data() + line->size() + 2;
        break;
      }
      case state::trailer: {
        // Trailer lines are passed by: only where they end matters.
        auto line = read_crlf_line(first, last, trailer_limit_ - trailer_taken_,
                                   bhttp_error::header_limit, ec);
        if (!line) {
          return first;
        }
        trailer_taken_ += static_cast<std::uint32_t>(line->size() + 2);
        first = line->data() + line->size() + 2;
        if (line->empty()) {
          state_ = state::done;
        }
        break;
      }
    }
  }
}

bool body_framing::take_chunk_size(std::string_view line, error_code& ec) {
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
