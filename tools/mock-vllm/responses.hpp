#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "tools/mock-vllm/requests.hpp"
#include "tools/mock-vllm/text_model.hpp"

namespace llmux::tools::mock_vllm {

/// Identity of one answer: the id every chunk repeats, its creation time and the served name.
struct answer_header {
  std::string id;
  std::int64_t created = 0;
  std::string model;
};

/// Seconds since the Unix epoch: the `created` of answers and model cards.
std::int64_t unix_time_now();

/// vLLM's nested error body `{"error":{"message","type","param","code"}}`.
std::string error_body(const request_error& error);

/// A whole non-streamed chat or text completion (vllm-interface §2.2).
std::string completion_body(const answer_header& header, endpoint kind, const generation& answer);

/// The first chunk of a chat stream, carrying the role.
std::string chat_role_chunk(const answer_header& header);

/// One content chunk; `finish_reason` is empty except on the last one.
std::string content_chunk(const answer_header& header, endpoint kind, std::string_view token,
                          std::string_view finish_reason);

/// The final usage chunk for `stream_options.include_usage`.
std::string usage_chunk(const answer_header& header, endpoint kind, const generation& answer);

/// A whole transcription or translation (`response_format` json): its text and the audio's
/// duration as usage.
std::string audio_text_body(const generation& answer, std::size_t audio_bytes);

/// One SSE event: `data: <payload>\n\n`.
std::string sse_event(std::string_view payload);

/// An embeddings answer.
std::string embedding_body(const answer_header& header, const std::vector<double>& vector,
                           std::size_t prompt_tokens);

/// `GET /v1/models`: one model card per served name.
std::string models_body(const std::vector<std::string>& names, std::string_view root,
                        std::uint64_t max_model_len, std::int64_t created);

} // namespace llmux::tools::mock_vllm
