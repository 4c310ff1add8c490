#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "config/parsed.hpp"

namespace llmux::tools::mock_vllm {

/// Which OpenAI endpoint a request came to.
enum class endpoint { chat, completion, embedding, transcription, translation };

/// Whether requests to `kind` carry a form with an audio file (vLLM's audio endpoints).
inline bool takes_audio(endpoint kind) {
  return kind == endpoint::transcription || kind == endpoint::translation;
}

/// What the mock needs from an OpenAI request body.
struct generation_request {
  endpoint kind = endpoint::chat;
  /// The `model` field; empty when absent (vLLM then uses the served model).
  std::string model;
  /// The prompt the answer depends on: chat messages as `role: content` lines, the completion
  /// prompt, the embedding input, or the audio file's bytes.
  std::string prompt;
  std::optional<std::uint64_t> max_tokens;
  std::uint64_t seed = 0;
  bool stream = false;
  bool include_usage = false;
  /// vLLM's `ignore_eos`: generate exactly `max_tokens`, past the natural end.
  bool ignore_eos = false;
};

/// An OpenAI-shaped failure: HTTP status, error type and message.
struct request_error {
  int status = 400;
  std::string type = "BadRequestError";
  std::string message;
  std::string param;
};

/// Reads an OpenAI request body for `kind`; errors are those vLLM answers with 400.
config::parsed<generation_request> parse_generation_request(endpoint kind, std::string_view body);

/// Reads an audio request: a multipart/form-data body (`content_type` names its boundary) with
/// a `file` and the fields `model`, `stream`, `stream_include_usage`; errors are vLLM's 400s.
config::parsed<generation_request> parse_audio_request(endpoint kind, std::string_view content_type,
                                                       std::string_view body);

/// The `method` of a `/collective_rpc` body, or the 400 message vLLM gives.
config::parsed<std::string> parse_collective_rpc(std::string_view body);

} // namespace llmux::tools::mock_vllm
