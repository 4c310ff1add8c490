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

/// How an event stream frames its events: OpenAI's bare `data:` lines, or the named events of
/// Anthropic's Messages API (vLLM's `/v1/messages`), whose clients act on named events only (an
/// unnamed error would be dropped and the stream seem merely to end).
enum class event_dialect { openai, anthropic };

/// The dialect of the stream a request to `target` (the normalised path, with its query if it
/// has one) gets.
event_dialect event_dialect_of(std::string_view target);

/// `data`, a JSON error body, as the event that ends a failed stream (named `error` in
/// Anthropic's dialect), then `data: [DONE]` (which ends vLLM's streams of both dialects).
std::string error_event(event_dialect dialect, std::string_view data);

/// The event that ends a failed stream with `status` and `message`: an OpenAI error body, or
/// Anthropic's `{"type":"error","error":{"type","message"}}` (its type from the status:
/// `invalid_request_error`, `not_found_error`, `overloaded_error` for 503, `timeout_error` for
/// 504, `api_error` otherwise...).
std::string stream_error_event(event_dialect dialect, int status, std::string_view message);

/// The HTTP status a refused lease is answered with: 404 for an unknown model, 504 after the
/// request timeout, 499 (never sent: the client left) for a cancellation, 503 otherwise.
int status_of(actors::refusal reason);

/// The OpenAI error body for a refused lease: `openai_error`'s shape with a `code` that names
/// the reason (`model_not_found`, `model_timeout`, `model_backing_off`, `manual_mode`,
/// `shutting_down`, `scheduler_unavailable`).
std::string openai_refusal(const actors::lease_outcome& refused);

} // namespace llmux::http
