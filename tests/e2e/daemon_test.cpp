// The llmux daemon end to end: real llmux, real mock-vllm engines, real sockets.

#include <algorithm>
#include <csignal>
#include <fstream>
#include <future>
#include <thread>

#include <fmt/format.h>

#include "tests/e2e/daemon.hpp"
#include "tools/mock-vllm/gpu_registry.hpp"

namespace llmux::testing_support {
namespace {

bool engine_answers(std::uint16_t port) {
  return http::http_request("GET", "http://127.0.0.1:" + std::to_string(port) + "/health", "", {},
                            1s)
    .complete;
}

TEST_F(daemon_test, starts_engines_lazily_and_switches_between_models) {
  auto daemon = start_daemon({{"alpha"}, {"beta"}});
  EXPECT_FALSE(engine_answers(engine_port("alpha"))); // nothing runs before the first request
  auto first = daemon.chat("alpha");
  ASSERT_EQ(first.status, 200) << first.body;
  auto second = daemon.chat("beta");
  ASSERT_EQ(second.status, 200) << second.body;
  auto third = daemon.chat("alpha");
  ASSERT_EQ(third.status, 200) << third.body;
  simdjson::dom::parser parser;
  EXPECT_EQ(text_at(parse_json(parser, first.body)["model"]), "org/alpha");
  EXPECT_EQ(text_at(parse_json(parser, second.body)["model"]), "org/beta");
  EXPECT_EQ(answer_content(third), answer_content(first)); // the woken engine answers as before
  EXPECT_NE(answer_content(second), answer_content(first));
  auto status = daemon.status(parser);
  EXPECT_EQ(text_at(status["active"]), "alpha");
  EXPECT_EQ(number_at(status["switches"]), 3u);
  EXPECT_EQ(text_at(status["models"]["alpha"]["state"]), "active");
  EXPECT_EQ(text_at(status["models"]["beta"]["state"]), "sleeping");
  EXPECT_EQ(text_at(status["models"]["beta"]["eviction"]), "offload+keep_running");
  EXPECT_EQ(number_at(status["models"]["alpha"]["engine_starts"]), 1u); // woken, not restarted
  // The three switches, oldest first: a cold start, then sleep and wake each way.
  auto history = status["history"].get_array();
  ASSERT_FALSE(history.error());
  std::vector<std::string> directions;
  for (auto record : history.value()) {
    directions.push_back(fmt::format(
      "{}->{}", record["from"].is_null() ? "" : text_at(record["from"]), text_at(record["to"])));
    EXPECT_TRUE(record["ok"].get_bool().value());
    EXPECT_GT(number_at(record["phases_ms"]["activate"]), 0u);
    EXPECT_GE(number_at(record["total_ms"]), number_at(record["phases_ms"]["activate"]));
  }
  EXPECT_EQ(directions, (std::vector<std::string>{"->alpha", "alpha->beta", "beta->alpha"}));
  EXPECT_GT(number_at(history.value().at(1)["phases_ms"]["evict"]), 0u);
  EXPECT_EQ(status["costs"].get_array().value().size(), 2u); // alpha->beta, beta->alpha
  double serving = 0;
  EXPECT_FALSE(status["serving_secs"].get(serving));
  EXPECT_GT(serving, 0.0);
}

TEST_F(daemon_test, time_slice_switches_when_the_active_model_has_drained) {
  auto daemon
    = start_daemon({{"alpha"}, {"beta"}}, R"("policy_type": "time_slice", "min_active_secs": 0,)"
                                          R"( "min_quantum_ms": 0, "tick_interval_ms": 50)");
  ASSERT_EQ(daemon.chat("alpha").status, 200);
  auto beta = daemon.chat("beta"); // queued; the next tick finds alpha idle and switches
  EXPECT_EQ(beta.status, 200) << beta.body;
  simdjson::dom::parser parser;
  EXPECT_EQ(text_at(daemon.status(parser)["active"]), "beta");
}

TEST_F(daemon_test, hundred_concurrent_requests_over_two_models) {
  // A slow first start lets every request arrive while it runs, so FIFO needs two switches:
  // idle -> alpha, then alpha -> beta.
  auto daemon
    = start_daemon({{"alpha", "offload+keep_running", {"--mock-start-ms", "1500"}}, {"beta"}});
  std::vector<std::future<http::http_result>> answers;
  for (int i = 0; i < 100; ++i) {
    answers.push_back(std::async(
      std::launch::async, [&daemon, i] { return daemon.chat(i % 2 == 0 ? "alpha" : "beta"); }));
  }
  simdjson::dom::parser parser;
  for (int i = 0; i < 100; ++i) {
    auto answer = answers[i].get();
    ASSERT_EQ(answer.status, 200) << answer.failure << answer.body;
    EXPECT_EQ(text_at(parse_json(parser, answer.body)["model"]),
              i % 2 == 0 ? "org/alpha" : "org/beta");
  }
  auto status = daemon.status(parser);
  EXPECT_EQ(number_at(status["switches"]), 2u);
  EXPECT_EQ(number_at(status["models"]["alpha"]["in_flight"]), 0u);
  EXPECT_EQ(number_at(status["models"]["beta"]["in_flight"]), 0u);
  EXPECT_EQ(number_at(status["models"]["alpha"]["waiting"]), 0u);
}

// The value of `name` in a Prometheus text page; -1 when it is missing.
double metric_value(const std::string& page, std::string_view name) {
  auto at = page.find(std::string("\n") + std::string(name) + "{");
  if (at == std::string::npos) {
    return -1;
  }
  auto space = page.find(' ', page.find('}', at));
  return std::stod(page.substr(space + 1, page.find('\n', space) - space - 1));
}

TEST_F(daemon_test, max_concurrent_requests_holds_the_rest_in_llmux) {
  auto daemon = start_daemon(
    {{"alpha", "offload+keep_running", {"--mock-first-token-ms", "400"}, std::uint64_t{2}}});
  ASSERT_EQ(daemon.chat("alpha").status, 200); // started
  std::vector<std::future<http::http_result>> answers;
  for (int i = 0; i < 6; ++i) {
    answers.push_back(std::async(std::launch::async, [&daemon] { return daemon.chat("alpha"); }));
  }
  auto metrics_url = "http://127.0.0.1:" + std::to_string(engine_port("alpha")) + "/metrics";
  simdjson::dom::parser parser;
  std::uint64_t most_in_flight = 0;
  std::uint64_t most_waiting = 0;
  double most_running = 0;
  auto all_answered = [&] {
    return std::all_of(answers.begin(), answers.end(), [](auto& answer) {
      return answer.wait_for(0s) == std::future_status::ready;
    });
  };
  while (!all_answered()) {
    auto alpha = daemon.status(parser)["models"]["alpha"];
    most_in_flight = std::max(most_in_flight, number_at(alpha["in_flight"]));
    most_waiting = std::max(most_waiting, number_at(alpha["waiting"]));
    auto page = http::http_request("GET", metrics_url, "", {}, 2s);
    most_running = std::max(most_running, metric_value(page.body, "vllm:num_requests_running"));
    std::this_thread::sleep_for(20ms);
  }
  for (auto& answer : answers) {
    auto result = answer.get();
    EXPECT_EQ(result.status, 200) << result.failure << result.body;
  }
  EXPECT_EQ(most_in_flight, 2u);
  EXPECT_GE(most_waiting, 1u);  // the rest waited in llmux ...
  EXPECT_LE(most_running, 2.0); // ... and never reached the engine
  EXPECT_GE(most_running, 1.0);
}

TEST_F(daemon_test, a_long_stream_survives_a_switch_requested_during_it) {
  auto daemon
    = start_daemon({{"alpha", "offload+keep_running", {"--mock-tokens-per-sec", "500"}}, {"beta"}});
  ASSERT_EQ(daemon.chat("alpha").status, 200);
  auto stream = std::async(std::launch::async, [&daemon] {
    return daemon.chat("alpha", true, R"(,"max_tokens":500,"ignore_eos":true)");
  });
  std::this_thread::sleep_for(200ms);
  auto other = daemon.chat("beta");
  auto streamed = stream.get();
  ASSERT_TRUE(streamed.complete) << streamed.failure;
  EXPECT_EQ(other.status, 200);
  std::size_t chunks = 0;
  for (auto at = streamed.body.find("\"content\":\""); at != std::string::npos;
       at = streamed.body.find("\"content\":\"", at + 1)) {
    ++chunks;
  }
  EXPECT_EQ(chunks, 501u); // the role chunk (empty content) and 500 tokens
  EXPECT_NE(streamed.body.find("data: [DONE]"), std::string::npos);
  EXPECT_EQ(streamed.body.find("\"error\""), std::string::npos);
}

TEST_F(daemon_test, a_client_that_leaves_releases_its_place_and_its_lease) {
  auto daemon
    = start_daemon({{"alpha", "offload+keep_running", {"--mock-tokens-per-sec", "20"}}, {"beta"}});
  ASSERT_EQ(daemon.chat("alpha").status, 200);
  // Leaves mid-stream: alpha's lease must come back.
  auto cut
    = http::http_request("POST", daemon.url("/v1/chat/completions"),
                         chat_request("Hello there", true, R"(,"model":"alpha")"), {}, 300ms);
  EXPECT_FALSE(cut.complete);
  // Leaves while waiting: beta waits behind alpha's drain, so give up before it comes.
  auto holder = std::async(std::launch::async, [&daemon] { return daemon.chat("alpha", true); });
  std::this_thread::sleep_for(100ms);
  auto gave_up = http::http_request("POST", daemon.url("/v1/chat/completions"),
                                    chat_request("x", false, R"(,"model":"beta")"), {}, 200ms);
  EXPECT_FALSE(gave_up.complete);
  holder.get();
  std::this_thread::sleep_for(300ms);
  simdjson::dom::parser parser;
  auto status = daemon.status(parser);
  EXPECT_EQ(number_at(status["models"]["alpha"]["in_flight"]), 0u);
  EXPECT_EQ(number_at(status["models"]["beta"]["waiting"]), 0u);
  EXPECT_EQ(number_at(status["models"]["beta"]["in_flight"]), 0u);
  EXPECT_EQ(daemon.chat("beta").status, 200);
}

TEST_F(daemon_test, a_failed_wake_fails_its_waiters_and_the_model_backs_off_then_starts_afresh) {
  auto daemon
    = start_daemon({{"alpha"}, {"beta", "offload+keep_running", {"--mock-faults", "fail_wake=3"}}},
                   R"("min_active_secs": 0)", R"("timeouts": {"failure_backoff_secs": 1})");
  ASSERT_EQ(daemon.chat("beta").status, 200);
  ASSERT_EQ(daemon.chat("alpha").status, 200); // beta sleeps
  auto failed = daemon.chat("beta");           // three wake attempts fail: 503, engine stopped
  EXPECT_EQ(failed.status, 503) << failed.body;
  simdjson::dom::parser parser;
  EXPECT_NE(text_at(parse_json(parser, failed.body)["error"]["message"]).find("failed to wake"),
            std::string_view::npos)
    << failed.body;
  // While beta backs off its requests are refused at once, and alpha keeps the GPU.
  auto refused = daemon.chat("beta");
  EXPECT_EQ(refused.status, 503) << refused.body;
  EXPECT_NE(refused.body.find("tried again in 1 s"), std::string::npos) << refused.body;
  EXPECT_EQ(daemon.chat("alpha").status, 200);
  auto again = daemon.chat_until_served("beta", 5s); // a cold start, no fault any more
  EXPECT_EQ(again.status, 200) << again.body;
}

TEST_F(daemon_test, a_failed_sleep_escalates_to_stopping_the_engine) {
  auto daemon = start_daemon(
    {{"alpha", "offload+keep_running", {"--mock-faults", "fail_sleep=3"}}, {"beta"}});
  ASSERT_EQ(daemon.chat("alpha").status, 200);
  ASSERT_EQ(daemon.chat("beta").status, 200);
  EXPECT_FALSE(engine_answers(engine_port("alpha"))); // stopped, not left holding the GPU
  EXPECT_EQ(daemon.chat("alpha").status, 200);
}

TEST_F(daemon_test, an_engine_crash_mid_stream_reaches_the_client_and_the_next_request_restarts) {
  auto daemon
    = start_daemon({{"alpha", "offload+keep_running", {"--mock-faults", "crash_mid_stream=3"}}});
  auto stream = daemon.chat("alpha", true);
  // The error event says the engine failed (as the relay or the scheduler saw it first).
  EXPECT_NE(stream.body.find("\"error\""), std::string::npos) << stream.body;
  EXPECT_NE(stream.body.find("the engine of "), std::string::npos) << stream.body;
  EXPECT_NE(stream.body.find("data: [DONE]"), std::string::npos) << stream.body;
  // The model backs off (2 s by default), then starts again.
  auto next = daemon.chat_until_served("alpha", 10s, true);
  EXPECT_EQ(next.status, 200);
}

TEST_F(daemon_test, an_engine_that_never_becomes_healthy_hits_the_startup_timeout) {
  auto daemon = start_daemon({{"alpha", "offload+keep_running", {"--mock-start-ms", "60000"}}},
                             R"("min_active_secs": 0)", R"("startup_timeout_secs": 1)");
  auto answer = daemon.chat("alpha");
  EXPECT_EQ(answer.status, 503);
  EXPECT_NE(answer.body.find("did not become healthy within 1 s"), std::string::npos)
    << answer.body;
}

TEST_F(daemon_test, a_request_that_waits_too_long_gets_504) {
  auto daemon = start_daemon({{"alpha", "offload+keep_running", {"--mock-start-ms", "60000"}}},
                             R"("min_active_secs": 0, "request_timeout_secs": 1)");
  auto answer = daemon.chat("alpha");
  EXPECT_EQ(answer.status, 504) << answer.body;
  EXPECT_NE(answer.body.find("timed out after"), std::string::npos) << answer.body;
}

TEST_F(daemon_test, a_large_body_is_not_held_back_by_expect_100_continue) {
  auto daemon = start_daemon({{"alpha"}});
  ASSERT_EQ(daemon.chat("alpha").status, 200);
  // libcurl sends "Expect: 100-continue" for bodies over 1 MiB and waits a second for the
  // answer before sending the body anyway; llmux answers at once.
  std::string padding(2 * 1024 * 1024, 'x');
  auto body = chat_request(padding, false, R"(,"model":"alpha","max_tokens":2)");
  auto answer = http::http_request("POST", daemon.url("/v1/chat/completions"), body, {}, 900ms);
  EXPECT_EQ(answer.status, 200) << answer.failure;
}

TEST_F(daemon_test, bad_requests_get_openai_errors_and_the_daemon_keeps_serving) {
  auto daemon = start_daemon({{"alpha"}});
  simdjson::dom::parser parser;
  auto expect_error = [&](const http::http_result& result, long status, std::string_view type) {
    SCOPED_TRACE(std::to_string(status) + " " + result.failure);
    EXPECT_EQ(result.status, status) << result.body;
    EXPECT_EQ(text_at(parse_json(parser, result.body)["error"]["type"]), type) << result.body;
  };
  expect_error(daemon.chat("nope"), 404, "invalid_request_error");
  expect_error(http::http_request("POST", daemon.url("/v1/chat/completions"), R"({"messages":[]})"),
               400, "invalid_request_error");
  expect_error(http::http_request("POST", daemon.url("/v1/chat/completions"), "{not json"), 400,
               "invalid_request_error");
  expect_error(http::http_request("POST", daemon.url("/sleep?level=1"), ""), 404,
               "invalid_request_error");
  expect_error(http::http_request("POST", daemon.url("/collective_rpc"), R"({"model":"alpha"})"),
               404, "invalid_request_error");
  std::string long_header = "X-Padding: " + std::string(70 * 1024, 'p');
  expect_error(http::http_request("POST", daemon.url("/v1/chat/completions"), chat_request("x"),
                                  {long_header}),
               431, "invalid_request_error");
  std::string huge(33 * 1024 * 1024, 'x');
  expect_error(http::http_request("POST", daemon.url("/v1/completions"), huge), 413,
               "invalid_request_error");
  auto models = http::http_request("GET", daemon.url("/v1/models"));
  ASSERT_EQ(models.status, 200) << models.failure;
  EXPECT_EQ(text_at(parse_json(parser, models.body)["data"].at(0)["id"]), "alpha");
  EXPECT_EQ(daemon.chat("alpha").status, 200);
  // The model-override header names the model when the body does not.
  auto overridden = http::http_request("POST", daemon.url("/v1/chat/completions"),
                                       chat_request("Hi"), {"model-override: alpha"});
  EXPECT_EQ(overridden.status, 200) << overridden.body;
}

TEST_F(daemon_test, warmup_leaves_every_engine_started_and_evicted_before_serving) {
  auto daemon = start_daemon({{"alpha"}, {"beta"}}, R"("min_active_secs": 0)", R"("warmup": true)");
  auto apps
    = run_tool("nvidia-smi", {"--query-compute-apps=used_memory", "--format=csv,noheader,nounits"});
  EXPECT_EQ(apps.output, "512\n512\n") << apps.output; // both asleep: CUDA context only
  simdjson::dom::parser parser;
  auto status = daemon.status(parser);
  EXPECT_TRUE(status["active"].is_null());
  EXPECT_EQ(number_at(status["switches"]), 0u);
  auto answer = daemon.chat("beta"); // a wake, not a cold start
  EXPECT_EQ(answer.status, 200) << answer.body;
  EXPECT_NE(daemon.process->output().find("warmup done"), std::string::npos);
}

TEST_F(daemon_test, a_failed_warmup_stops_the_daemon_before_it_listens) {
  engine_ports_.clear();
  auto daemon_config = scratch_ / "broken.json";
  std::ofstream(daemon_config) << R"({"models":{"m":{"model_path":"m","port":)" << free_port()
                               << R"(}},"vllm_command":"/nonexistent/vllm","warmup":true,)"
                               << R"("metrics_port":0})";
  child_process daemon({LLMUX_DAEMON, "-c", daemon_config, "-p", "0"}, environment());
  EXPECT_EQ(daemon.wait_exit(30s), 1);
  EXPECT_NE(daemon.output().find("warmup failed"), std::string::npos) << daemon.output();
  EXPECT_EQ(daemon.output().find("serving"), std::string::npos);
}

TEST_F(daemon_test, engines_die_with_a_killed_daemon) {
  auto daemon = start_daemon({{"alpha"}, {"beta"}});
  ASSERT_EQ(daemon.chat("alpha").status, 200);
  ASSERT_EQ(daemon.chat("beta").status, 200);
  auto pids = engine_pids();
  ASSERT_EQ(pids.size(), 2u);
  ::kill(daemon.process->pid(), SIGKILL); // no chance to clean up: the parent-death signal acts
  EXPECT_EQ(daemon.process->wait_exit(10s), 128 + SIGKILL);
  for (int pid : pids) {
    bool gone = false;
    for (int i = 0; i < 200 && !gone; ++i) {
      gone = !tools::mock_vllm::is_running(pid);
      std::this_thread::sleep_for(10ms);
    }
    EXPECT_TRUE(gone) << "engine " << pid << " outlived a killed llmux";
  }
}

TEST_F(daemon_test, sigterm_lets_requests_finish_and_leaves_no_engine_behind) {
  auto daemon = start_daemon({{"alpha", "offload+keep_running", {"--mock-tokens-per-sec", "40"}},
                              {"beta", "offload+keep_running", {}}});
  ASSERT_EQ(daemon.chat("beta").status, 200);
  ASSERT_EQ(daemon.chat("alpha").status, 200);
  auto pids = engine_pids();
  ASSERT_EQ(pids.size(), 2u);
  auto stream = std::async(std::launch::async, [&daemon] { return daemon.chat("alpha", true); });
  std::this_thread::sleep_for(150ms);
  ::kill(daemon.process->pid(), SIGTERM);
  auto finished = stream.get();
  EXPECT_TRUE(finished.complete) << finished.failure;
  EXPECT_NE(finished.body.find("data: [DONE]"), std::string::npos);
  EXPECT_EQ(daemon.process->wait_exit(30s), 0) << daemon.process->output();
  for (int pid : pids) {
    EXPECT_FALSE(tools::mock_vllm::is_running(pid)) << "engine " << pid << " outlived llmux";
  }
}

} // namespace
} // namespace llmux::testing_support
