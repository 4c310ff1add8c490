#include "config/print.hpp"

#include <gtest/gtest.h>

#include "config/parse.hpp"
#include "test_support.hpp"

namespace llmux::config {
namespace {

using testing_support::describe;

constexpr std::string_view full = R"({
  "models": {
    "org/a.1": {"model_path": "org/a", "port": 8001, "extra_args": ["--x", "quote\"d"],
                "eviction": 4, "checkpoint_path": "/ckpt/a"},
    "b": {"model_path": "b", "port": 8002, "max_concurrent_requests": 16}
  },
  "policy": {"policy_type": "cost_aware", "amortization_factor": 1.25,
             "eviction": "offload+keep_running"},
  "admin_port": 3001,
  "checkpoint": {"object_store": {"endpoint": "http://s3", "bucket": "ckpt",
                                  "access_key": "key", "secret_key": "very-secret"}},
  "warmup": true,
  "gpu_memory_budget_mib": 40000,
  "cluster": {"node_port": 7100, "name": "gpu-a", "secret": "cluster-secret"}
})";

TEST(print, effective_config_parses_back_to_the_same_config_apart_from_the_secret) {
  auto original = parse_config(full);
  ASSERT_TRUE(original.ok()) << describe(original.findings);
  auto text = to_json(original.cfg);
  auto reread = parse_config(text);
  ASSERT_TRUE(reread.ok()) << describe(reread.findings) << text;
  EXPECT_TRUE(reread.findings.items().empty()) << describe(reread.findings);
  auto expected = original.cfg;
  expected.checkpoint->object_store->secret_key = "********";
  expected.cluster->secret = "********";
  EXPECT_EQ(reread.cfg, expected) << text;
}

TEST(print, a_gateway_file_parses_back_to_the_same_config) {
  auto original = parse_config(R"({"port": 3000, "cluster": {"routing": "least_loaded",
    "nodes": [{"name": "gpu-a", "host": "10.0.0.11", "node_port": 7100},
              {"name": "gpu-b", "node_port": 7101}]}})");
  ASSERT_TRUE(original.ok()) << describe(original.findings);
  ASSERT_EQ(original.cfg.cluster->nodes.size(), 2u);
  EXPECT_EQ(original.cfg.cluster->nodes[1].host, "127.0.0.1");
  auto text = to_json(original.cfg);
  auto reread = parse_config(text);
  ASSERT_TRUE(reread.ok()) << describe(reread.findings) << text;
  EXPECT_EQ(reread.cfg, original.cfg) << text;
}

TEST(print, defaults_are_written_out) {
  auto result = parse_config(R"({"models": {"a": {"model_path": "m", "port": 8001}}})");
  auto text = to_json(result.cfg);
  for (auto fragment :
       {R"("metrics_port": 9090)", R"("request_timeout_secs": 300)", R"("min_quantum_ms": 2000)",
        R"("amortization_factor": 0.5)", R"("startup_timeout_secs": 1800)", R"("admin_port": null)",
        R"("process": "stop")", R"("drain_timeout_secs": 600)", R"("health_misses": 3)",
        R"("client_idle_timeout_secs": 60)"}) {
    EXPECT_NE(text.find(fragment), std::string::npos) << fragment << " missing in\n" << text;
  }
}

TEST(print, the_secret_key_never_appears) {
  auto result = parse_config(full);
  EXPECT_EQ(to_json(result.cfg).find("very-secret"), std::string::npos);
  EXPECT_EQ(to_json(result.cfg).find("cluster-secret"), std::string::npos);
}

} // namespace
} // namespace llmux::config
