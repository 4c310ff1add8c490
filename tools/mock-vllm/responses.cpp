#include "tools/mock-vllm/responses.hpp"

#include <chrono>

#include "config/json_writer.hpp"

namespace llmux::tools::mock_vllm {

namespace {

using config::json_writer;

bool is_chat(endpoint kind) {
  return kind == endpoint::chat;
}

/// Chat and audio chunks carry their text in a `delta`, text completions in `text`.
bool streams_deltas(endpoint kind) {
  return is_chat(kind) || takes_audio(kind);
}

/// The `object` of a stream's chunks.
std::string_view chunk_object(endpoint kind) {
  switch (kind) {
    case endpoint::chat:
      return "chat.completion.chunk";
    case endpoint::transcription:
      return "transcription.chunk";
    case endpoint::translation:
      return "translation.chunk";
    default:
      return "text_completion";
  }
}

void write_header(json_writer& out, const answer_header& header, std::string_view object) {
  out.key("id");
  out.string(header.id);
  out.key("object");
  out.string(object);
  out.key("created");
  out.integer(static_cast<std::uint64_t>(header.created));
  out.key("model");
  out.string(header.model);
}

// `{"id":…,"object":…,"created":…,"model":…,"choices":[` — how every answer and chunk opens.
void open_choices(json_writer& out, const answer_header& header, std::string_view object) {
  out.begin_object();
  write_header(out, header, object);
  out.key("choices");
  out.begin_array();
}

void write_usage(json_writer& out, std::size_t prompt_tokens, std::size_t completion_tokens) {
  out.key("usage");
  out.begin_object();
  out.key("prompt_tokens");
  out.integer(prompt_tokens);
  out.key("total_tokens");
  out.integer(prompt_tokens + completion_tokens);
  out.key("completion_tokens");
  out.integer(completion_tokens);
  out.end_object();
}

void write_finish(json_writer& out, std::string_view finish_reason) {
  out.key("finish_reason");
  if (finish_reason.empty()) {
    out.null();
  } else {
    out.string(finish_reason);
  }
}

} // namespace

std::int64_t unix_time_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
           std::chrono::system_clock::now().time_since_epoch())
    .count();
}

std::string error_body(const request_error& error) {
  json_writer out(json_writer::layout::compact);
  out.begin_object();
  out.key("error");
  out.begin_object();
  out.key("message");
  out.string(error.message);
  out.key("type");
  out.string(error.type);
  out.key("param");
  if (error.param.empty()) {
    out.null();
  } else {
    out.string(error.param);
  }
  out.key("code");
  out.integer(static_cast<std::uint64_t>(error.status));
  out.end_object();
  out.end_object();
  return out.str();
}

std::string completion_body(const answer_header& header, endpoint kind, const generation& answer) {
  json_writer out(json_writer::layout::compact);
  open_choices(out, header, is_chat(kind) ? "chat.completion" : "text_completion");
  out.begin_object();
  out.key("index");
  out.integer(0);
  if (is_chat(kind)) {
    out.key("message");
    out.begin_object();
    out.key("role");
    out.string("assistant");
    out.key("content");
    out.string(answer.text());
    out.key("tool_calls");
    out.begin_array();
    out.end_array();
    out.end_object();
  } else {
    out.key("text");
    out.string(answer.text());
  }
  out.key("logprobs");
  out.null();
  write_finish(out, answer.finish_reason);
  out.key("stop_reason");
  out.null();
  out.end_object();
  out.end_array();
  write_usage(out, answer.prompt_tokens, answer.tokens.size());
  out.end_object();
  return out.str();
}

std::string chat_role_chunk(const answer_header& header) {
  json_writer out(json_writer::layout::compact);
  open_choices(out, header, "chat.completion.chunk");
  out.begin_object();
  out.key("index");
  out.integer(0);
  out.key("delta");
  out.begin_object();
  out.key("role");
  out.string("assistant");
  out.key("content");
  out.string("");
  out.end_object();
  out.key("logprobs");
  out.null();
  out.key("finish_reason");
  out.null();
  out.end_object();
  out.end_array();
  out.end_object();
  return out.str();
}

std::string content_chunk(const answer_header& header, endpoint kind, std::string_view token,
                          std::string_view finish_reason) {
  json_writer out(json_writer::layout::compact);
  open_choices(out, header, chunk_object(kind));
  out.begin_object();
  out.key("index");
  out.integer(0);
  if (streams_deltas(kind)) {
    out.key("delta");
    out.begin_object();
    out.key("content");
    out.string(token);
    out.end_object();
  } else {
    out.key("text");
    out.string(token);
  }
  out.key("logprobs");
  out.null();
  write_finish(out, finish_reason);
  if (!finish_reason.empty()) {
    out.key("stop_reason");
    out.null();
  }
  out.end_object();
  out.end_array();
  out.end_object();
  return out.str();
}

std::string usage_chunk(const answer_header& header, endpoint kind, const generation& answer) {
  json_writer out(json_writer::layout::compact);
  open_choices(out, header, chunk_object(kind));
  out.end_array();
  write_usage(out, answer.prompt_tokens, answer.tokens.size());
  out.end_object();
  return out.str();
}

std::string audio_text_body(const generation& answer, std::size_t audio_bytes) {
  json_writer out(json_writer::layout::compact);
  out.begin_object();
  out.key("text");
  out.string(answer.text());
  out.key("usage");
  out.begin_object();
  out.key("type");
  out.string("duration");
  out.key("seconds");
  // As if 16 kHz 16-bit mono, whole seconds rounded up.
  constexpr std::size_t bytes_per_second = 32000;
  out.integer((audio_bytes + bytes_per_second - 1) / bytes_per_second);
  out.end_object();
  out.end_object();
  return out.str();
}

std::string sse_event(std::string_view payload) {
  std::string event = "data: ";
  event += payload;
  event += "\n\n";
  return event;
}

std::string embedding_body(const answer_header& header, const std::vector<double>& vector,
                           std::size_t prompt_tokens) {
  json_writer out(json_writer::layout::compact);
  out.begin_object();
  write_header(out, header, "list");
  out.key("data");
  out.begin_array();
  out.begin_object();
  out.key("index");
  out.integer(0);
  out.key("object");
  out.string("embedding");
  out.key("embedding");
  out.begin_array();
  for (double value : vector) {
    out.real(value);
  }
  out.end_array();
  out.end_object();
  out.end_array();
  write_usage(out, prompt_tokens, 0);
  out.end_object();
  return out.str();
}

std::string models_body(const std::vector<std::string>& names, std::string_view root,
                        std::uint64_t max_model_len, std::int64_t created) {
  json_writer out(json_writer::layout::compact);
  out.begin_object();
  out.key("object");
  out.string("list");
  out.key("data");
  out.begin_array();
  for (const auto& name : names) {
    out.begin_object();
    out.key("id");
    out.string(name);
    out.key("object");
    out.string("model");
    out.key("created");
    out.integer(static_cast<std::uint64_t>(created));
    out.key("owned_by");
    out.string("vllm");
    out.key("root");
    out.string(root);
    out.key("parent");
    out.null();
    out.key("max_model_len");
    out.integer(max_model_len);
    out.end_object();
  }
  out.end_array();
  out.end_object();
  return out.str();
}

} // namespace llmux::tools::mock_vllm
