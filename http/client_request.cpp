#include "http/client_request.hpp"

#include <algorithm>
#include <array>

#include <boost/beast/core/string.hpp>
#include <boost/beast/http/error.hpp>

#include "http/field_syntax.hpp"
#include "http/headers.hpp"

namespace llmux::http {

namespace bhttp = boost::beast::http;
using bhttp_error = bhttp::error;

namespace {

/// The noted headers' names, by `client_request::noted_field`.
constexpr std::array<std::string_view, 5> noted_names{"authorization", "x-api-key",
                                                      "model-override", "expect", "content-type"};

/// Room for a usual request's target and header lines: one allocation.
constexpr std::size_t usual_head_size = 512;

/// The headers a request's parser reads itself (forwards_request_header keeps all of them but
/// Content-Type from the engine: client_request_test).
enum class field_read {
  other,
  authorization,
  x_api_key,
  model_override,
  expect,
  content_type,
  connection, ///< or Proxy-Connection
  content_length,
  transfer_encoding,
};

/// Which header `name` is, told by its length first (a name compared costs as much as a
/// header line's parse).
field_read field_read_of(std::string_view name) {
  auto is = [name](std::string_view lower, field_read which) {
    return iequals_lower(name, lower) ? which : field_read::other;
  };
  switch (name.size()) {
    case 6:
      return is("expect", field_read::expect);
    case 9:
      return is("x-api-key", field_read::x_api_key);
    case 10:
      return is("connection", field_read::connection);
    case 12:
      return is("content-type", field_read::content_type);
    case 13:
      return is("authorization", field_read::authorization);
    case 14:
      return iequals_lower(name, "content-length")
               ? field_read::content_length
               : is("model-override", field_read::model_override);
    case 16:
      return is("proxy-connection", field_read::connection);
    case 17:
      return is("transfer-encoding", field_read::transfer_encoding);
    default:
      return field_read::other;
  }
}

std::string_view line_name(std::string_view line) {
  return line.substr(0, line.find(':'));
}

std::string_view line_value(std::string_view line) {
  auto value = line.substr(std::min(line.find(':') + 2, line.size()));
  return value.substr(0, value.size() - std::min<std::size_t>(value.size(), 2)); // "\r\n"
}

} // namespace

client_request::client_request(bhttp::verb method, std::string_view target, unsigned version)
  : method_(method), version_(version), keep_alive_(version >= 11) {
  text_.assign(target);
  target_size_ = static_cast<std::uint32_t>(target.size());
  fields_at_ = target_size_;
}

std::string_view client_request::method_string() const {
  if (method_ != bhttp::verb::unknown) {
    auto known = bhttp::to_string(method_);
    return {known.data(), known.size()};
  }
  return std::string_view(text_).substr(0, method_size_);
}

int client_request::noted_index(bhttp::field name, std::string_view name_string) {
  if (name == bhttp::field::authorization) {
    return authorization;
  }
  if (name == bhttp::field::expect) {
    return expect;
  }
  if (name == bhttp::field::content_type) {
    return content_type;
  }
  if (name != bhttp::field::unknown) {
    return -1;
  }
  // By name: a name Beast does not know, or any name asked for as a string.
  for (std::size_t index = 0; index < noted_names.size(); ++index) {
    if (boost::beast::iequals(name_string, noted_names[index])) {
      return static_cast<int>(index);
    }
  }
  return -1;
}

std::string_view client_request::noted_value(int index) const {
  const auto& found = noted_[index];
  return found.present ? std::string_view(text_).substr(found.at, found.size) : std::string_view{};
}

std::string_view client_request::operator[](bhttp::field name) const {
  if (auto index = noted_index(name, {}); index >= 0) {
    return noted_value(index);
  }
  auto text = bhttp::to_string(name);
  return (*this)[std::string_view(text.data(), text.size())];
}

std::string_view client_request::operator[](std::string_view name) const {
  if (auto index = noted_index(bhttp::field::unknown, name); index >= 0) {
    return noted_value(index);
  }
  for (std::size_t at = fields_at_; at < text_.size();) {
    auto end = text_.find('\n', at) + 1;
    auto line = std::string_view(text_).substr(at, end - at);
    if (boost::beast::iequals(line_name(line), name)) {
      return line_value(line);
    }
    at = end;
  }
  return {};
}

void client_request::insert(std::string_view name, std::string_view value) {
  text_.append(name).append(": ");
  auto value_at = text_.size();
  text_.append(value).append("\r\n");
  note_line(noted_index(bhttp::field::unknown, name), value_at, value.size(),
            forwards_request_header(name));
}

void client_request::note_line(int noted, std::size_t value_at, std::size_t value_size,
                               bool forwarded) {
  if (line_count_ < 64 && forwarded) {
    forwarded_lines_ |= std::uint64_t{1} << line_count_;
  }
  ++line_count_;
  if (noted >= 0 && !noted_[noted].present) {
    noted_[noted]
      = {static_cast<std::uint32_t>(value_at), static_cast<std::uint32_t>(value_size), true};
  }
}

bool client_request::forwarded(std::size_t index, std::size_t at) const {
  if (index < 64) {
    return (forwarded_lines_ >> index & 1) != 0;
  }
  auto end = text_.find('\n', at);
  return forwards_request_header(line_name(std::string_view(text_).substr(at, end - at)));
}

void client_request::clear() {
  auto text = std::move(text_);
  auto body = std::move(body_);
  *this = client_request();
  text_ = std::move(text);
  text_.clear();
  body_ = std::move(body);
  body_.clear();
}

client_request_parser::client_request_parser() : message_parser(default_header_limit) {
}

client_request_parser::client_request_parser(client_request memory) : client_request_parser() {
  request_ = std::move(memory);
  request_.clear();
}

void client_request_parser::header_limit(std::uint32_t bytes) {
  header_limit_ = bytes;
  body_ = body_framing(bytes);
}

bool client_request_parser::parse_head(const char*& first, const char* last, error_code& ec) {
  // Line by line, each parsed once: a head that arrives in pieces goes on where the last parse
  // stopped, at its first line that was not whole (the input may have moved since).
  const auto* limit = first + std::min<std::size_t>(header_limit_, last - first);
  const auto* next = first + head_taken_;
  auto stop_for_more = [&] {
    head_taken_ = static_cast<std::uint32_t>(next - first);
    if (limit - first == static_cast<std::ptrdiff_t>(header_limit_)) {
      ec = bhttp_error::header_limit;
    }
    return false;
  };
  if (!request_line_read_) {
    while (limit - next >= 2 && next[0] == '\r' && next[1] == '\n') {
      next += 2;
    }
    // (The line is bounded by the head's limit, as the fields are: stop_for_more.)
    auto line = read_crlf_line(next, limit, SIZE_MAX, bhttp_error::header_limit, ec);
    if (!line) {
      return ec ? false : stop_for_more();
    }
    parse_request_line(*line, ec);
    if (ec) {
      return false;
    }
    request_line_read_ = true;
    next = line->data() + line->size() + 2;
  }
  fields_read outcome{};
  {
    field_line_copier copier(request_.text_);
    outcome = read_field_lines(
      next, limit,
      [&](const field_line& line) {
        take_field(line.name, line.value, copier.copy(line), ec);
        return !ec;
      },
      ec);
  }
  if (outcome == fields_read::incomplete) {
    return stop_for_more();
  }
  if (outcome == fields_read::malformed) {
    return false;
  }
  end_head(ec);
  if (ec) {
    return false;
  }
  first = next;
  return true;
}

void client_request_parser::parse_request_line(std::string_view line, error_code& ec) {
  // method SP request-target SP HTTP-version (RFC 9112, section 3).
  std::size_t method_end = 0;
  while (method_end < line.size()
         && detail::token_chars[static_cast<unsigned char>(line[method_end])]) {
    ++method_end;
  }
  if (method_end == 0 || method_end == line.size() || line[method_end] != ' ') {
    ec = bhttp_error::bad_method;
    return;
  }
  // The target in visible ASCII (RFC 3986 has nothing else; the engine's server refuses it).
  auto target_at = method_end + 1;
  auto target_end = target_at;
  while (target_end < line.size() && line[target_end] > ' ' && line[target_end] < 0x7f) {
    ++target_end;
  }
  if (target_end == target_at || target_end == line.size() || line[target_end] != ' ') {
    ec = bhttp_error::bad_target;
    return;
  }
  auto version = line.substr(target_end + 1);
  auto digit = [&](std::size_t at) { return version[at] >= '0' && version[at] <= '9'; };
  if (version.size() != 8 || !version.starts_with("HTTP/") || !digit(5) || version[6] != '.'
      || !digit(7)) {
    ec = bhttp_error::bad_version;
    return;
  }
  if (version[5] != '1') {
    unsupported_version_ = true;
    ec = bhttp_error::bad_version;
    return;
  }
  auto method = line.substr(0, method_end);
  auto target = line.substr(target_at, target_end - target_at);
  auto& out = request_;
  // A later 1.x is read as 1.1 (RFC 9110, section 2.5).
  out.version_ = version[7] == '0' ? 10 : 11;
  out.method_ = method == "POST"  ? bhttp::verb::post
                : method == "GET" ? bhttp::verb::get
                                  : bhttp::string_to_verb({method.data(), method.size()});
  out.text_.reserve(usual_head_size + line.size());
  if (out.method_ == bhttp::verb::unknown) {
    out.text_.append(method);
    out.method_size_ = static_cast<std::uint32_t>(method.size());
  }
  out.target_at_ = static_cast<std::uint32_t>(out.text_.size());
  out.text_.append(target);
  out.target_size_ = static_cast<std::uint32_t>(target.size());
  out.fields_at_ = static_cast<std::uint32_t>(out.text_.size());
}

void client_request_parser::take_field(std::string_view name, std::string_view value,
                                       std::size_t value_at, error_code& ec) {
  int noted = -1;
  switch (field_read_of(name)) {
    case field_read::other:
      request_.note_line(-1, value_at, value.size(), forwards_request_header(name));
      return;
    case field_read::content_type: // the one of them the engine gets
      request_.note_line(client_request::content_type, value_at, value.size(), true);
      return;
    case field_read::authorization:
      noted = client_request::authorization;
      break;
    case field_read::x_api_key:
      noted = client_request::x_api_key;
      break;
    case field_read::model_override:
      noted = client_request::model_override;
      break;
    case field_read::expect:
      noted = client_request::expect;
      break;
    case field_read::connection:
      take_connection(value);
      break;
    case field_read::content_length:
      read_content_length(value, content_length_, ec);
      break;
    case field_read::transfer_encoding:
      take_transfer_encoding(value);
      break;
  }
  request_.note_line(noted, value_at, value.size(), false);
}

void client_request_parser::take_connection(std::string_view value) {
  for_each_list_element(value, [this](std::string_view option) {
    connection_close_ = connection_close_ || iequals_lower(option, "close");
    connection_keep_alive_ = connection_keep_alive_ || iequals_lower(option, "keep-alive");
  });
}

void client_request_parser::take_transfer_encoding(std::string_view value) {
  ++transfer_encodings_;
  plain_chunked_ = iequals_lower(value, "chunked");
  auto comma = value.rfind(',');
  auto final_coding = comma == std::string_view::npos ? value : value.substr(comma + 1);
  finally_chunked_ = iequals_lower(trim_blanks(final_coding), "chunked");
}

void client_request_parser::end_head(error_code& ec) {
  // Only "chunked" alone frames a body unambiguously (RFC 9112, sections 6.1 and 6.3); the
  // engine's server (h11) takes nothing else either.
  if (transfer_encodings_ > 0) {
    if (content_length_) {
      ec = bhttp_error::bad_content_length;
      return;
    }
    if (transfer_encodings_ != 1 || !plain_chunked_) {
      unsupported_transfer_coding_ = transfer_encodings_ == 1 && finally_chunked_;
      ec = bhttp_error::bad_transfer_encoding;
      return;
    }
    body_.chunked();
  } else if (content_length_) {
    if (*content_length_ > body_limit_) {
      ec = bhttp_error::body_limit;
      return;
    }
    if (*content_length_ > request_.body_.max_size() - client_request::body_slack) {
      ec = bhttp_error::buffer_overflow;
      return;
    }
    body_.by_length(*content_length_);
  } else {
    body_.none();
  }
  request_.keep_alive_ = request_.version_ >= 11 ? !connection_close_ : connection_keep_alive_;
}

bool client_request_parser::take_body(const char* first, std::size_t size, error_code& ec) {
  if (size > body_limit_ - request_.body_.size()) {
    ec = bhttp_error::body_limit;
    return false;
  }
  if (request_.body_.empty() && content_length_) {
    // The whole body's room at once, when it starts to arrive (not with the head: the server
    // weighs a body against its budget first).
    request_.body_.reserve(static_cast<std::size_t>(*content_length_) + client_request::body_slack);
  }
  request_.body_.append(first, size);
  return true;
}

} // namespace llmux::http
