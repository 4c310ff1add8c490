// The OpenAI surface of the mock: chat and text completions, transcriptions and translations
// (whole or streamed) and embeddings, with vLLM's behaviour while the engine sleeps or its CUDA
// state is checkpointed.

#include <chrono>
#include <functional>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/http/status.hpp>
#include <fmt/format.h>

#include "tools/mock-vllm/mock_server.hpp"
#include "tools/mock-vllm/responses.hpp"
#include "tools/mock-vllm/text_model.hpp"

namespace llmux::tools::mock_vllm {

namespace http = beast::http;

namespace {

constexpr auto use_tuple = net::as_tuple(net::use_awaitable);
constexpr std::string_view json_type = "application/json";
constexpr std::size_t embedding_dimensions = 16;

// Keeps a request counted in one of the engine's gauges for as long as it is in that phase.
// `changed`, if given, hears each change.
class gauge_slot {
public:
  explicit gauge_slot(std::uint64_t& gauge, std::function<void()> changed = {})
    : gauge_(gauge), changed_(std::move(changed)) {
    ++gauge_;
    if (changed_) {
      changed_();
    }
  }
  gauge_slot(const gauge_slot&) = delete;
  gauge_slot& operator=(const gauge_slot&) = delete;
  ~gauge_slot() {
    --gauge_;
    if (changed_) {
      changed_();
    }
  }

private:
  std::uint64_t& gauge_;
  std::function<void()> changed_;
};

} // namespace

answer_header mock_server::next_answer(endpoint kind) {
  ++request_count_;
  if (kind == endpoint::embedding) {
    return {fmt::format("embd-{:016x}", request_count_), unix_time_now(), opts_.served_name()};
  }
  if (takes_audio(kind)) {
    return {fmt::format("{}-{:016x}", kind == endpoint::transcription ? "trsc" : "trsl",
                        request_count_ * 0x9E3779B97F4A7C15ull),
            unix_time_now(), opts_.served_name()};
  }
  return {fmt::format("{}-{:016x}", kind == endpoint::chat ? "chatcmpl" : "cmpl",
                      request_count_ * 0x9E3779B97F4A7C15ull),
          unix_time_now(), opts_.served_name()};
}

net::awaitable<bool> mock_server::reply_error(beast::tcp_stream& stream,
                                              const http_request& request,
                                              const request_error& error) {
  co_return co_await reply(stream, request, static_cast<http::status>(error.status), json_type,
                           error_body(error));
}

net::awaitable<void> mock_server::wait_until_servable() {
  if (state_.can_serve()) {
    co_return;
  }
  gauge_slot waiting(waiting_);
  while (!state_.can_serve()) {
    auto waiter = std::make_shared<net::steady_timer>(io_, net::steady_timer::time_point::max());
    waiters_.push_back(waiter);
    co_await waiter->async_wait(use_tuple);
  }
}

net::awaitable<bool> mock_server::generate_answer(beast::tcp_stream& stream,
                                                  const http_request& request, endpoint kind) {
  auto parsed = takes_audio(kind)
                  ? parse_audio_request(kind, request[http::field::content_type], request.body())
                  : parse_generation_request(kind, request.body());
  if (!parsed) {
    request_error error{400, "BadRequestError", parsed.error(), ""};
    co_return co_await reply_error(stream, request, error);
  }
  if (!parsed->model.empty() && !serves(parsed->model)) {
    request_error error{404, "NotFoundError",
                        fmt::format("The model `{}` does not exist.", parsed->model), "model"};
    co_return co_await reply_error(stream, request, error);
  }
  if (faults_.crash_on_request) {
    fmt::print(stderr, "RuntimeError: EngineCore died (injected crash_on_request)\n");
    exit_now(1);
  }
  if (take_one(faults_.switch_protocols)) {
    co_await write_raw(stream, "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\n"
                               "Upgrade: websocket\r\n\r\n");
    co_return false; // the connection is no longer HTTP's
  }
  if (take_one(faults_.both_framings)) {
    co_await write_raw(stream, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                               "Content-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n"
                               "2\r\n{}\r\n0\r\n\r\n");
    co_return false;
  }
  if (take_one(faults_.interim_answers)) {
    if (!co_await write_raw(stream, "HTTP/1.1 100 Continue\r\n\r\n"
                                    "HTTP/1.1 103 Early Hints\r\n"
                                    "Link: </hints.css>; rel=preload; as=style\r\n\r\n")) {
      co_return false;
    }
  }
  if (!state_.can_serve()) {
    if (state_.nccl_suspended()) {
      // The workers cannot exchange activations until resume_nccl.
      co_return co_await reply(stream, request, http::status::internal_server_error, "", "");
    }
    if (state_.cuda() != cuda_state::running) {
      // cuda-checkpoint has the GPU state: the engine cannot run work until restored.
      co_return co_await reply(stream, request, http::status::internal_server_error, "", "");
    }
    if (opts_.while_sleeping == sleeping_requests::reject) {
      co_return co_await reply(stream, request, http::status::service_unavailable,
                               "text/plain; charset=utf-8", "Model is sleeping");
    }
    if (opts_.while_sleeping == sleeping_requests::crash) {
      // vLLM <= 0.16 schedules the request against unmapped memory and the engine dies.
      co_await reply(stream, request, http::status::internal_server_error, "", "");
      fmt::print(stderr, "RuntimeError: CUDA error: an illegal memory access was encountered\n");
      exit_now(1);
    }
  }
  // Queued while asleep (vLLM >= 0.17): a stream has its 200 and headers at once and waits for
  // its tokens; any other request waits for its whole answer.
  if (parsed->stream && kind != endpoint::embedding) {
    co_return co_await stream_answer(stream, request, *parsed);
  }
  co_await wait_until_servable();
  gauge_slot running(running_, [this] { running_changed(); });
  auto header = next_answer(kind);
  if (kind == endpoint::embedding) {
    prompt_tokens_total_ += count_tokens(parsed->prompt);
    co_await pause_for(timing_.first_token_ms());
    co_return co_await reply(
      stream, request, http::status::ok, json_type,
      embedding_body(header, embed(header.model, parsed->prompt, embedding_dimensions),
                     count_tokens(parsed->prompt)));
  }
  auto answer = generate(header.model, parsed->prompt, parsed->seed, parsed->max_tokens,
                         state_.weights_valid(), parsed->ignore_eos);
  prompt_tokens_total_ += answer.prompt_tokens;
  generation_tokens_total_ += answer.tokens.size();
  co_await pause_for(timing_.first_token_ms()
                     + timing_.token_interval_ms() * static_cast<double>(answer.tokens.size()));
  // Built before the co_await: g++ 12 destroys a conditional's temporary twice in one.
  auto body = takes_audio(kind) ? audio_text_body(answer, parsed->prompt.size())
                                : completion_body(header, kind, answer);
  co_return co_await reply(stream, request, http::status::ok, json_type, std::move(body));
}

net::awaitable<bool> mock_server::stream_answer(beast::tcp_stream& stream,
                                                const http_request& request,
                                                const generation_request& parsed) {
  event_stream events(stream, request, opts_.sse_timestamps);
  if (!co_await events.open()) {
    co_return false;
  }
  co_await wait_until_servable();
  gauge_slot running(running_, [this] { running_changed(); });
  auto header = next_answer(parsed.kind);
  auto answer = generate(header.model, parsed.prompt, parsed.seed, parsed.max_tokens,
                         state_.weights_valid(), parsed.ignore_eos);
  prompt_tokens_total_ += answer.prompt_tokens;
  if (parsed.kind == endpoint::chat && !co_await events.send(sse_event(chat_role_chunk(header)))) {
    co_return false;
  }
  co_await pause_for(timing_.first_token_ms());
  for (std::size_t i = 0; i < answer.tokens.size(); ++i) {
    if (faults_.crash_mid_stream >= 0 && static_cast<std::size_t>(faults_.crash_mid_stream) == i) {
      fmt::print(stderr, "RuntimeError: EngineCore died mid-stream (injected crash_mid_stream)\n");
      exit_now(1);
    }
    bool last = i + 1 == answer.tokens.size();
    auto chunk = content_chunk(header, parsed.kind, answer.tokens[i],
                               last ? std::string_view{answer.finish_reason} : "");
    if (!co_await events.send(sse_event(chunk))) {
      co_return false;
    }
    ++generation_tokens_total_;
    if (!last) {
      co_await pause_for(timing_.token_interval_ms());
    }
  }
  if (parsed.include_usage
      && !co_await events.send(sse_event(usage_chunk(header, parsed.kind, answer)))) {
    co_return false;
  }
  if (!co_await events.send(sse_event("[DONE]"))) {
    co_return false;
  }
  co_return co_await events.close();
}

} // namespace llmux::tools::mock_vllm
