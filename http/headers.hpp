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

} // namespace llmux::http
