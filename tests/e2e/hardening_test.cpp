// The daemon against faults and hostile clients: hung engines, hung control calls, crash
// loops, drains that never end, encoded control paths and broken HTTP. Real llmux, real
// mock-vllm engines, real sockets.

#include <csignal>
#include <fstream>
#include <future>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>

#include <fmt/format.h>

#include "tests/e2e/daemon.hpp"

namespace llmux::testing_support {
namespace {

// Fast liveness, so that a hung engine is found within a second or two.
constexpr const char* fast_liveness
  = R"("timeouts": {"health_interval_ms": 200, "health_timeout_ms": 300, "health_misses": 2,
                    "failure_backoff_secs": 1})";

bool process_exists(pid_t pid) {
  return ::kill(pid, 0) == 0;
}

// Counts the leases and waiting requests of every model in /llmux/status.
std::uint64_t outstanding(const running_daemon& daemon) {
  simdjson::dom::parser parser;
  auto status = daemon.status(parser);
  std::uint64_t total = 0;
  simdjson::dom::object models;
  if (status["models"].get_object().get(models)) {
    return 999999;
  }
  for (auto [name, model] : models) {
    total += number_at(model["in_flight"]) + number_at(model["waiting"]);
  }
  return total;
}

// A client that asks for a long stream and never reads it: once the socket buffers are full,
// the relay's write waits; timeouts.client_write_timeout_secs ends it and the lease returns.
TEST_F(daemon_test, a_client_that_stops_reading_is_cut_and_its_lease_returns) {
  auto metrics = free_port();
  auto daemon = start_daemon(
    {{"alpha", "offload+keep_running", {"--mock-tokens-per-sec", "20000"}}},
    R"("min_active_secs": 0)",
    fmt::format(R"("timeouts": {{"client_write_timeout_secs": 1}}, "metrics_port": {})", metrics));
  ASSERT_EQ(daemon.chat("alpha").status, 200);
  int fd = connect_with_small_window(daemon.port);
  ASSERT_GE(fd, 0);
  auto body = fmt::format(
    R"({{"model":"alpha",{})",
    chat_request("Hello there", true, R"(,"max_tokens":1000000,"ignore_eos":true)").substr(1));
  auto request = chat_http_post(body, false);
  ASSERT_EQ(::send(fd, request.data(), request.size(), MSG_NOSIGNAL),
            static_cast<ssize_t>(request.size()));
  EXPECT_TRUE(eventually([&] { return outstanding(daemon) == 1; }, 5s));
  // Never read: the write stalls, and one second later the relay gives up.
  EXPECT_TRUE(eventually([&] { return outstanding(daemon) == 0; }, 30s));
  ::close(fd);
  EXPECT_EQ(daemon.chat("alpha").status, 200);
  auto text = scrape_metrics(metrics);
  EXPECT_EQ(metric_sample(text, R"(llmux_relay_stalls_total{model="alpha",side="client"})"), 1)
    << text;
}

// A connection holds no read buffer or coroutine until its client sends something: one whose
// request comes late is still served, one that never sends is closed at its idle deadline.
TEST_F(daemon_test, a_connection_is_served_when_its_first_request_comes_late_and_closed_if_never) {
  auto daemon = start_daemon({{"alpha"}}, R"("min_active_secs": 0)",
                             R"("timeouts": {"client_idle_timeout_secs": 2})");
  int late = connect_loopback(daemon.port);
  int silent = connect_loopback(daemon.port);
  ASSERT_GE(late, 0);
  ASSERT_GE(silent, 0);
  auto connected = std::chrono::steady_clock::now();
  std::this_thread::sleep_for(700ms);
  // Its head in two pieces: the loop that starts on the first reads the rest itself.
  for (std::string_view piece :
       {"GET /health HTTP/1.1\r\n", "Host: x\r\nConnection: close\r\n\r\n"}) {
    ASSERT_EQ(::send(late, piece.data(), piece.size(), MSG_NOSIGNAL),
              static_cast<ssize_t>(piece.size()));
    std::this_thread::sleep_for(100ms);
  }
  auto answer = read_until_closed(late, 10s);
  EXPECT_TRUE(answer.closed);
  EXPECT_TRUE(answer.received.starts_with("HTTP/1.1 200")) << answer.received;
  auto nothing = read_until_closed(silent, 10s);
  EXPECT_TRUE(nothing.closed);
  EXPECT_EQ(nothing.received, "");
  EXPECT_GE(std::chrono::steady_clock::now() - connected, 1500ms); // not before its deadline
  ::close(late);
  ::close(silent);
}

// An engine that goes silent in the middle of a stream: after engine_idle_timeout_secs the
// client gets an error event and the end of the stream, and the stall is counted.
TEST_F(daemon_test, an_engine_silent_mid_stream_is_cut_after_its_idle_timeout) {
  auto metrics = free_port();
  auto daemon = start_daemon(
    {{"alpha", "offload+keep_running", {"--mock-first-token-ms", "5000"}}},
    R"("min_active_secs": 0)",
    fmt::format(R"("timeouts": {{"engine_idle_timeout_secs": 1}}, "metrics_port": {})", metrics));
  auto began = std::chrono::steady_clock::now();
  auto streamed = daemon.chat("alpha", true);
  EXPECT_LT(std::chrono::steady_clock::now() - began, 4s);
  EXPECT_EQ(streamed.status, 200);
  EXPECT_NE(streamed.body.find("sent nothing for 1 s"), std::string::npos) << streamed.body;
  EXPECT_NE(streamed.body.find("data: [DONE]"), std::string::npos) << streamed.body;
  auto text = scrape_metrics(metrics);
  EXPECT_EQ(metric_sample(text, R"(llmux_relay_stalls_total{model="alpha",side="engine"})"), 1)
    << text;
  EXPECT_TRUE(eventually([&] { return outstanding(daemon) == 0; }, 5s));
}

// A client that shuts down its sending side after its request (curl -N with some proxies,
// netcat without -q): by default it counts as gone; --serve-half-closed answers it.
TEST_F(daemon_test, a_half_closed_client_is_answered_only_with_serve_half_closed) {
  std::vector<test_model> slow{{"alpha", "offload+keep_running", {"--mock-first-token-ms", "500"}}};
  {
    auto daemon = start_daemon(slow);
    ASSERT_EQ(daemon.chat("alpha").status, 200);
    auto received = daemon.raw_exchange(chat_http_request("alpha", true), 10s, true);
    EXPECT_EQ(received.find("HTTP/1.1 200"), std::string::npos) << received;
    // The release reaches the scheduler after the connection closed.
    EXPECT_TRUE(eventually([&] { return outstanding(daemon) == 0; }, 5s));
  }
  auto daemon = start_daemon(slow, R"("min_active_secs": 0)", {}, {"--serve-half-closed"});
  ASSERT_EQ(daemon.chat("alpha").status, 200);
  auto received = daemon.raw_exchange(chat_http_request("alpha", true), 10s, true);
  EXPECT_EQ(received.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << received;
  EXPECT_NE(received.find("\"choices\""), std::string::npos) << received;
  EXPECT_TRUE(eventually([&] { return outstanding(daemon) == 0; }, 5s));
}

TEST_F(daemon_test, a_sigstopped_engine_is_killed_its_clients_get_errors_and_it_recovers) {
  auto daemon
    = start_daemon({{"alpha", "offload+keep_running", {"--mock-tokens-per-sec", "20"}}, {"beta"}},
                   R"("min_active_secs": 0)", fast_liveness);
  ASSERT_EQ(daemon.chat("alpha").status, 200);
  auto long_request = R"(,"max_tokens":400,"ignore_eos":true)";
  auto stream
    = std::async(std::launch::async, [&] { return daemon.chat("alpha", true, long_request); });
  auto whole
    = std::async(std::launch::async, [&] { return daemon.chat("alpha", false, long_request); });
  std::this_thread::sleep_for(500ms);
  auto pid = engine_pid(engine_port("alpha"));
  ASSERT_GT(pid, 0);
  ASSERT_EQ(::kill(pid, SIGSTOP), 0);
  auto stopped_at = std::chrono::steady_clock::now();

  // Both clients get a clear error: in-band for the stream, a 5xx JSON body otherwise. Before
  // liveness they waited forever (the generation would take 20 s even if it went on).
  auto streamed = stream.get();
  auto answered = whole.get();
  auto waited = std::chrono::steady_clock::now() - stopped_at;
  EXPECT_LT(waited, 10s);
  EXPECT_NE(streamed.body.find("\"error\""), std::string::npos) << streamed.body;
  EXPECT_NE(streamed.body.find("data: [DONE]"), std::string::npos);
  EXPECT_TRUE(answered.status == 502 || answered.status == 503) << answered.body;
  EXPECT_NE(answered.body.find("\"error\""), std::string::npos) << answered.body;

  // The hung process is gone, another model is served, nothing is left leased.
  std::this_thread::sleep_for(200ms);
  EXPECT_FALSE(process_exists(pid));
  EXPECT_EQ(daemon.chat("beta").status, 200);
  // beta's release may reach the scheduler just after its answer reached the client.
  EXPECT_TRUE(eventually([&] { return outstanding(daemon) == 0; }, 2s));
  // The stopped model recovers once its backoff ends.
  auto recovered = daemon.chat_until_served("alpha", 10s);
  EXPECT_EQ(recovered.status, 200) << recovered.body;
}

TEST_F(daemon_test, engine_control_is_unreachable_however_the_path_is_spelled) {
  auto daemon = start_daemon({{"alpha"}});
  ASSERT_EQ(daemon.chat("alpha").status, 200);
  for (auto path : {"/%73leep?level=1", "/v1/../sleep?level=1", "/v1/%2e%2e/sleep?level=1",
                    "//sleep?level=1", "/sleep;x?level=1", "/SLEEP?level=1", "/%77ake_up",
                    "/%63ollective_rpc", "/reset%5Fprefix%5Fcache"}) {
    auto answer = http::http_request("POST", daemon.url(path), R"({"model":"alpha"})");
    EXPECT_EQ(answer.status, 404) << path << ": " << answer.body;
  }
  auto sleeping = http::http_request(
    "GET", "http://127.0.0.1:" + std::to_string(engine_port("alpha")) + "/is_sleeping");
  EXPECT_NE(sleeping.body.find("false"), std::string::npos) << sleeping.body;
  // Encoded spellings of allowed paths still reach the engine, normalised.
  auto encoded = http::http_request("POST", daemon.url("/v1/chat/%63ompletions"),
                                    chat_request("hi", false, R"(,"model":"alpha")"));
  EXPECT_EQ(encoded.status, 200) << encoded.body;
}

TEST_F(daemon_test, a_hung_sleep_ends_within_its_deadline_and_escalates_to_stop) {
  auto daemon = start_daemon(
    {{"alpha", "offload+keep_running", {"--mock-faults", "hang_sleep=600000"}}, {"beta"}},
    R"("min_active_secs": 0)", R"("timeouts": {"sleep_timeout_secs": 2})");
  ASSERT_EQ(daemon.chat("alpha").status, 200);
  auto began = std::chrono::steady_clock::now();
  EXPECT_EQ(daemon.chat("beta").status, 200);
  // One attempt within the 2 s sleep deadline, then a stop: not 3 x 120 s of retries.
  EXPECT_LT(std::chrono::steady_clock::now() - began, 30s);
  EXPECT_EQ(engine_pid(engine_port("alpha")), -1); // stopped, not left holding the GPU
  EXPECT_EQ(daemon.chat("alpha").status, 200);
}

TEST_F(daemon_test, a_drain_that_passes_its_deadline_cuts_the_straggler_and_the_switch_goes_on) {
  auto metrics = free_port();
  auto daemon = start_daemon(
    {{"alpha", "offload+keep_running", {"--mock-tokens-per-sec", "20"}}, {"beta"}},
    R"("min_active_secs": 0)",
    fmt::format(R"("timeouts": {{"drain_timeout_secs": 1}}, "metrics_port": {})", metrics));
  ASSERT_EQ(daemon.chat("alpha").status, 200);
  auto stream = std::async(std::launch::async, [&] {
    return daemon.chat("alpha", true, R"(,"max_tokens":1000,"ignore_eos":true)");
  });
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(daemon.chat("beta").status, 200); // after the 1 s drain deadline, not 50 s
  auto streamed = stream.get();
  EXPECT_NE(streamed.body.find("drain deadline"), std::string::npos) << streamed.body;
  EXPECT_NE(streamed.body.find("data: [DONE]"), std::string::npos);
  EXPECT_EQ(outstanding(daemon), 0u);
  EXPECT_EQ(metric_sample(scrape_metrics(metrics), R"(llmux_leases_cut_total{model="alpha"})"), 1);
}

TEST_F(daemon_test, a_crash_looping_model_backs_off_instead_of_evicting_the_healthy_one) {
  auto metrics = free_port();
  auto daemon = start_daemon(
    {{"beta"}, {"alpha", "offload+keep_running", {"--mock-faults", "crash_at_start"}}},
    R"("min_active_secs": 0)",
    fmt::format(R"("timeouts": {{"failure_backoff_secs": 30}}, "metrics_port": {})", metrics));
  ASSERT_EQ(daemon.chat("beta").status, 200);
  auto first = daemon.chat("alpha");
  EXPECT_EQ(first.status, 503) << first.body;
  std::size_t refused = 0;
  std::size_t served = 0;
  for (int i = 0; i < 10; ++i) {
    auto again = daemon.chat("alpha");
    refused += again.status == 503 && again.body.find("tried again in") != std::string::npos;
    served += daemon.chat("beta").status == 200;
  }
  EXPECT_EQ(refused, 10u);
  EXPECT_EQ(served, 10u);
  simdjson::dom::parser parser;
  auto status = daemon.status(parser);
  EXPECT_EQ(number_at(status["models"]["alpha"]["failures"]), 1u);
  EXPECT_GT(number_at(status["models"]["alpha"]["retry_in_secs"]), 0u);
  // One switch to beta, one failed attempt at alpha, one back to beta: no more.
  EXPECT_LE(number_at(status["switches"]), 2u);
  auto text = scrape_metrics(metrics);
  EXPECT_EQ(metric_sample(text, R"(llmux_model_failures_total{model="alpha"})"), 1);
  EXPECT_EQ(metric_sample(text, R"(llmux_switch_failures_total{to="alpha"})"), 1);
  EXPECT_EQ(
    metric_sample(text, R"(llmux_requests_refused_total{model="alpha",reason="backing_off"})"), 11);
  EXPECT_GT(metric_sample(text, R"(llmux_model_backoff_seconds{model="alpha"})"), 0);
}

TEST_F(daemon_test, malformed_slow_and_http_1_0_requests_get_proper_answers) {
  auto daemon
    = start_daemon({{"alpha", "offload+keep_running", {"--mock-tokens-per-sec", "200"}}},
                   R"("min_active_secs": 0)", R"("timeouts": {"client_idle_timeout_secs": 1})");
  auto malformed = daemon.raw_exchange("GARBAGE\r\n\r\n", 5s);
  EXPECT_TRUE(malformed.starts_with("HTTP/1.1 400")) << malformed;
  auto slow = daemon.raw_exchange("POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n", 5s);
  EXPECT_TRUE(slow.starts_with("HTTP/1.1 408")) << slow;
  auto body = chat_request("hi", true, R"(,"model":"alpha","max_tokens":5)");
  auto old = daemon.raw_exchange(
    fmt::format("POST /v1/chat/completions HTTP/1.0\r\nContent-Type: application/json\r\n"
                "Content-Length: {}\r\n\r\n{}",
                body.size(), body),
    30s);
  EXPECT_TRUE(old.starts_with("HTTP/1.0 200")) << old;
  EXPECT_EQ(old.find("chunked"), std::string::npos) << old;
  EXPECT_NE(old.find("data: [DONE]"), std::string::npos) << old; // ended by the close
}

// A body framed by anything but "chunked" alone is refused and the connection closed: a body
// read as absent would have its bytes taken for the next request (a smuggled one).
TEST_F(daemon_test, a_request_framed_by_another_transfer_coding_is_refused_and_closes) {
  auto daemon = start_daemon({{"alpha"}});
  constexpr std::string_view smuggled = "GET /health HTTP/1.1\r\nHost: x\r\n\r\n";
  auto ambiguous
    = daemon.raw_exchange(fmt::format("POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n"
                                      "Transfer-Encoding: chunked, identity\r\n\r\n{}",
                                      smuggled),
                          10s);
  EXPECT_TRUE(ambiguous.starts_with("HTTP/1.1 400")) << ambiguous;
  EXPECT_NE(ambiguous.find("Connection: close"), std::string::npos) << ambiguous;
  EXPECT_EQ(ambiguous.find("HTTP/1.1", 1), std::string::npos) << ambiguous; // one answer
  auto compressed
    = daemon.raw_exchange("POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n"
                          "Transfer-Encoding: gzip, chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
                          10s);
  EXPECT_TRUE(compressed.starts_with("HTTP/1.1 501")) << compressed;
  EXPECT_NE(compressed.find(R"("code":"not_implemented")"), std::string::npos) << compressed;
}

// A head llmux cannot read for sure is refused and the connection closed; a version it does
// not speak is named as such; empty lines before a request line are passed by.
TEST_F(daemon_test, a_request_head_is_read_strictly_where_its_end_is_at_stake) {
  auto daemon = start_daemon({{"alpha"}});
  auto folded = daemon.raw_exchange("GET /health HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n b\r\n\r\n"
                                    "GET /health HTTP/1.1\r\nHost: x\r\n\r\n",
                                    10s);
  EXPECT_TRUE(folded.starts_with("HTTP/1.1 400")) << folded;
  EXPECT_NE(folded.find("Connection: close"), std::string::npos) << folded;
  EXPECT_EQ(folded.find("HTTP/1.1", 1), std::string::npos) << folded; // one answer
  auto two = daemon.raw_exchange("GET /health HTTP/2.0\r\nHost: x\r\n\r\n", 10s);
  EXPECT_TRUE(two.starts_with("HTTP/1.1 505")) << two;
  EXPECT_NE(two.find(R"("code":"http_version_not_supported")"), std::string::npos) << two;
  auto after_empty_lines = daemon.raw_exchange(
    "\r\n\r\nGET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 10s);
  EXPECT_TRUE(after_empty_lines.starts_with("HTTP/1.1 200")) << after_empty_lines;
}

TEST_F(daemon_test, an_abandoned_non_streamed_request_returns_its_lease_at_once) {
  auto daemon = start_daemon({{"alpha", "offload+keep_running", {"--mock-tokens-per-sec", "20"}}});
  ASSERT_EQ(daemon.chat("alpha").status, 200);
  // 400 tokens at 20 per second: the answer would come after 20 s. The relay watches its
  // client once the engine has taken a tick (50-100 ms): a client that leaves before that is
  // noticed then, one that leaves later at once.
  for (auto patience : {20ms, 300ms}) {
    auto gave_up = http::http_request(
      "POST", daemon.url("/v1/chat/completions"),
      chat_request("x", false, R"(,"model":"alpha","max_tokens":400,"ignore_eos":true)"), {},
      patience);
    EXPECT_FALSE(gave_up.complete);
    std::this_thread::sleep_for(500ms);
    // The lease came back long before the generation would have ended, and the engine
    // connection was closed (vLLM cancels a request whose connection closes; mock-vllm does
    // not, so only llmux's side is checked here).
    EXPECT_EQ(outstanding(daemon), 0u) << "client gone after " << patience.count() << " ms";
  }
}

TEST_F(daemon_test, request_bodies_over_the_global_budget_get_503) {
  auto daemon
    = start_daemon({{"alpha"}}, R"("min_active_secs": 0)", {}, {"--max-buffered-mb", "1"});
  std::string big(2 * 1024 * 1024, ' ');
  auto body = R"({"model":"alpha","messages":[{"role":"user","content":"hi"}]})" + big;
  auto refused = http::http_request("POST", daemon.url("/v1/chat/completions"), body);
  EXPECT_EQ(refused.status, 503) << refused.body;
  EXPECT_NE(refused.body.find("too many request bodies"), std::string::npos) << refused.body;
  EXPECT_EQ(daemon.chat("alpha").status, 200); // the budget was given back
}

// SIGTERM during warmup used to wait for the whole start (up to startup_timeout_secs per
// model); now it stops the engine being warmed and exits.
TEST_F(daemon_test, sigterm_during_warmup_stops_the_engine_and_exits) {
  engine_ports_.clear();
  auto port = free_port();
  engine_ports_.emplace_back("slow", port);
  auto daemon_config = scratch_ / "slow_warmup.json";
  std::ofstream(daemon_config) << fmt::format(
    R"({{"models":{{"slow":{{"model_path":"org/slow","port":{},"extra_args":["--mock-profile",)"
    R"("fast","--mock-start-ms","600000"]}}}},"vllm_command":"{}","warmup":true,)"
    R"("startup_timeout_secs":900,"metrics_port":0}})",
    port, LLMUX_MOCK_VLLM);
  auto env = environment();
  env.push_back("LLMUX_LOG=info");
  child_process daemon({LLMUX_DAEMON, "-c", daemon_config, "-p", "0"}, env);
  ASSERT_TRUE(daemon.wait_for_text("started engine pid", 20s)) << daemon.output();
  auto signalled = std::chrono::steady_clock::now();
  ::kill(daemon.pid(), SIGTERM);
  EXPECT_EQ(daemon.wait_exit(30s), 1) << daemon.output();
  EXPECT_LT(std::chrono::steady_clock::now() - signalled, 25s);
  EXPECT_NE(daemon.output().find("received during warmup"), std::string::npos) << daemon.output();
  EXPECT_EQ(engine_pid(port), -1);
}

} // namespace
} // namespace llmux::testing_support
