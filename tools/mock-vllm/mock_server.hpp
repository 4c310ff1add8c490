#pragma once

#include <memory>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include "tools/mock-vllm/engine_state.hpp"
#include "tools/mock-vllm/http_session.hpp"
#include "tools/mock-vllm/options.hpp"
#include "tools/mock-vllm/requests.hpp"
#include "tools/mock-vllm/responses.hpp"

namespace llmux::tools::mock_vllm {

/// One emulated engine: its state, its faults and its HTTP handlers. Everything runs on one
/// io_context thread, so no member needs a lock.
class mock_server {
public:
  mock_server(net::io_context& io, options opts, std::vector<std::string> arguments,
              std::string executable);

  /// Binds, emulates the start-up (or a CRIU restore), listens and serves until the process ends.
  net::awaitable<void> run();

  /// Withdraws the published GPU state and ends the process at once, as a dying engine does.
  [[noreturn]] void exit_now(int status);

private:
  net::awaitable<void> serve_connection(tcp::socket socket);
  net::awaitable<bool> handle(beast::tcp_stream& stream, http_request& request);

  // OpenAI surface (server.cpp)
  net::awaitable<bool> generate_answer(beast::tcp_stream& stream, const http_request& request,
                                       endpoint kind);
  net::awaitable<bool> stream_answer(beast::tcp_stream& stream, const http_request& request,
                                     const generation_request& parsed);
  /// Counts one more answer and names it as vLLM does (`chatcmpl-…`, `cmpl-…`, `embd-…`).
  answer_header next_answer(endpoint kind);
  /// Holds the caller until the engine is awake and CUDA runs (vLLM >= 0.17 queues requests).
  net::awaitable<void> wait_until_servable();
  net::awaitable<bool> reply_error(beast::tcp_stream& stream, const http_request& request,
                                   const request_error& error);

  // vLLM development-mode endpoints (control.cpp)
  net::awaitable<bool> sleep(beast::tcp_stream& stream, const http_request& request,
                             const query_list& query);
  net::awaitable<bool> wake_up(beast::tcp_stream& stream, const http_request& request,
                               const query_list& query);
  net::awaitable<bool> collective_rpc(beast::tcp_stream& stream, const http_request& request);

  // Mock-only control (control.cpp)
  net::awaitable<bool> cuda(beast::tcp_stream& stream, const http_request& request,
                            const query_list& query);
  net::awaitable<bool> dump(beast::tcp_stream& stream, const http_request& request,
                            const query_list& query);
  std::string state_json() const;
  /// With tensor parallelism, the workers' NCCL communicators hold CUDA IPC state that neither
  /// cuda-checkpoint nor CRIU can move: they must be suspended first.
  bool communicators_active() const {
    return opts_.tensor_parallel_size > 1 && !state_.nccl_suspended();
  }
  std::string metrics_text() const;

  bool serves(std::string_view model) const;
  void publish_state();
  /// With an elastic KV cache the GPU memory follows the running requests.
  void running_changed();
  void wake_waiters();

  net::io_context& io_;
  options opts_;
  timing timing_;
  std::vector<std::string> arguments_;
  std::string executable_;
  engine_state state_;
  fault_plan faults_;
  std::vector<std::string> served_names_;
  std::uint16_t port_ = 0;
  std::int64_t started_at_ = 0;
  std::uint64_t request_count_ = 0;
  std::uint64_t running_ = 0;
  std::uint64_t waiting_ = 0;
  std::uint64_t prompt_tokens_total_ = 0;
  std::uint64_t generation_tokens_total_ = 0;
  std::vector<std::shared_ptr<net::steady_timer>> waiters_;
};

} // namespace llmux::tools::mock_vllm
