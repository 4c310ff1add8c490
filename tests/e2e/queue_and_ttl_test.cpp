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

  // Then nothing: it leaves the GPU with its own eviction.
  ASSERT_TRUE(eventually(
    [&] { return number_at(daemon.status(parser)["models"]["alpha"]["idle_evictions"]) == 1; },
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

} // namespace
} // namespace llmux::testing_support
