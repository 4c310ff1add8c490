#include "http/client_request.hpp"

#include <algorithm>
#include <array>
#include <limits>

#include <boost/beast/core/string.hpp>
#include <boost/beast/http/error.hpp>

#include "http/field_filter.hpp"
#include "http/headers.hpp"

namespace llmux::http {

namespace bhttp = boost::beast::http;

namespace {

/// The noted headers' names, by `client_request::noted_field`.
constexpr std::array<std::string_view, 5> noted_names{"authorization", "x-api-key",
                                                      "model-override", "expect", "content-type"};

/// Room for a usual request's target and header lines: one allocation.
constexpr std::size_t usual_head_size = 512;

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
  append_line(bhttp::string_to_field({name.data(), name.size()}), name, value);
}

void client_request::append_line(bhttp::field name, std::string_view name_string,
                                 std::string_view value) {
  if (line_count_ < 64 && forwards_field<forwards_request_header>(name, name_string)) {
    forwarded_lines_ |= std::uint64_t{1} << line_count_;
  }
  ++line_count_;
  text_.append(name_string);
  text_ += ": ";
  auto index = noted_index(name, name_string);
  if (index >= 0 && !noted_[index].present) {
    noted_[index]
      = {static_cast<std::uint32_t>(text_.size()), static_cast<std::uint32_t>(value.size()), true};
  }
  text_.append(value);
  text_ += "\r\n";
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

client_request_parser::client_request_parser(client_request memory) : request_(std::move(memory)) {
  request_.clear();
}

void client_request_parser::on_request_impl(bhttp::verb method, string_view method_string,
                                            string_view target, int version, error_code& ec) {
  // Offsets are 32 bits: a head this long is far beyond any header limit.
  if (target.size() > std::numeric_limits<std::uint32_t>::max() / 2) {
    ec = bhttp::error::header_limit;
    return;
  }
  auto& out = request_;
  out.method_ = method;
  out.version_ = static_cast<unsigned>(version);
  out.text_.reserve(usual_head_size + target.size());
  if (method == bhttp::verb::unknown) {
    out.text_.append(method_string.data(), method_string.size());
    out.method_size_ = static_cast<std::uint32_t>(method_string.size());
  }
  out.target_at_ = static_cast<std::uint32_t>(out.text_.size());
  out.text_.append(target.data(), target.size());
  out.target_size_ = static_cast<std::uint32_t>(target.size());
  out.fields_at_ = static_cast<std::uint32_t>(out.text_.size());
}

void client_request_parser::on_field_impl(bhttp::field name, string_view name_string,
                                          string_view value, error_code&) {
  if (name == bhttp::field::transfer_encoding) {
    ++transfer_encodings_;
    plain_chunked_ = boost::beast::iequals(value, "chunked");
  }
  request_.append_line(name, {name_string.data(), name_string.size()},
                       {value.data(), value.size()});
}

void client_request_parser::on_header_impl(error_code& ec) {
  // Only "chunked" alone frames a request body unambiguously (RFC 9112 6.1 and 6.3); the
  // engine's server (h11) accepts nothing else either.
  if (transfer_encodings_ > 0 && !(transfer_encodings_ == 1 && plain_chunked_)) {
    unsupported_transfer_coding_ = chunked() && transfer_encodings_ == 1;
    ec = bhttp::error::bad_transfer_encoding;
    return;
  }
  request_.keep_alive_ = keep_alive();
}

void client_request_parser::on_body_init_impl(const boost::optional<std::uint64_t>& length,
                                              error_code& ec) {
  if (length) {
    if (*length > request_.body_.max_size()) {
      ec = bhttp::error::buffer_overflow;
      return;
    }
    request_.body_.reserve(static_cast<std::size_t>(*length) + client_request::body_slack);
  }
}

std::size_t client_request_parser::on_body_impl(string_view body, error_code&) {
  request_.body_.append(body.data(), body.size());
  return body.size();
}

std::size_t client_request_parser::on_chunk_body_impl(std::uint64_t, string_view body,
                                                      error_code& ec) {
  return on_body_impl(body, ec);
}

} // namespace llmux::http
