#include "checkpoint/s3_response.hpp"

#include <charconv>

#include <fmt/format.h>

namespace llmux::checkpoint {

namespace {

// The text of the first element `name` at or after `from`, and the position after its end tag.
// S3's answers carry no CDATA and no nested elements of the same name, and `<` never appears
// unescaped in text, so finding tags by name is exact.
struct element {
  std::string_view text;
  std::size_t end = 0;
};

std::optional<element> find_element(std::string_view xml, std::string_view name,
                                    std::size_t from = 0) {
  auto open = fmt::format("<{}", name);
  for (auto start = xml.find(open, from); start != xml.npos; start = xml.find(open, start + 1)) {
    auto after = start + open.size();
    if (after >= xml.size()) {
      return std::nullopt;
    }
    char next = xml[after];
    if (next != '>' && next != ' ' && next != '/') {
      continue; // a longer name with the same start (<Key> vs <KeyCount>)
    }
    auto close_bracket = xml.find('>', after);
    if (close_bracket == xml.npos) {
      return std::nullopt;
    }
    if (xml[close_bracket - 1] == '/') {
      return element{{}, close_bracket + 1}; // <Name/>
    }
    auto end_tag = fmt::format("</{}>", name);
    auto text_start = close_bracket + 1;
    auto close = xml.find(end_tag, text_start);
    if (close == xml.npos) {
      return std::nullopt;
    }
    return element{xml.substr(text_start, close - text_start), close + end_tag.size()};
  }
  return std::nullopt;
}

void append_utf8(std::string& out, std::uint32_t code_point) {
  if (code_point < 0x80) {
    out += static_cast<char>(code_point);
  } else if (code_point < 0x800) {
    out += static_cast<char>(0xc0 | (code_point >> 6));
    out += static_cast<char>(0x80 | (code_point & 0x3f));
  } else if (code_point < 0x10000) {
    out += static_cast<char>(0xe0 | (code_point >> 12));
    out += static_cast<char>(0x80 | ((code_point >> 6) & 0x3f));
    out += static_cast<char>(0x80 | (code_point & 0x3f));
  } else {
    out += static_cast<char>(0xf0 | (code_point >> 18));
    out += static_cast<char>(0x80 | ((code_point >> 12) & 0x3f));
    out += static_cast<char>(0x80 | ((code_point >> 6) & 0x3f));
    out += static_cast<char>(0x80 | (code_point & 0x3f));
  }
}

std::optional<std::string> decoded_element(std::string_view xml, std::string_view name) {
  auto found = find_element(xml, name);
  if (!found) {
    return std::nullopt;
  }
  return xml_decode(found->text);
}

std::string where(const request_context& context) {
  if (context.key.empty()) {
    return fmt::format("s3://{}", context.bucket);
  }
  return fmt::format("s3://{}/{}", context.bucket, context.key);
}

} // namespace

std::optional<std::string> xml_decode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '&') {
      out += text[i];
      continue;
    }
    auto semicolon = text.find(';', i);
    if (semicolon == text.npos) {
      return std::nullopt;
    }
    auto entity = text.substr(i + 1, semicolon - i - 1);
    if (entity == "amp") {
      out += '&';
    } else if (entity == "lt") {
      out += '<';
    } else if (entity == "gt") {
      out += '>';
    } else if (entity == "quot") {
      out += '"';
    } else if (entity == "apos") {
      out += '\'';
    } else if (entity.size() > 1 && entity[0] == '#') {
      bool hex = entity[1] == 'x' || entity[1] == 'X';
      auto digits = entity.substr(hex ? 2 : 1);
      std::uint32_t code_point = 0;
      auto [end, ec]
        = std::from_chars(digits.data(), digits.data() + digits.size(), code_point, hex ? 16 : 10);
      if (digits.empty() || ec != std::errc{} || end != digits.data() + digits.size()
          || code_point == 0 || code_point > 0x10ffff) {
        return std::nullopt;
      }
      append_utf8(out, code_point);
    } else {
      return std::nullopt;
    }
    i = semicolon;
  }
  return out;
}

std::optional<listing_page> parse_listing(std::string_view xml) {
  if (!find_element(xml, "ListBucketResult")) {
    return std::nullopt;
  }
  listing_page page;
  for (auto contents = find_element(xml, "Contents"); contents;
       contents = find_element(xml, "Contents", contents->end)) {
    auto key = decoded_element(contents->text, "Key");
    auto size_text = find_element(contents->text, "Size");
    if (!key || key->empty() || !size_text) {
      return std::nullopt;
    }
    std::uint64_t size = 0;
    auto text = size_text->text;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), size);
    if (text.empty() || ec != std::errc{} || end != text.data() + text.size()) {
      return std::nullopt;
    }
    page.objects.push_back({std::move(*key), size});
  }
  auto truncated = find_element(xml, "IsTruncated");
  page.truncated = truncated && truncated->text == "true";
  if (page.truncated) {
    auto token = decoded_element(xml, "NextContinuationToken");
    if (!token || token->empty()) {
      return std::nullopt; // a truncated page without a way on would loop for ever
    }
    page.next_token = std::move(*token);
  }
  return page;
}

s3_error_body parse_error_body(std::string_view xml) {
  s3_error_body body;
  auto error = find_element(xml, "Error");
  if (!error) {
    return body;
  }
  body.code = decoded_element(error->text, "Code").value_or("");
  body.message = decoded_element(error->text, "Message").value_or("");
  return body;
}

std::optional<std::string> normalize_prefix(std::string_view prefix) {
  while (!prefix.empty() && prefix.front() == '/') {
    prefix.remove_prefix(1);
  }
  while (!prefix.empty() && prefix.back() == '/') {
    prefix.remove_suffix(1);
  }
  if (prefix.empty()) {
    return std::nullopt;
  }
  std::size_t start = 0;
  for (;;) {
    auto slash = prefix.find('/', start);
    auto segment = prefix.substr(start, slash == prefix.npos ? prefix.npos : slash - start);
    if (segment.empty() || segment == "." || segment == "..") {
      return std::nullopt;
    }
    if (slash == prefix.npos) {
      break;
    }
    start = slash + 1;
  }
  return fmt::format("{}/", prefix);
}

std::optional<std::string> file_name_for_key(std::string_view key, std::string_view prefix) {
  if (!key.starts_with(prefix)) {
    return std::nullopt;
  }
  auto name = key.substr(prefix.size());
  if (name.empty() || name == "." || name == ".." || name.find('/') != name.npos) {
    return std::nullopt;
  }
  return std::string{name};
}

std::string describe_http_failure(const request_context& context, long status,
                                  const s3_error_body& body) {
  const auto& code = body.code;
  auto status_and_code
    = code.empty() ? fmt::format("HTTP {}", status) : fmt::format("{} {}", status, code);
  if (code == "SignatureDoesNotMatch" || code == "InvalidAccessKeyId"
      || (status == 403 && code.empty())) {
    return fmt::format("object store {} refused the credentials ({}); check "
                       "checkpoint.object_store.access_key and secret_key",
                       context.endpoint, status_and_code);
  }
  if (code == "RequestTimeTooSkewed") {
    return fmt::format("object store {} rejected the request time ({}); check this machine's "
                       "clock",
                       context.endpoint, status_and_code);
  }
  if (code == "AccessDenied") {
    return fmt::format("object store {} denied {} {} ({}); check the user's permissions on "
                       "bucket '{}'",
                       context.endpoint, context.operation, where(context), status_and_code,
                       context.bucket);
  }
  if (code == "NoSuchBucket") {
    return fmt::format("bucket '{}' does not exist at object store {} ({})", context.bucket,
                       context.endpoint, status_and_code);
  }
  if (code == "NoSuchKey") {
    return fmt::format("object {} does not exist ({})", where(context), status_and_code);
  }
  auto detail = body.message.empty() ? std::string{} : fmt::format(": {}", body.message);
  return fmt::format("object store {}: {} {} failed ({}){}", context.endpoint, context.operation,
                     where(context), status_and_code, detail);
}

std::string describe_transport_failure(const request_context& context, transport_failure kind,
                                       std::string_view detail) {
  switch (kind) {
    case transport_failure::unreachable:
      return fmt::format("object store {} unreachable: {}", context.endpoint, detail);
    case transport_failure::timed_out:
      return fmt::format("object store {}: {} {} did not finish before the deadline ({})",
                         context.endpoint, context.operation, where(context), detail);
    case transport_failure::other:
      break;
  }
  return fmt::format("object store {}: {} {} failed: {}", context.endpoint, context.operation,
                     where(context), detail);
}

std::string redact(std::string text, std::string_view secret) {
  if (secret.empty()) {
    return text;
  }
  for (auto at = text.find(secret); at != text.npos; at = text.find(secret, at + 3)) {
    text.replace(at, secret.size(), "***");
  }
  return text;
}

} // namespace llmux::checkpoint
