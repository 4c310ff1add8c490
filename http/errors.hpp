#pragma once

#include <string>
#include <string_view>

#include "actors/serving.hpp"

namespace llmux::http {

/// An error body in OpenAI's shape, `{"error":{"message","type","param","code"}}`, as the
/// official clients parse it. `type` and `code` follow from the status: 400/404/413/431 are
/// `invalid_request_error` (404 with param `model` has code `model_not_found`), 502 `engine_error`,
/// 503 `service_unavailable`, 504 `timeout`.
std::string openai_error(int status, std::string_view message, std::string_view param = {});

/// The HTTP status a refused lease is answered with: 404 for an unknown model, 504 after the
/// request timeout, 499 (never sent: the client left) for a cancellation, 503 otherwise.
int status_of(actors::refusal reason);

/// The OpenAI error body for a refused lease: `openai_error`'s shape with a `code` that names
/// the reason (`model_not_found`, `model_timeout`, `model_backing_off`, `manual_mode`,
/// `shutting_down`, `scheduler_unavailable`).
std::string openai_refusal(const actors::lease_outcome& refused);

} // namespace llmux::http
