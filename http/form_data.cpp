#include "http/form_data.hpp"

#include <algorithm>
#include <functional>
#include <utility>

#include <boost/beast/core/string.hpp>

#include "http/headers.hpp"
#include "http/router.hpp"

namespace llmux::http {

namespace {

using boost::beast::iequals;

// The engine's form reader refuses more (Starlette's max_fields and max_files).
constexpr std::size_t most_fields = 1000;
constexpr std::size_t most_files = 1000;
// A part's header lines: a Content-Disposition and a Content-Type, usually under 200 bytes.
constexpr std::size_t most_header_bytes = 16 * 1024;
constexpr std::size_t most_padding = 256;

/// A header value with parameters: `type; name=token; name="quoted \" string"`.
struct parameterised {
  std::string_view type;
  /// Names as sent (compared without case), values unquoted.
  std::vector<std::pair<std::string_view, std::string>> parameters;

  /// The value of parameter `name`; of a repeated one the last, as the engine's reader (a
  /// Python dict filled in order) keeps it.
  const std::string* find(std::string_view name) const {
    auto found
      = std::find_if(parameters.rbegin(), parameters.rend(),
                     [name](const auto& parameter) { return iequals(parameter.first, name); });
    return found == parameters.rend() ? nullptr : &found->second;
  }
};

/// Splits a header value into its type and parameters; nothing when a quoted string is not
/// closed. A parameter without '=' is skipped, as lenient readers do.
std::optional<parameterised> split_parameters(std::string_view value) {
  parameterised out;
  auto semicolon = value.find(';');
  out.type = trim_blanks(value.substr(0, semicolon));
  std::size_t at = semicolon == std::string_view::npos ? value.size() : semicolon + 1;
  while (at < value.size()) {
    auto equals = value.find_first_of("=;", at);
    if (equals == std::string_view::npos || value[equals] == ';') {
      at = equals == std::string_view::npos ? value.size() : equals + 1;
      continue;
    }
    auto name = trim_blanks(value.substr(at, equals - at));
    at = equals + 1;
    while (at < value.size() && is_blank(value[at])) {
      ++at;
    }
    std::string text;
    bool quoted = at < value.size() && value[at] == '"';
    if (quoted) {
      for (++at;; ++at) {
        if (at >= value.size()) {
          return std::nullopt;
        }
        if (value[at] == '"') {
          ++at;
          break;
        }
        if (value[at] == '\\' && at + 1 < value.size()) {
          ++at;
        }
        text.push_back(value[at]);
      }
    }
    // A token runs to the next ';'; after a quoted string anything up to it is ignored.
    auto end = std::min(value.find(';', at), value.size());
    if (!quoted) {
      text = trim_blanks(value.substr(at, end - at));
    }
    at = end + 1;
    out.parameters.emplace_back(name, std::move(text));
  }
  return out;
}

/// An RFC 2231 extended value (`charset'language'percent-encoded`), decoded; the value as it is
/// when it has not that shape or cannot be decoded.
std::string decode_extended(const std::string& value) {
  auto first = value.find('\'');
  auto second = first == std::string::npos ? first : value.find('\'', first + 1);
  if (second == std::string::npos) {
    return value;
  }
  auto decoded = percent_decode(std::string_view(value).substr(second + 1));
  return decoded ? *decoded : value;
}

/// Reads the header lines of a part that starts at `at` into `part`, and `at` past the blank
/// line that ends them (to its content); a failure message, empty when they were fine. Lines are
/// found with memchr, so a hostile part costs no more than its bytes.
std::string read_part_headers(std::string_view body, std::size_t& at, form_part& part) {
  std::optional<parameterised> disposition;
  auto start = at;
  for (;;) {
    auto end = body.substr(0, start + most_header_bytes + 1).find('\n', at);
    if (end == std::string_view::npos || end - start > most_header_bytes) {
      return "a part's headers have no blank line after them within 16 KiB";
    }
    if (end == at || body[end - 1] != '\r') {
      return "a part's header line does not end with CRLF";
    }
    auto line = body.substr(at, end - 1 - at);
    at = end + 1;
    if (line.empty()) {
      break;
    }
    auto colon = line.find(':');
    if (colon == std::string_view::npos) {
      return "a part has a header line without a colon";
    }
    if (iequals(trim_blanks(line.substr(0, colon)), "content-disposition")) {
      disposition = split_parameters(line.substr(colon + 1));
      if (!disposition) {
        return "a part's Content-Disposition has an unclosed quoted string";
      }
    }
  }
  if (!disposition) {
    return "a part has no Content-Disposition";
  }
  if (const auto* extended = disposition->find("name*")) {
    part.name = decode_extended(*extended);
  } else if (const auto* name = disposition->find("name")) {
    part.name = *name;
  } else {
    return "a part's Content-Disposition names no field";
  }
  part.is_file = disposition->find("filename") || disposition->find("filename*");
  return {};
}

} // namespace

std::optional<std::string> form_boundary(std::string_view content_type) {
  // Asked of every request; nearly all are JSON.
  constexpr std::string_view multipart = "multipart/";
  if (!iequals(content_type.substr(0, multipart.size()), multipart)) {
    return std::nullopt;
  }
  auto parsed = split_parameters(content_type);
  if (!parsed || !iequals(parsed->type, "multipart/form-data")) {
    return std::nullopt;
  }
  const auto* boundary = parsed->find("boundary");
  if (!boundary || boundary->empty() || boundary->size() > 70
      || std::any_of(boundary->begin(), boundary->end(),
                     [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; })) {
    return std::nullopt;
  }
  return *boundary;
}

config::parsed<std::vector<form_part>> read_form(std::string_view body, std::string_view boundary) {
  using result = config::parsed<std::vector<form_part>>;
  // Every delimiter but a first one at the very start follows a line end.
  std::string delimiter = "\r\n--";
  delimiter += boundary;
  // Found by skipping (Boyer-Moore): audio files run to megabytes, and its good-suffix rule keeps
  // a hostile body linear (Horspool alone took 1.7 s over 32 MiB of 'a' with a boundary of 70).
  std::boyer_moore_searcher next_delimiter(delimiter.begin(), delimiter.end());
  std::size_t at = 0;
  if (body.substr(0, delimiter.size() - 2) == std::string_view(delimiter).substr(2)) {
    at = delimiter.size() - 2;
  } else if (auto first = std::search(body.begin(), body.end(), next_delimiter);
             first != body.end()) {
    at = static_cast<std::size_t>(first - body.begin()) + delimiter.size(); // after a preamble
  } else {
    return result::failure("the body has no delimiter of the form's boundary");
  }
  std::vector<form_part> parts;
  std::size_t fields = 0;
  std::size_t files = 0;
  for (;;) {
    auto rest = body.substr(at);
    if (rest.starts_with("--")) {
      return parts; // the close delimiter; an epilogue after it is ignored
    }
    // Transport padding: a few blanks at most in practice.
    auto blanks = rest.substr(0, most_padding);
    auto padding = std::min(blanks.find_first_not_of(" \t"), blanks.size());
    if (!rest.substr(padding).starts_with("\r\n")) {
      return result::failure(rest.size() == padding ? "the form has no close delimiter"
                                                    : "a delimiter is not followed by a line end");
    }
    form_part part;
    at += padding + 2;
    if (auto error = read_part_headers(body, at, part); !error.empty()) {
      return result::failure(std::move(error));
    }
    auto end
      = std::search(body.begin() + static_cast<std::ptrdiff_t>(at), body.end(), next_delimiter);
    if (end == body.end()) {
      return result::failure("the form has no close delimiter");
    }
    auto end_at = static_cast<std::size_t>(end - body.begin());
    part.value_at = at;
    part.value_size = end_at - at;
    if (++(part.is_file ? files : fields) > (part.is_file ? most_files : most_fields)) {
      return result::failure(part.is_file ? "the form has more than 1000 files"
                                          : "the form has more than 1000 fields");
    }
    parts.push_back(std::move(part));
    at = end_at + delimiter.size();
  }
}

const form_part* last_field(const std::vector<form_part>& parts, std::string_view name) {
  auto found = std::find_if(parts.rbegin(), parts.rend(),
                            [name](const form_part& part) { return part.name == name; });
  return found == parts.rend() ? nullptr : &*found;
}

} // namespace llmux::http
