// Backpressure and idle eviction: `max_queue` answers 429 with Retry-After once a model's queue
// is full (and every accepted request is still answered); `idle_ttl_secs` takes a model off the
// GPU after it has had no request for that long.

#include <future>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "tests/e2e/daemon.hpp"

namespace llmux::testing_support {
namespace {

class queue_and_ttl_test : public daemon_test {};

// A streamed chat request for `model`, as HTTP/1.1 bytes that ask to close the connection.
std::string streamed_request(const std::string& model) {
  auto body = chat_request("Hello there", true, fmt::format(R"(,"model":"{}")", model));
  return chat_http_post(body, true);
}

// The body of a chunked response, its chunks joined.
std::string dechunked(const std::string& response) {
  std::string body;
  auto at = response.find("\r\n\r\n");
  if (at == std::string::npos) {
    return body;
  }
  at += 4;
  while (at < response.size()) {
    auto line_end = response.find("\r\n", at);
    if (line_end == std::string::npos) {
      break;
    }
    auto size = std::stoul(response.substr(at, line_end - at), nullptr, 16);
    if (size == 0) {
      break;
    }
    body += response.substr(line_end + 2, size);
    at = line_end + 2 + size + 2;
  }
  return body;
}

// The text of an SSE chat stream: each event's `choices[0].delta.content`, joined.
std::string streamed_text(const std::string& events) {
  std::string text;
  simdjson::dom::parser parser;
  for (std::size_t at = 0; (at = events.find("data: {", at)) != std::string::npos;) {
    auto end = events.find("\n\n", at);
    simdjson::dom::element event;
    std::string_view piece;
    if (!parser.parse(events.substr(at + 6, end - at - 6)).get(event)
        && !event.at_pointer("/choices/0/delta/content").get_string().get(piece)) {
      text += piece;
    }
    at = end;
  }
  return text;
}

TEST_F(queue_and_ttl_test, a_full_queue_answers_429_with_retry_after_and_loses_nothing) {
  auto metrics = free_port();
  // beta's cold start takes a while, so its requests wait in its queue.
  auto daemon = start_daemon({{"alpha"}, {"beta", "retain+stop", {"--mock-start-ms", "1500"}}},
                             R"("min_active_secs": 0, "max_queue": 2)",
                             fmt::format(R"("metrics_port": {})", metrics));
  ASSERT_EQ(daemon.chat("alpha").status, 200);
  std::vector<std::future<http::http_result>> accepted;
  for (int i = 0; i < 2; ++i) {
    accepted.push_back(std::async(std::launch::async, [&daemon] { return daemon.chat("beta"); }));
  }
  simdjson::dom::parser parser;
  ASSERT_TRUE(eventually(
    [&] { return number_at(daemon.status(parser)["models"]["beta"]["waiting"]) == 2; }, 5s));

  auto refused = daemon.raw_exchange(chat_http_request("beta", true), 5s);
  EXPECT_TRUE(refused.starts_with("HTTP/1.1 429 ")) << refused;
  EXPECT_NE(refused.find("\r\nRetry-After: "), std::string::npos) << refused;
  auto body = refused.substr(refused.find("\r\n\r\n") + 4);
  EXPECT_NE(body.find(R"("code":"queue_full")"), std::string::npos) << body;
  EXPECT_NE(body.find(R"("type":"rate_limit_error")"), std::string::npos) << body;
  EXPECT_NE(body.find("2 requests already wait for model beta"), std::string::npos) << body;

  for (auto& request : accepted) {
    EXPECT_EQ(request.get().status, 200); // what was accepted is answered
  }
  EXPECT_EQ(metric_sample(scrape_metrics(metrics),
                          R"(llmux_requests_refused_total{model="beta",reason="queue_full"})"),
            1);
  // alpha's own limit is the policy's too, and alpha is on the GPU again after a switch back.
  EXPECT_EQ(daemon.chat("alpha").status, 200);
}

TEST_F(queue_and_ttl_test, an_idle_model_leaves_the_gpu_after_its_ttl_and_a_busy_one_stays) {
  auto metrics = free_port();
  auto daemon = start_daemon({{"alpha", "offload+keep_running"}, {"beta"}},
                             R"("min_active_secs": 0, "idle_ttl_secs": 1)",
                             fmt::format(R"("metrics_port": {})", metrics));
  ASSERT_EQ(daemon.chat("alpha").status, 200);
  // Requests every 300 ms keep it on the GPU well past its TTL (they take the fast path, which
  // the scheduler does not see one by one).
  for (int i = 0; i < 8; ++i) {
    ASSERT_EQ(daemon.chat("alpha").status, 200);
    std::this_thread::sleep_for(300ms);
  }
  simdjson::dom::parser parser;
  EXPECT_EQ(text_at(daemon.status(parser)["active"]), "alpha");
  EXPECT_EQ(number_at(daemon.status(parser)["models"]["alpha"]["idle_evictions"]), 0u);

  // Then nothing: it leaves the GPU with its own eviction (counted when it is decided, so wait
  // for the eviction to end too).
  ASSERT_TRUE(eventually(
    [&] {
      auto alpha = daemon.status(parser)["models"]["alpha"];
      return number_at(alpha["idle_evictions"]) == 1 && text_at(alpha["state"]) == "sleeping";
    },
    5s));
  auto status = daemon.status(parser);
  EXPECT_TRUE(status["active"].is_null());
  EXPECT_EQ(text_at(status["models"]["alpha"]["state"]), "sleeping");
  EXPECT_EQ(text_at(status["models"]["alpha"]["evicted_with"]), "offload+keep_running");
  EXPECT_EQ(number_at(status["models"]["alpha"]["idle_ttl_secs"]), 1u);
  EXPECT_EQ(metric_sample(scrape_metrics(metrics), R"(llmux_idle_evictions_total{model="alpha"})"),
            1);
  EXPECT_EQ(daemon.chat("alpha").status, 200); // woken on the next request
}

// A stream waiting for its model is begun with comment lines, so that nothing in between takes
// the quiet connection for dead; the answer then continues the same stream.
TEST_F(queue_and_ttl_test, a_waiting_stream_gets_keep_alive_comments_then_its_answer) {
  auto daemon
    = start_daemon({{"alpha"}, {"beta", "retain+stop", {"--mock-start-ms", "2500"}}},
                   R"("min_active_secs": 0)", R"("timeouts": {"stream_keepalive_secs": 1})");
  ASSERT_EQ(daemon.chat("alpha").status, 200);
  auto response = daemon.raw_exchange(streamed_request("beta"), 30s);
  ASSERT_TRUE(response.starts_with("HTTP/1.1 200 OK\r\n")) << response;
  EXPECT_NE(response.find("Content-Type: text/event-stream"), std::string::npos) << response;
  auto events = dechunked(response);
  auto first_comment = events.find(": waiting for beta\n\n");
  ASSERT_NE(first_comment, std::string::npos) << events;
  EXPECT_NE(events.find(": waiting for beta\n\n", first_comment + 1), std::string::npos)
    << events; // one a second, for a start of 2.5 s
  EXPECT_LT(first_comment, events.find("data: {"));
  EXPECT_TRUE(events.ends_with("data: [DONE]\n\n")) << events;
  EXPECT_TRUE(response.ends_with("0\r\n\r\n"));
  // The same answer as a stream that did not wait.
  auto direct = daemon.raw_exchange(streamed_request("beta"), 30s);
  EXPECT_EQ(dechunked(direct).find(": waiting"), std::string::npos);
  EXPECT_EQ(streamed_text(events), streamed_text(dechunked(direct)));
  EXPECT_FALSE(streamed_text(events).empty());
}

TEST_F(queue_and_ttl_test, a_begun_stream_that_times_out_ends_with_an_error_event) {
  auto daemon = start_daemon({{"alpha"}, {"beta", "retain+stop", {"--mock-start-ms", "6000"}}},
                             R"("min_active_secs": 0, "request_timeout_secs": 2)",
                             R"("timeouts": {"stream_keepalive_secs": 1})");
  ASSERT_EQ(daemon.chat("alpha").status, 200);
  auto response = daemon.raw_exchange(streamed_request("beta"), 30s);
  ASSERT_TRUE(response.starts_with("HTTP/1.1 200 OK\r\n")) << response;
  auto events = dechunked(response);
  EXPECT_NE(events.find(": waiting for beta"), std::string::npos) << events;
  EXPECT_NE(events.find(R"("code":"model_timeout")"), std::string::npos) << events;
  EXPECT_TRUE(events.ends_with("data: [DONE]\n\n")) << events;
}

// Anthropic's clients act on named events only: a stream of /v1/messages that fails ends with
// `event: error` in Anthropic's shape, not an OpenAI error they would drop.
TEST_F(queue_and_ttl_test, a_begun_messages_stream_fails_with_an_anthropic_error_event) {
  auto daemon = start_daemon({{"alpha"}, {"beta", "retain+stop", {"--mock-start-ms", "6000"}}},
                             R"("min_active_secs": 0, "request_timeout_secs": 2)",
                             R"("timeouts": {"stream_keepalive_secs": 1})");
  ASSERT_EQ(daemon.chat("alpha").status, 200);
  std::string body = R"({"model":"beta","max_tokens":5,"stream":true,)"
                     R"("messages":[{"role":"user","content":"Hi"}]})";
  auto response = daemon.raw_exchange(
    fmt::format("POST /v1/messages HTTP/1.1\r\nHost: llmux\r\nContent-Type: application/json\r\n"
                "Content-Length: {}\r\nConnection: close\r\n\r\n{}",
                body.size(), body),
    30s);
  ASSERT_TRUE(response.starts_with("HTTP/1.1 200 OK\r\n")) << response;
  auto events = dechunked(response);
  EXPECT_NE(events.find(": waiting for beta"), std::string::npos) << events;
  EXPECT_NE(events.find("event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":"
                        "\"timeout_error\",\"message\":"),
            std::string::npos)
    << events;
  EXPECT_TRUE(events.ends_with("data: [DONE]\n\n")) << events;
}

} // namespace
} // namespace llmux::testing_support
