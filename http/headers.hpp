#pragma once

#include <string_view>

namespace llmux::http {

/// Whether a client's request header reaches the engine. Hop-by-hop headers (connection,
/// transfer-encoding, ...) describe one connection and are set anew; credentials
/// (authorization, cookie, x-api-key, api-key), browser context (origin, referer, sec-fetch-*,
/// sec-ch-ua*), conditional-request headers, model-override and any x-forwarded-proto/for the
/// client sent are kept from the engine (spec §2.4 step 5). Names compare case-insensitively.
bool forwards_request_header(std::string_view name);

/// Whether an engine's response header reaches the client: all but the hop-by-hop ones.
bool forwards_response_header(std::string_view name);

/// Whether `c` is a space or a tab: HTTP's optional whitespace (RFC 9110, section 5.6.3).
inline bool is_blank(char c) {
  return c == ' ' || c == '\t';
}

/// `text` without the blanks at either end.
std::string_view trim_blanks(std::string_view text);

/// Whether `text` is `lower` (lower-case letters, digits and '-') in any case, for a `text`
/// with no control character but tab: a header name or value as a parser passed it. Eight
/// bytes at a time: `| 0x20` lowers a letter and leaves digits and '-' be; the only other
/// bytes it takes to those are control characters (CR to '-'). (Comparing a byte at a time
/// with a lowering lambda cost a relay about 800 instructions per response.)
bool iequals_lower(std::string_view text, std::string_view lower);

} // namespace llmux::http
