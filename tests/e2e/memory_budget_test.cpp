// The GPU memory budget over mock engines that share one emulated GPU: models that fit stay
// awake together (their engines started with a --gpu-memory-utilization that fits), one that
// does not evicts the least recently used, and measured footprints (an elastic KV cache) let
// models co-reside that declared nothing.

#include <algorithm>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "tests/e2e/daemon.hpp"

namespace llmux::testing_support {
namespace {

class memory_budget_test : public daemon_test {
protected:
  void SetUp() override {
    daemon_test::SetUp();
    // llmux reads the GPU's size from nvidia-smi: the fake one, on the emulated GPU.
    daemon_env_.push_back(std::string("PATH=") + LLMUX_FAKES_BIN + ":" + std::getenv("PATH"));
  }

  // Models of 18,000 MiB each on the mock's 81,920 MiB GPU under a budget of `budget_mib`.
  static test_model sized(const std::string& name) {
    return {name, "offload+keep_running", {}, {}, {}, 0, R"("gpu_memory_mib":18000)"};
  }
};

std::vector<std::string> names_at(simdjson::dom::element array) {
  std::vector<std::string> names;
  simdjson::dom::array items;
  if (!array.get_array().get(items)) {
    for (auto item : items) {
      names.emplace_back(text_at(item));
    }
  }
  return names;
}

std::uint64_t switches(const running_daemon& daemon) {
  simdjson::dom::parser parser;
  return number_at(daemon.status(parser)["switches"]);
}

TEST_F(memory_budget_test, two_models_that_fit_stay_awake_together_under_alternating_traffic) {
  auto metrics = free_port();
  auto daemon
    = start_daemon({sized("alpha"), sized("beta")}, R"("min_active_secs": 0)",
                   fmt::format(R"("gpu_memory_budget_mib": 40000, "metrics_port": {})", metrics));
  ASSERT_EQ(daemon.chat("alpha").status, 200);
  ASSERT_EQ(daemon.chat("beta").status, 200) << daemon.process->output();
  auto after_both = switches(daemon);
  EXPECT_EQ(after_both, 2u);
  for (int i = 0; i < 10; ++i) {
    ASSERT_EQ(daemon.chat(i % 2 == 0 ? "alpha" : "beta").status, 200);
  }
  EXPECT_EQ(switches(daemon), after_both); // nothing moved once both were up
  simdjson::dom::parser parser;
  auto status = daemon.status(parser);
  EXPECT_EQ(names_at(status["awake"]), (std::vector<std::string>{"alpha", "beta"}));
  EXPECT_EQ(number_at(status["gpu_memory_budget_mib"]), 40000u);
  EXPECT_EQ(number_at(status["models"]["alpha"]["engine_starts"]), 1u);
  EXPECT_EQ(number_at(status["models"]["beta"]["engine_starts"]), 1u);
  // Both engines hold their share of the GPU at once: llmux fitted them (0.219 of 81,920 MiB
  // each); at vLLM's default 0.9 the second would have refused to start.
  EXPECT_EQ(engine_pids().size(), 2u);
  auto smi = run_tool("nvidia-smi",
                      {"--query-compute-apps=pid,used_memory", "--format=csv,noheader,nounits"});
  ASSERT_EQ(smi.status, 0);
  EXPECT_NE(smi.output.find(", 17940"), std::string::npos) << smi.output;
  auto text = scrape_metrics(metrics);
  EXPECT_EQ(metric_sample(text, R"(llmux_active_model_info{model="alpha"})"), 1);
  EXPECT_EQ(metric_sample(text, R"(llmux_active_model_info{model="beta"})"), 1);
  EXPECT_EQ(metric_sample(text, "llmux_gpu_memory_budget_bytes"), 40000.0 * 1024 * 1024);
  // Measured on the engine (nvidia-smi): 17,940 MiB, a little under what was declared.
  EXPECT_EQ(metric_sample(text, R"(llmux_model_gpu_memory_bytes{model="alpha"})"),
            17940.0 * 1024 * 1024);
}

TEST_F(memory_budget_test, a_third_model_evicts_the_least_recently_used) {
  auto daemon = start_daemon({sized("alpha"), sized("beta"), sized("gamma")},
                             R"("min_active_secs": 0)", R"("gpu_memory_budget_mib": 40000)");
  for (auto model : {"alpha", "beta", "alpha", "gamma"}) {
    ASSERT_EQ(daemon.chat(model).status, 200) << model << "\n" << daemon.process->output();
  }
  simdjson::dom::parser parser;
  auto status = daemon.status(parser);
  EXPECT_EQ(names_at(status["awake"]), (std::vector<std::string>{"alpha", "gamma"}));
  EXPECT_EQ(text_at(status["models"]["beta"]["state"]), "sleeping");
  EXPECT_EQ(text_at(status["history"].at(2)["from"]), "beta"); // gamma's switch evicted beta
  auto before = switches(daemon);
  ASSERT_EQ(daemon.chat("alpha").status, 200); // still awake: no switch
  EXPECT_EQ(switches(daemon), before);
}

TEST_F(memory_budget_test, sleeping_one_awake_model_on_request_leaves_the_other_serving) {
  auto daemon = start_daemon({sized("alpha"), sized("beta")}, R"("min_active_secs": 0)",
                             R"("gpu_memory_budget_mib": 40000, "admin_port": 0)");
  ASSERT_EQ(daemon.chat("alpha").status, 200);
  ASSERT_EQ(daemon.chat("beta").status, 200);
  auto slept = http::http_request(
    "POST", fmt::format("http://127.0.0.1:{}/control/sleep", daemon.admin_port),
    R"({"model":"alpha"})");
  ASSERT_EQ(slept.status, 200) << slept.body;
  simdjson::dom::parser parser;
  auto status = daemon.status(parser);
  EXPECT_EQ(names_at(status["awake"]), std::vector<std::string>{"beta"});
  EXPECT_EQ(text_at(status["models"]["alpha"]["state"]), "sleeping");
  auto before = switches(daemon);
  ASSERT_EQ(daemon.chat("beta").status, 200); // beta never left
  EXPECT_EQ(switches(daemon), before);
  ASSERT_EQ(daemon.chat("alpha").status, 200); // alpha wakes beside beta
  EXPECT_EQ(switches(daemon), before + 1);
  EXPECT_EQ(names_at(daemon.status(parser)["awake"]), (std::vector<std::string>{"alpha", "beta"}));
}

TEST_F(memory_budget_test, each_awake_model_leaves_after_its_own_idle_ttl) {
  auto metrics = free_port();
  auto alpha = sized("alpha");
  alpha.more += R"(,"idle_ttl_secs":1)";
  auto daemon
    = start_daemon({alpha, sized("beta")}, R"("min_active_secs": 0)",
                   fmt::format(R"("gpu_memory_budget_mib": 40000, "metrics_port": {})", metrics));
  ASSERT_EQ(daemon.chat("alpha").status, 200);
  ASSERT_EQ(daemon.chat("beta").status, 200);
  simdjson::dom::parser parser;
  ASSERT_TRUE(eventually(
    [&] { return names_at(daemon.status(parser)["awake"]) == std::vector<std::string>{"beta"}; },
    5s))
    << daemon.process->output();
  EXPECT_EQ(number_at(daemon.status(parser)["models"]["alpha"]["idle_evictions"]), 1u);
  EXPECT_EQ(metric_sample(scrape_metrics(metrics), R"(llmux_idle_evictions_total{model="alpha"})"),
            1);
  EXPECT_EQ(metric_sample(scrape_metrics(metrics), R"(llmux_active_model_info{model="beta"})"), 1);
}

TEST_F(memory_budget_test, measured_footprints_let_elastic_engines_share_the_gpu) {
  // kvcached's elastic KV cache: idle engines hold their weights and context only. Nothing is
  // declared, so llmux learns each footprint when it first runs the engine.
  daemon_env_.push_back("ENABLE_KVCACHED=true");
  auto daemon = start_daemon({{"alpha", "retain+stop"}, {"beta", "retain+stop"}},
                             R"("min_active_secs": 0)", R"("gpu_memory_budget_mib": 40000)");
  ASSERT_EQ(daemon.chat("alpha").status, 200);
  // beta's footprint is unknown yet: it may need the whole budget, so alpha leaves first.
  ASSERT_EQ(daemon.chat("beta").status, 200);
  simdjson::dom::parser parser;
  EXPECT_EQ(names_at(daemon.status(parser)["awake"]), std::vector<std::string>{"beta"});
  // Both are measured now (1 GiB of weights + 512 MiB of context each): alpha comes up beside
  // beta, and from then on both stay.
  ASSERT_EQ(daemon.chat("alpha").status, 200);
  auto status = daemon.status(parser);
  EXPECT_EQ(names_at(status["awake"]), (std::vector<std::string>{"alpha", "beta"}));
  EXPECT_EQ(number_at(status["models"]["alpha"]["gpu_memory_mib"]), 1536u);
  EXPECT_TRUE(status["models"]["alpha"]["gpu_memory_measured"].get_bool().value_unsafe());
  auto before = switches(daemon);
  for (int i = 0; i < 6; ++i) {
    ASSERT_EQ(daemon.chat(i % 2 == 0 ? "beta" : "alpha").status, 200);
  }
  EXPECT_EQ(switches(daemon), before);
}

TEST_F(memory_budget_test, a_model_that_cannot_fit_the_budget_is_a_configuration_error) {
  write_config({{"alpha", "retain+stop", {"--gpu-memory-utilization", "0.9"}}},
               R"("min_active_secs": 0)", R"("gpu_memory_budget_mib": 40000)");
  auto env = environment();
  env.insert(env.end(), daemon_env_.begin(), daemon_env_.end());
  child_process llmux({LLMUX_DAEMON, "-c", scratch_ / "llmux.json", "-p", "0"}, env);
  EXPECT_EQ(llmux.wait_exit(20s), 1); // an invalid configuration
  EXPECT_NE(llmux.output().find("model alpha: --gpu-memory-utilization 0.9 of this 81920 MiB GPU "
                                "is 73728 MiB, more than gpu_memory_budget_mib (40000 MiB)"),
            std::string::npos)
    << llmux.output();
}

} // namespace
} // namespace llmux::testing_support
