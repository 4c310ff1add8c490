// Operations: the metrics port, scraped as Prometheus would, checked by Debian's promtool.
// Real llmux, real mock-vllm engines.

#include <fstream>
#include <sstream>
#include <vector>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fmt/format.h>

#include "tests/e2e/daemon.hpp"

namespace llmux::testing_support {
namespace {

class operations_test : public daemon_test {
protected:
  /// promtool's findings on `text` (empty: valid and lint-free); its exit status must be 0.
  std::string promtool_findings(const std::string& text) {
    auto file = scratch_ / "scraped.txt";
    std::ofstream(file) << text;
    child_process promtool({"sh", "-c", "promtool check metrics < " + file}, {});
    auto status = promtool.wait_exit(30s);
    EXPECT_EQ(status, 0) << promtool.output();
    return promtool.output();
  }
};

TEST_F(operations_test, metrics_count_requests_and_switches_as_the_traffic_implies) {
  auto metrics_port = free_port();
  auto daemon = start_daemon({{"alpha"}, {"beta"}}, R"("min_active_secs": 0)",
                             fmt::format(R"("metrics_port": {})", metrics_port));
  auto metrics_url = fmt::format("http://127.0.0.1:{}/metrics", metrics_port);
  // Before any traffic: every configured model's series exist at zero.
  auto before = http::http_request("GET", metrics_url);
  ASSERT_EQ(before.status, 200) << before.failure;
  EXPECT_EQ(metric_sample(before.body, R"(llmux_requests_total{model="beta",waited="false"})"), 0);
  EXPECT_EQ(metric_sample(before.body, "llmux_scheduler_up"), 1);
  // Three switches: a cold start of alpha, alpha -> beta, beta -> alpha.
  for (const auto* model : {"alpha", "alpha", "beta", "beta", "alpha"}) {
    ASSERT_EQ(daemon.chat(model).status, 200) << model;
  }
  ASSERT_EQ(daemon.chat("alpha", true).status, 200);
  EXPECT_EQ(daemon.chat("gamma").status, 404); // not configured: no lease asked
  auto scraped = http::http_request("GET", metrics_url);
  ASSERT_EQ(scraped.status, 200) << scraped.failure;
  EXPECT_EQ(scraped.content_type, "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_EQ(promtool_findings(scraped.body), "");
  const auto& text = scraped.body;
  auto requests = [&](const char* model) {
    return metric_sample(text,
                         fmt::format(R"(llmux_requests_total{{model="{}",waited="false"}})", model))
           + metric_sample(
             text, fmt::format(R"(llmux_requests_total{{model="{}",waited="true"}})", model));
  };
  EXPECT_EQ(requests("alpha"), 4);
  EXPECT_EQ(requests("beta"), 2);
  EXPECT_EQ(metric_sample(text, R"(llmux_request_queue_wait_seconds_count{model="alpha"})"), 4);
  EXPECT_EQ(metric_sample(text, R"(llmux_request_queue_wait_seconds_count{model="beta"})"), 2);
  // Each switch made its first request wait. (Waited means over 1 ms from arrival to lease:
  // on a loaded machine a request to the active model may cross that too, so at least.)
  EXPECT_GE(metric_sample(text, R"(llmux_requests_total{model="alpha",waited="true"})"), 2);
  EXPECT_GE(metric_sample(text, R"(llmux_requests_total{model="beta",waited="true"})"), 1);
  EXPECT_EQ(metric_sample(text, R"(llmux_switches_total{from="",to="alpha"})"), 1);
  EXPECT_EQ(metric_sample(text, R"(llmux_switches_total{from="alpha",to="beta"})"), 1);
  EXPECT_EQ(metric_sample(text, R"(llmux_switches_total{from="beta",to="alpha"})"), 1);
  EXPECT_EQ(metric_sample(text, R"(llmux_switch_total_seconds_count{from="alpha",to="beta"})"), 1);
  EXPECT_EQ(metric_sample(
              text, R"(llmux_switch_phase_seconds_count{from="alpha",phase="sleep",to="beta"})"),
            1);
  EXPECT_GT(
    metric_sample(text, R"(llmux_switch_phase_seconds_sum{from="alpha",phase="wake",to="beta"})"),
    0);
  EXPECT_EQ(metric_sample(text, R"(llmux_http_responses_total{class="2xx"})"), 6);
  EXPECT_EQ(metric_sample(text, R"(llmux_http_responses_total{class="4xx"})"), 1);
  // Read from the scheduler's snapshot at the scrape.
  EXPECT_EQ(metric_sample(text, R"(llmux_active_model_info{model="alpha"})"), 1);
  EXPECT_EQ(metric_sample(text, R"(llmux_active_model_info{model="beta"})"), 0);
  EXPECT_EQ(metric_sample(text, R"(llmux_engine_state{model="beta",state="sleeping"})"), 1);
  EXPECT_EQ(metric_sample(text, R"(llmux_engine_state{model="alpha",state="active"})"), 1);
  EXPECT_EQ(metric_sample(text, R"(llmux_in_flight{model="alpha"})"), 0);
  EXPECT_EQ(metric_sample(text, R"(llmux_engine_starts_total{model="beta"})"), 1);
  EXPECT_GT(metric_sample(text, "llmux_gpu_serving_seconds_total"), 0);
  EXPECT_GT(metric_sample(text, "llmux_gpu_switching_seconds_total"), 0);
  EXPECT_GT(metric_sample(text, R"(llmux_switch_cost_estimate_seconds{from="beta",to="alpha"})"),
            0);
  // Only /metrics lives there.
  EXPECT_EQ(http::http_request("GET", fmt::format("http://127.0.0.1:{}/", metrics_port)).status,
            404);
}

// The PromQL expressions of examples/grafana/llmux-dashboard.json and of README's examples.
std::vector<std::string> documented_queries() {
  std::vector<std::string> queries;
  simdjson::dom::parser parser;
  auto dashboard = parser.load(LLMUX_SOURCE_DIR "/examples/grafana/llmux-dashboard.json");
  EXPECT_FALSE(dashboard.error());
  // Arrays held in locals: a range-for over `.value()` of a temporary result dangles.
  simdjson::dom::array panels;
  EXPECT_FALSE(dashboard["panels"].get(panels));
  for (auto panel : panels) {
    simdjson::dom::array targets;
    EXPECT_FALSE(panel["targets"].get(targets));
    for (auto target : targets) {
      queries.emplace_back(std::string_view(target["expr"].get_string().value()));
    }
  }
  std::ifstream readme(LLMUX_SOURCE_DIR "/README.md");
  std::string line;
  bool in_block = false;
  while (std::getline(readme, line)) {
    if (line == "```promql") {
      in_block = true;
    } else if (in_block && line == "```") {
      in_block = false;
    } else if (in_block && !line.empty() && !line.starts_with("#")) {
      queries.push_back(line);
    }
  }
  return queries;
}

TEST_F(operations_test, documented_queries_are_valid_promql_over_exported_metrics) {
  auto queries = documented_queries();
  ASSERT_GT(queries.size(), 10u);
  // promtool parses each as a recording rule's expression.
  std::string rules = "groups:\n- name: documented\n  rules:\n";
  for (std::size_t i = 0; i < queries.size(); ++i) {
    auto query = queries[i];
    for (auto at = query.find("$__rate_interval"); at != std::string::npos;
         at = query.find("$__rate_interval")) {
      query.replace(at, std::string_view("$__rate_interval").size(), "5m");
    }
    rules += fmt::format("  - record: documented:query_{}\n    expr: |\n      {}\n", i, query);
  }
  auto file = scratch_ / "rules.yml";
  std::ofstream(file) << rules;
  child_process promtool({"promtool", "check", "rules", file}, {});
  EXPECT_EQ(promtool.wait_exit(30s), 0) << promtool.output() << rules;
  // Every metric they name is one llmux exports.
  auto metrics_port = free_port();
  auto daemon = start_daemon({{"alpha"}, {"beta"}}, R"("min_active_secs": 0)",
                             fmt::format(R"("metrics_port": {})", metrics_port));
  ASSERT_EQ(daemon.chat("alpha").status, 200);
  ASSERT_EQ(daemon.chat("beta").status, 200); // a measured switch cost
  auto text
    = http::http_request("GET", fmt::format("http://127.0.0.1:{}/metrics", metrics_port)).body;
  for (const auto& query : queries) {
    for (auto at = query.find("llmux_"); at != std::string::npos;
         at = query.find("llmux_", at + 1)) {
      auto end = query.find_first_not_of("abcdefghijklmnopqrstuvwxyz_", at);
      auto name = query.substr(at, end - at);
      EXPECT_NE(text.find("\n" + name), std::string::npos) << name << " in " << query;
      at = end == std::string::npos ? query.size() : end;
    }
  }
}

// A chat completion for `model` carrying `credentials` (a header line, or nothing).
http::http_result keyed_chat(const running_daemon& daemon, const std::string& model,
                             const std::string& credentials) {
  std::vector<std::string> headers;
  if (!credentials.empty()) {
    headers.push_back(credentials);
  }
  return http::http_request(
    "POST", daemon.url("/v1/chat/completions"),
    chat_request("Hello there", false, fmt::format(R"(,"model":"{}")", model)), headers);
}

TEST_F(operations_test, proxy_keys_open_their_models_and_never_reach_the_engine) {
  // alpha's engine itself wants the global key: only if llmux forwarded it would alpha answer.
  daemon_env_ = {"LLMUX_API_KEYS=env-key, other-env-key"};
  auto daemon
    = start_daemon({{"alpha", "offload+keep_running", {"--api-key", "client-key"}}, {"beta"}},
                   R"("min_active_secs": 0)", R"("api_keys": ["client-key"])");
  auto without = keyed_chat(daemon, "beta", "");
  EXPECT_EQ(without.status, 401);
  EXPECT_NE(without.body.find(R"("code":"invalid_api_key")"), std::string::npos) << without.body;
  EXPECT_EQ(keyed_chat(daemon, "beta", "Authorization: Bearer wrong").status, 401);
  EXPECT_EQ(keyed_chat(daemon, "beta", "Authorization: Bearer client-key").status, 200);
  EXPECT_EQ(keyed_chat(daemon, "beta", "X-Api-Key: client-key").status, 200);
  EXPECT_EQ(keyed_chat(daemon, "beta", "Authorization: Bearer other-env-key").status, 200);
  // An unknown model with a wrong key learns nothing about which models exist.
  EXPECT_EQ(keyed_chat(daemon, "gamma", "Authorization: Bearer wrong").status, 401);
  EXPECT_EQ(keyed_chat(daemon, "gamma", "Authorization: Bearer env-key").status, 404);
  // llmux took the key and did not pass it on: alpha's engine, which wants it, refuses.
  auto stripped = keyed_chat(daemon, "alpha", "Authorization: Bearer client-key");
  EXPECT_EQ(stripped.status, 401);
  EXPECT_EQ(stripped.body, R"({"error":"Unauthorized"})"); // the engine's answer, not llmux's
  // The model list and the status need a key too.
  EXPECT_EQ(http::http_request("GET", daemon.url("/v1/models")).status, 401);
  EXPECT_EQ(http::http_request("GET", daemon.url("/llmux/status")).status, 401);
  auto listed
    = http::http_request("GET", daemon.url("/v1/models"), {}, {"Authorization: Bearer env-key"});
  EXPECT_EQ(listed.status, 200);
  EXPECT_NE(listed.body.find(R"("id":"alpha")"), std::string::npos) << listed.body;
  EXPECT_EQ(http::http_request("GET", daemon.url("/health")).status, 200); // probes stay open
  // Keys never appear in the log.
  EXPECT_EQ(daemon.process->output().find("client-key"), std::string::npos);
  EXPECT_EQ(daemon.process->output().find("env-key"), std::string::npos);
}

TEST_F(operations_test, a_model_key_opens_only_its_model) {
  test_model beta{"beta"};
  beta.api_keys = {"beta-key"};
  auto keyed = start_daemon({{"alpha"}, beta}, R"("min_active_secs": 0)");
  EXPECT_EQ(keyed_chat(keyed, "alpha", "").status, 200); // alpha has no keys: open
  EXPECT_EQ(keyed_chat(keyed, "beta", "").status, 401);
  EXPECT_EQ(keyed_chat(keyed, "beta", "Authorization: Bearer beta-key").status, 200);
  EXPECT_EQ(keyed_chat(keyed, "alpha", "Authorization: Bearer beta-key").status, 200);
  // The list shows a key holder its models, and those that need no key.
  auto anonymous = http::http_request("GET", keyed.url("/v1/models"));
  EXPECT_EQ(anonymous.status, 401); // some key is configured
  auto listed
    = http::http_request("GET", keyed.url("/v1/models"), {}, {"Authorization: Bearer beta-key"});
  EXPECT_NE(listed.body.find(R"("id":"beta")"), std::string::npos) << listed.body;
  EXPECT_NE(listed.body.find(R"("id":"alpha")"), std::string::npos) << listed.body;
}

TEST_F(operations_test, a_timed_out_request_is_counted_as_refused) {
  auto metrics_port = free_port();
  auto daemon = start_daemon({{"alpha", "offload+keep_running", {"--mock-start-ms", "3000"}}},
                             R"("min_active_secs": 0, "request_timeout_secs": 1)",
                             fmt::format(R"("metrics_port": {})", metrics_port));
  EXPECT_EQ(daemon.chat("alpha").status, 504);
  auto text = http::http_request("GET", fmt::format("http://127.0.0.1:{}/metrics", metrics_port));
  EXPECT_EQ(
    metric_sample(text.body, R"(llmux_requests_refused_total{model="alpha",reason="timed_out"})"),
    1)
    << text.body;
  EXPECT_EQ(metric_sample(text.body, R"(llmux_http_responses_total{class="5xx"})"), 1);
  EXPECT_EQ(metric_sample(text.body, R"(llmux_requests_total{model="alpha",waited="true"})"), 0);
}

TEST_F(operations_test, a_metrics_port_that_cannot_be_bound_stops_the_start) {
  // A port another process listens on.
  int taken = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  ASSERT_EQ(::bind(taken, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
  ASSERT_EQ(::listen(taken, 1), 0);
  ASSERT_EQ(::getsockname(taken, reinterpret_cast<sockaddr*>(&address), &length), 0);
  auto port = ntohs(address.sin_port);
  auto daemon_config = scratch_ / "taken.json";
  std::ofstream(daemon_config) << fmt::format(
    R"({{"models":{{"m":{{"model_path":"m","port":{}}}}},"vllm_command":"{}","metrics_port":{}}})",
    free_port(), LLMUX_MOCK_VLLM, port);
  child_process daemon({LLMUX_DAEMON, "-c", daemon_config, "-p", "0", "--host", "127.0.0.1"},
                       environment());
  EXPECT_EQ(daemon.wait_exit(30s), 1) << daemon.output();
  EXPECT_NE(daemon.output().find(fmt::format("cannot listen on 127.0.0.1:{}", port)),
            std::string::npos)
    << daemon.output();
  ::close(taken);
}

} // namespace
} // namespace llmux::testing_support
