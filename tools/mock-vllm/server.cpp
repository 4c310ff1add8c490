#include "tools/mock-vllm/server.hpp"

#include <chrono>
#include <cstdio>
#include <unistd.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <fmt/format.h>

#include "tools/mock-vllm/checkpoint_image.hpp"
#include "tools/mock-vllm/gpu_registry.hpp"
#include "tools/mock-vllm/mock_server.hpp"
#include "tools/mock-vllm/responses.hpp"

namespace llmux::tools::mock_vllm {

namespace http = beast::http;

namespace {

constexpr auto use_tuple = net::as_tuple(net::use_awaitable);
// vLLM's (uvicorn's) keep-alive timeout: idle pooled connections are closed after 5 s.
constexpr auto keep_alive_timeout = std::chrono::seconds(5);
constexpr std::size_t body_limit = 64 * 1024 * 1024;
constexpr std::string_view json_type = "application/json";

void say(std::string_view line) {
  fmt::print("{}\n", line);
  std::fflush(stdout);
}

memory_plan plan_of(const options& opts) {
  memory_plan plan;
  plan.total_mib = opts.gpu_total_mib;
  plan.utilization = opts.gpu_memory_utilization;
  plan.weights_mib = opts.weights_gib * 1024;
  plan.elastic_kv = opts.elastic_kv;
  plan.kv_per_request_mib = opts.kv_per_request_mib;
  return plan;
}

/// The OpenAI endpoint a path names, if it is one the mock answers.
std::optional<endpoint> openai_endpoint(std::string_view path) {
  constexpr std::pair<std::string_view, endpoint> endpoints[] = {
    {"/v1/chat/completions", endpoint::chat},
    {"/v1/completions", endpoint::completion},
    {"/v1/embeddings", endpoint::embedding},
    {"/v1/audio/transcriptions", endpoint::transcription},
    {"/v1/audio/translations", endpoint::translation},
  };
  for (auto [known, kind] : endpoints) {
    if (path == known) {
      return kind;
    }
  }
  return std::nullopt;
}

} // namespace

mock_server::mock_server(net::io_context& io, options opts, std::vector<std::string> arguments,
                         std::string executable)
  : io_(io), opts_(std::move(opts)), timing_(opts_), arguments_(std::move(arguments)),
    executable_(std::move(executable)), state_(plan_of(opts_), opts_.enable_sleep_mode),
    faults_(opts_.faults),
    served_names_(opts_.served_model_names.empty() ? std::vector<std::string>{opts_.model}
                                                   : opts_.served_model_names),
    started_at_(unix_time_now()) {
}

void mock_server::exit_now(int status) {
  withdraw(opts_.state_dir, ::getpid());
  std::fflush(stdout);
  std::fflush(stderr);
  std::_Exit(status);
}

void mock_server::publish_state() {
  gpu_process process;
  process.pid = ::getpid();
  process.port = port_;
  process.model = opts_.served_name();
  process.gpu_used_mib = state_.gpu_used_mib();
  process.gpu_total_mib = opts_.gpu_total_mib;
  process.host_used_mib = state_.host_used_mib();
  process.cuda_state = to_string(state_.cuda());
  publish(opts_.state_dir, process);
}

void mock_server::running_changed() {
  if (opts_.elastic_kv) {
    state_.set_running(running_);
    publish_state();
  }
}

void mock_server::wake_waiters() {
  for (auto& waiter : waiters_) {
    waiter->cancel();
  }
  waiters_.clear();
}

bool mock_server::serves(std::string_view model) const {
  return std::find(served_names_.begin(), served_names_.end(), model) != served_names_.end();
}

net::awaitable<void> mock_server::run() {
  auto executor = co_await net::this_coro::executor;
  // A restored engine comes back on the port it had when it was dumped.
  std::optional<checkpoint_image> restored;
  if (!opts_.restore_from.empty()) {
    auto image = read_checkpoint(opts_.restore_from);
    if (!image) {
      fmt::print(stderr, "ERROR: {}\n", image.error());
      exit_now(1);
    }
    restored = *image;
  }
  tcp::acceptor acceptor(executor);
  tcp::endpoint endpoint(net::ip::make_address(opts_.host), restored ? restored->port : opts_.port);
  beast::error_code ec;
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) {
    acceptor.set_option(net::socket_base::reuse_address(true), ec);
    acceptor.bind(endpoint, ec);
  }
  if (ec) {
    fmt::print(stderr, "ERROR: cannot bind {}:{}: {}\n", opts_.host, endpoint.port(), ec.message());
    exit_now(1);
  }
  port_ = acceptor.local_endpoint().port();
  // Like vLLM, the port is bound at once but refuses connections until loading is done.
  if (restored) {
    state_.restore(restored->snapshot);
    say(fmt::format("mock-vllm: bound {}:{}, restored {} from {}", opts_.host, port_, opts_.model,
                    opts_.restore_from));
  } else {
    auto plan = state_.plan();
    if (!plan.elastic_kv
        && plan.weights_mib + plan.context_mib > plan.utilization * plan.total_mib) {
      fmt::print(stderr, "ValueError: No available memory for the cache blocks. Try increasing "
                         "`gpu_memory_utilization` when initializing the engine.\n");
      exit_now(1);
    }
    // As vLLM's worker: what the other processes hold must leave room for this engine's share.
    double others = 0;
    for (const auto& process : live_processes(opts_.state_dir)) {
      others += process.pid == ::getpid() ? 0 : process.gpu_used_mib;
    }
    double free = plan.total_mib - others;
    if (free < plan.startup_mib()) {
      fmt::print(stderr,
                 "ValueError: Free memory on device ({:.2f}/{:.2f} GiB) on startup is less than "
                 "desired GPU memory utilization ({}, {:.2f} GiB). Decrease GPU memory "
                 "utilization or reduce GPU memory used by other processes.\n",
                 free / 1024, plan.total_mib / 1024, plan.utilization, plan.startup_mib() / 1024);
      exit_now(1);
    }
    say(fmt::format("mock-vllm: bound {}:{}, loading {} ({:.0f} ms)", opts_.host, port_,
                    opts_.model, timing_.start_ms()));
    co_await pause_for(timing_.start_ms());
    if (faults_.crash_at_start) {
      fmt::print(stderr, "RuntimeError: CUDA error: out of memory (injected crash_at_start)\n");
      exit_now(1);
    }
  }
  acceptor.listen(net::socket_base::max_listen_connections, ec);
  if (ec) {
    fmt::print(stderr, "ERROR: cannot listen on port {}: {}\n", port_, ec.message());
    exit_now(1);
  }
  publish_state();
  say("INFO:     Application startup complete.");
  say(fmt::format("READY {}", port_));
  for (;;) {
    auto [accept_error, socket] = co_await acceptor.async_accept(use_tuple);
    if (accept_error) {
      continue;
    }
    net::co_spawn(executor, serve_connection(std::move(socket)), net::detached);
  }
}

net::awaitable<void> mock_server::serve_connection(tcp::socket socket) {
  beast::tcp_stream stream(std::move(socket));
  beast::flat_buffer buffer;
  for (;;) {
    http::request_parser<http::string_body> parser;
    parser.body_limit(body_limit);
    stream.expires_after(keep_alive_timeout);
    auto [head_error, head_read]
      = co_await http::async_read_header(stream, buffer, parser, use_tuple);
    if (head_error) {
      break;
    }
    // As uvicorn does when the application reads the body: a client that asked waits no more.
    if (beast::iequals(parser.get()[http::field::expect], "100-continue")
        && !co_await write_raw(stream, "HTTP/1.1 100 Continue\r\n\r\n")) {
      break;
    }
    auto [ec, read] = co_await http::async_read(stream, buffer, parser, use_tuple);
    if (ec) {
      break;
    }
    stream.expires_never();
    auto request = parser.release();
    bool open = co_await handle(stream, request);
    if (!open || !request.keep_alive()) {
      break;
    }
  }
  beast::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
}

// Which body a route answers a request with; `handle` turns it into exactly one reply, so every
// path has one plain `co_await` (g++ 12 miscompiles co_await on conditional expressions).
net::awaitable<bool> mock_server::handle(beast::tcp_stream& stream, http_request& request) {
  auto [path, query] = split_target(request.target());
  auto method = request.method();
  // Starlette, under vLLM's routes, answers HEAD wherever it answers GET.
  bool get = method == http::verb::get || method == http::verb::head;
  bool post = method == http::verb::post;
  constexpr std::string_view not_found = R"({"detail":"Not Found"})";
  constexpr std::string_view not_allowed = R"({"detail":"Method Not Allowed"})";

  std::optional<std::pair<http::status, std::string>> answer;
  std::string_view type = json_type;
  auto route = [&](bool allowed, http::status status, std::string body) {
    answer = allowed ? std::pair{status, std::move(body)}
                     : std::pair{http::status::method_not_allowed, std::string{not_allowed}};
  };
  bool dev_route = path == "/sleep" || path == "/wake_up" || path == "/is_sleeping"
                   || path == "/collective_rpc" || path == "/reset_prefix_cache"
                   || path == "/reset_mm_cache" || path == "/server_info";
  if (path.starts_with("/v1/") && !opts_.api_key.empty()
      && request[http::field::authorization] != "Bearer " + opts_.api_key) {
    route(true, http::status::unauthorized, R"({"error":"Unauthorized"})");
  } else if (path == "/health" || path == "/ping") {
    type = "";
    route(get || (post && path == "/ping"), http::status::ok, "");
  } else if (path == "/version") {
    route(get, http::status::ok, R"({"version":"0.17.0"})");
  } else if (path == "/metrics") {
    type = "text/plain; version=0.0.4; charset=utf-8";
    route(get, http::status::ok, metrics_text());
  } else if (path == "/v1/models") {
    route(get, http::status::ok,
          models_body(served_names_, opts_.model, opts_.max_model_len, started_at_));
  } else if (auto kind = openai_endpoint(path)) {
    if (post) {
      co_return co_await generate_answer(stream, request, *kind);
    }
    route(false, http::status::ok, "");
  } else if (path == "/mock/state") {
    route(get, http::status::ok, state_json());
  } else if (path == "/mock/faults") {
    auto target = request.target();
    auto faults
      = parse_faults(target.substr(std::min(target.find('?'), target.size() - 1) + 1), faults_);
    if (faults && post) {
      faults_ = *faults;
    }
    route(post, faults ? http::status::ok : http::status::bad_request,
          faults ? std::string{} : fmt::format(R"({{"error":"{}"}})", faults.error()));
  } else if (path == "/mock/cuda") {
    co_return co_await cuda(stream, request, query);
  } else if (path == "/mock/dump" && post) {
    co_return co_await dump(stream, request, query);
  } else if (!dev_route || !opts_.dev_mode) {
    // vLLM's development endpoints exist only with VLLM_SERVER_DEV_MODE=1.
    route(true, http::status::not_found, std::string{not_found});
  } else if (path == "/sleep" && post) {
    co_return co_await sleep(stream, request, query);
  } else if (path == "/wake_up" && post) {
    co_return co_await wake_up(stream, request, query);
  } else if (path == "/collective_rpc" && post) {
    co_return co_await collective_rpc(stream, request);
  } else if (path == "/is_sleeping") {
    route(get, http::status::ok, fmt::format(R"({{"is_sleeping":{}}})", state_.is_sleeping()));
  } else if (path == "/reset_prefix_cache" || path == "/reset_mm_cache") {
    type = "";
    route(post, http::status::ok, "");
  } else if (path == "/server_info") {
    route(get, http::status::ok,
          fmt::format(R"({{"vllm_config":"model={} tensor_parallel_size={}",)"
                      R"("vllm_env":{{"VLLM_SERVER_DEV_MODE":"1"}}}})",
                      opts_.model, opts_.tensor_parallel_size));
  } else {
    route(false, http::status::ok, "");
  }
  if (answer->first == http::status::method_not_allowed
      || answer->first == http::status::not_found) {
    type = json_type;
  }
  auto body_on_head = faults_.body_on_head_ms > 0
                        ? std::optional(std::chrono::milliseconds(faults_.body_on_head_ms))
                        : std::nullopt;
  co_return co_await reply(stream, request, answer->first, type, std::move(answer->second),
                           body_on_head);
}

int run_server(const options& opts, std::vector<std::string> arguments, std::string executable) {
  net::io_context io{1};
  mock_server server(io, opts, std::move(arguments), std::move(executable));
  net::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&server](const beast::error_code& ec, int) {
    if (!ec) {
      server.exit_now(0);
    }
  });
  net::co_spawn(io, server.run(), [&server](std::exception_ptr failure) {
    if (failure) {
      fmt::print(stderr, "ERROR: mock-vllm stopped by an exception\n");
      server.exit_now(1);
    }
  });
  io.run();
  return 0;
}

} // namespace llmux::tools::mock_vllm
