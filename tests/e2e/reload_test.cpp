// Configuration reload (POST /control/reload and SIGHUP) while traffic runs: models added,
// removed and changed with nothing lost; an invalid file changes nothing. Real llmux, real
// mock-vllm engines.

#include <atomic>
#include <csignal>
#include <fstream>
#include <map>
#include <mutex>
#include <thread>

#include <fmt/format.h>

#include "tests/e2e/daemon.hpp"

namespace llmux::testing_support {
namespace {

/// Requests for `models` in a loop on `threads` threads until stopped, counting answers by
/// model and status; a request that gets no complete answer counts as status 0.
class traffic {
public:
  traffic(const running_daemon& daemon, std::vector<std::string> models) {
    for (const auto& model : models) {
      workers_.emplace_back([this, &daemon, model] {
        while (!stop_) {
          auto answer = daemon.chat(model, counter_++ % 2 == 0);
          {
            std::lock_guard lock(mutex_);
            ++counts_[{model, answer.complete ? answer.status : 0}];
          }
          if (answer.status != 200) {
            std::this_thread::sleep_for(20ms); // a refusal comes at once: no busy loop
          }
        }
      });
    }
  }

  ~traffic() {
    stop();
  }

  void stop() {
    stop_ = true;
    for (auto& worker : workers_) {
      if (worker.joinable()) {
        worker.join();
      }
    }
  }

  std::size_t count(const std::string& model, long status) {
    std::lock_guard lock(mutex_);
    return counts_[{model, status}];
  }

  /// Every (model, status) seen, as "model status: n" lines.
  std::string summary() {
    std::lock_guard lock(mutex_);
    std::string out;
    for (const auto& [key, n] : counts_) {
      out += fmt::format("{} {}: {}\n", key.first, key.second, n);
    }
    return out;
  }

  /// How many answers had a status other than those `allowed` for their model.
  std::size_t unexpected(const std::map<std::string, std::vector<long>>& allowed) {
    std::lock_guard lock(mutex_);
    std::size_t bad = 0;
    for (const auto& [key, n] : counts_) {
      const auto& ok = allowed.at(key.first);
      if (std::find(ok.begin(), ok.end(), key.second) == ok.end()) {
        bad += n;
      }
    }
    return bad;
  }

private:
  std::atomic<bool> stop_{false};
  std::atomic<std::uint64_t> counter_{0};
  std::mutex mutex_;
  std::map<std::pair<std::string, long>, std::size_t> counts_;
  std::vector<std::thread> workers_;
};

class reload_test : public daemon_test {
protected:
  static http::http_result reload(const running_daemon& daemon) {
    return http::http_request("POST",
                              fmt::format("http://127.0.0.1:{}/control/reload", daemon.admin_port));
  }

  /// The admin API on a port the system chooses (the same in every rewritten config).
  static std::string admin_top() {
    return R"("admin_port": 0)";
  }
};

TEST_F(reload_test, models_are_added_removed_and_changed_while_traffic_runs_with_nothing_lost) {
  auto daemon = start_daemon({{"alpha"}, {"beta"}}, R"("min_active_secs": 0)", admin_top());
  ASSERT_EQ(daemon.chat("alpha").status, 200);
  auto alpha_engine = engine_pid(engine_port("alpha"));
  ASSERT_GT(alpha_engine, 0);
  {
    traffic load(daemon, {"alpha", "beta", "alpha", "beta"});
    std::this_thread::sleep_for(1500ms);
    ASSERT_GT(load.count("beta", 200), 0u) << load.summary();
    // beta goes, gamma comes, alpha gets other engine settings.
    write_config({{"alpha", "discard+keep_running"}, {"gamma"}}, R"("min_active_secs": 0)",
                 admin_top());
    auto reloaded = reload(daemon);
    EXPECT_EQ(reloaded.status, 200) << reloaded.body;
    simdjson::dom::parser parser;
    auto answer = parse_json(parser, reloaded.body);
    EXPECT_EQ(text_at(answer["added"].at(0)), "gamma");
    EXPECT_EQ(text_at(answer["removed"].at(0)), "beta");
    EXPECT_EQ(text_at(answer["changed"].at(0)), "alpha");
    std::this_thread::sleep_for(1500ms);
    EXPECT_EQ(daemon.chat("gamma").status, 200);
    load.stop();
    // Every request was answered: served, or (beta after its removal) refused as unknown.
    EXPECT_EQ(load.unexpected({{"alpha", {200}}, {"beta", {200, 404}}}), 0u) << load.summary();
    EXPECT_GT(load.count("beta", 404), 0u) << load.summary();
    EXPECT_GT(load.count("alpha", 200), 0u) << load.summary();
    fmt::print("answers during the reload (model status: count):\n{}", load.summary());
  }
  // beta's engine is gone; alpha's was restarted with its new settings once it could be.
  EXPECT_TRUE(eventually([&] { return engine_pid(engine_port("beta")) == -1; }, 20s));
  ASSERT_EQ(daemon.chat_until_served("alpha", 30s).status, 200);
  EXPECT_NE(engine_pid(engine_port("alpha")), alpha_engine);
  EXPECT_TRUE(daemon.process->wait_for_text("beta: removed", 5s));
  EXPECT_TRUE(daemon.process->wait_for_text("alpha: restarts with its new settings", 5s));
  auto listed = http::http_request("GET", daemon.url("/v1/models"));
  EXPECT_NE(listed.body.find(R"("id":"gamma")"), std::string::npos) << listed.body;
  EXPECT_EQ(listed.body.find(R"("id":"beta")"), std::string::npos) << listed.body;
  simdjson::dom::parser parser;
  auto status = daemon.status(parser);
  EXPECT_EQ(text_at(status["models"]["alpha"]["eviction"]), "discard+keep_running");
  EXPECT_TRUE(status["models"]["beta"].error()); // no longer listed
  EXPECT_TRUE(eventually(
    [&] {
      simdjson::dom::parser again;
      auto now = daemon.status(again);
      return number_at(now["models"]["alpha"]["in_flight"]) == 0
             && number_at(now["models"]["gamma"]["in_flight"]) == 0;
    },
    10s));
}

TEST_F(reload_test, an_invalid_configuration_is_rejected_and_the_old_one_keeps_serving) {
  auto daemon = start_daemon({{"alpha"}, {"beta"}}, R"("min_active_secs": 0)", admin_top());
  ASSERT_EQ(daemon.chat("alpha").status, 200);
  std::ofstream(scratch_ / "llmux.json") << R"({"models": {"alpha": {"model_path": "x",)";
  auto refused = reload(daemon);
  EXPECT_EQ(refused.status, 400) << refused.body;
  EXPECT_NE(refused.body.find("JSON syntax error"), std::string::npos) << refused.body;
  EXPECT_NE(refused.body.find("the one in force keeps serving"), std::string::npos);
  // A valid file with an invalid value: rejected with the finding --check-config prints.
  write_config({{"alpha"}, {"beta"}}, R"("min_active_secs": 0, "policy_type": "round_robin")",
               admin_top());
  refused = reload(daemon);
  EXPECT_EQ(refused.status, 400) << refused.body;
  EXPECT_NE(refused.body.find("unknown policy"), std::string::npos) << refused.body;
  EXPECT_EQ(daemon.chat("alpha").status, 200);
  EXPECT_EQ(daemon.chat("beta").status, 200);
  auto listed = http::http_request("GET", daemon.url("/v1/models"));
  EXPECT_NE(listed.body.find(R"("id":"beta")"), std::string::npos) << listed.body;
}

TEST_F(reload_test, sighup_reloads_and_a_listener_change_asks_for_a_restart) {
  auto metrics = free_port();
  auto top = fmt::format(R"({}, "metrics_port": {})", admin_top(), metrics);
  auto daemon = start_daemon({{"alpha"}}, R"("min_active_secs": 0)", top);
  ASSERT_EQ(daemon.chat("alpha").status, 200);
  // beta comes, keys are required from now on, and the admin port moves (which needs a
  // restart).
  write_config({{"alpha"}, {"beta"}}, R"("min_active_secs": 0)",
               fmt::format(R"("admin_port": {}, "metrics_port": {}, "api_keys": ["new-key"])",
                           free_port(), metrics));
  ASSERT_EQ(::kill(daemon.process->pid(), SIGHUP), 0);
  auto with_key = std::vector<std::string>{"Authorization: Bearer new-key"};
  EXPECT_TRUE(eventually(
    [&] {
      return http::http_request("GET", daemon.url("/v1/models"), {}, with_key)
               .body.find(R"("id":"beta")")
             != std::string::npos;
    },
    10s));
  EXPECT_EQ(daemon.chat("beta").status, 401); // the new keys hold
  auto served
    = http::http_request("POST", daemon.url("/v1/chat/completions"),
                         chat_request("Hello there", false, R"(,"model":"beta")"), with_key);
  EXPECT_EQ(served.status, 200) << served.body;
  // The new model has its metrics.
  EXPECT_EQ(
    metric_sample(scrape_metrics(metrics), R"(llmux_requests_total{model="beta",waited="true"})"),
    1);
  EXPECT_TRUE(daemon.process->wait_for_text("admin_port changed: restart llmux to apply it", 5s))
    << daemon.process->output();
  // The admin API still listens where it did.
  EXPECT_EQ(
    http::http_request("GET", fmt::format("http://127.0.0.1:{}/control/status", daemon.admin_port))
      .status,
    200);
}

} // namespace
} // namespace llmux::testing_support
