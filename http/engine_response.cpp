#include "http/engine_response.hpp"

#include <boost/beast/http/error.hpp>

#include "http/field_filter.hpp"
#include "http/headers.hpp"

namespace llmux::http {

namespace bhttp = boost::beast::http;

engine_response_parser::engine_response_parser(std::string& fields) : forwarded_(&fields) {
  body_limit(boost::none);
  forwarded_->clear();
}

void engine_response_parser::restart_after_interim(bool skip_body) {
  *this = engine_response_parser(*forwarded_);
  interim_seen_ = true;
  skip(skip_body);
}

void engine_response_parser::on_response_impl(int code, string_view reason, int, error_code&) {
  status_ = code;
  reason_.assign(reason.data(), reason.size());
}

void engine_response_parser::on_field_impl(bhttp::field name, string_view name_string,
                                           string_view value, error_code&) {
  if (name == bhttp::field::content_type && value.find("text/event-stream") != string_view::npos) {
    event_stream_ = true;
  }
  if (forwards_field<forwards_response_header>(name, {name_string.data(), name_string.size()})) {
    forwarded_->append(name_string.data(), name_string.size());
    *forwarded_ += ": ";
    forwarded_->append(value.data(), value.size());
    *forwarded_ += "\r\n";
  }
}

std::size_t engine_response_parser::on_body_impl(string_view body, error_code& ec) {
  if (body.empty()) {
    return 0;
  }
  if (count_ == pieces_.size()) {
    ec = bhttp::error::need_buffer;
    return 0;
  }
  pieces_[count_++] = {body.data(), body.size()};
  body_size_ += body.size();
  return body.size();
}

std::size_t engine_response_parser::on_chunk_body_impl(std::uint64_t, string_view body,
                                                       error_code& ec) {
  return on_body_impl(body, ec);
}

} // namespace llmux::http
