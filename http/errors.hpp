#pragma once

#include <string>
#include <string_view>

namespace llmux::http {

/// An error body in OpenAI's shape, `{"error":{"message","type","param","code"}}`, as the
/// official clients parse it. `type` and `code` follow from the status: 400/404/413/431 are
/// `invalid_request_error` (404 with param `model` has code `model_not_found`), 502 `engine_error`,
/// 503 `service_unavailable`, 504 `timeout`.
std::string openai_error(int status, std::string_view message, std::string_view param = {});

} // namespace llmux::http
