#include "config/validate.hpp"

#include <set>

#include <gtest/gtest.h>

#include "config/parse.hpp"
#include "test_support.hpp"

namespace llmux::config {
namespace {

using testing_support::describe;

// Validates `text` as if exactly the paths in `existing` were on disk.
diagnostics validate(std::string_view text, std::set<std::string> existing = {}) {
  auto result = parse_config(text);
  EXPECT_TRUE(result.ok()) << "fixture must parse:\n" << describe(result.findings);
  validate_config(
    result.cfg, [&](const std::string& path) { return existing.count(path) > 0; }, result.findings);
  return result.findings;
}

TEST(validate, a_plain_config_has_no_findings) {
  auto findings = validate(R"({"models": {"a": {"model_path": "m", "port": 8001},
    "b": {"model_path": "n", "port": 8002}}, "admin_port": 3001})");
  EXPECT_TRUE(findings.items().empty()) << describe(findings);
}

TEST(validate, a_cluster_node_has_its_own_port_and_no_empty_settings) {
  auto findings = validate(R"({"models": {"a": {"model_path": "m", "port": 8001}},
    "cluster": {"node_port": 8001, "node_host": "", "secret": "", "name": ""}})");
  EXPECT_FINDING(findings, severity::error, "models.a.port",
                 "port 8001 is already used by cluster.node_port");
  EXPECT_FINDING(findings, severity::error, "cluster.node_host", "must not be empty");
  EXPECT_FINDING(findings, severity::error, "cluster.secret",
                 "must not be empty (leave it out to take LLMUX_CLUSTER_SECRET)");
  EXPECT_FINDING(findings, severity::error, "cluster.name",
                 "must not be empty (leave it out for the host name)");
  auto no_node = validate(R"({"models": {}, "cluster": {"secret": "x"}})");
  EXPECT_FINDING(no_node, severity::warning, "cluster",
                 "without node_port or nodes this llmux is neither a node nor a gateway: nothing "
                 "reads the rest");
}

TEST(validate, a_gateway_file_lists_distinct_nodes_and_no_models) {
  auto plain = validate(R"({"cluster": {"secret": "x", "nodes": [
    {"name": "a", "host": "10.0.0.1", "node_port": 7100},
    {"name": "b", "host": "10.0.0.2", "node_port": 7100}]}})");
  EXPECT_TRUE(plain.items().empty()) << describe(plain);
  auto findings = validate(R"({"models": {"m": {"model_path": "m", "port": 8001}},
    "cluster": {"node_port": 7000, "routing": "nearest", "nodes": [
      {"name": "a", "node_port": 7100}, {"name": "a", "node_port": 7101},
      {"name": "c", "node_port": 7100}, {"name": "", "host": "", "node_port": 0}]}})");
  EXPECT_FINDING(findings, severity::error, "models",
                 "a gateway serves the models of its nodes: list models in the nodes' files, not "
                 "in the gateway's");
  EXPECT_FINDING(findings, severity::error, "cluster.nodes",
                 "a gateway is no node itself: give node_port or nodes, not both");
  EXPECT_FINDING(findings, severity::error, "cluster.routing",
                 "unknown routing \"nearest\"; valid: affinity, round_robin, least_loaded");
  EXPECT_FINDING(findings, severity::error, "cluster.nodes[1].name",
                 "\"a\" names nodes[0] already");
  EXPECT_FINDING(findings, severity::error, "cluster.nodes[2]",
                 "127.0.0.1:7100 is nodes[0] already");
  EXPECT_FINDING(findings, severity::error, "cluster.nodes[3].name", "must not be empty");
  EXPECT_FINDING(findings, severity::error, "cluster.nodes[3].host", "must not be empty");
  EXPECT_FINDING(findings, severity::error, "cluster.nodes[3].node_port",
                 "must be a port (1-65535)");
}

TEST(validate, rootfs_dirs_are_absolute_paths) {
  auto findings
    = validate(R"({"models": {}, "checkpoint": {"rootfs_dirs": ["cache", "/", "/ok"]}})");
  EXPECT_FINDING(findings, severity::error, "checkpoint.rootfs_dirs",
                 "\"cache\" is not an absolute path below /");
  EXPECT_FINDING(findings, severity::error, "checkpoint.rootfs_dirs",
                 "\"/\" is not an absolute path below /");
}

TEST(validate, two_models_on_one_port) {
  auto findings = validate(R"({"models": {"a": {"model_path": "m", "port": 8001},
    "b": {"model_path": "n", "port": 8001}}})");
  EXPECT_FINDING(findings, severity::error, "models.b.port",
                 "port 8001 is already used by models.a.port");
}

TEST(validate, model_port_equal_to_a_listener) {
  auto findings = validate(R"({"models": {
    "a": {"model_path": "m", "port": 3000},
    "b": {"model_path": "m", "port": 9090},
    "c": {"model_path": "m", "port": 4000}}, "admin_port": 4000})");
  EXPECT_FINDING(findings, severity::error, "models.a.port", "already used by port");
  EXPECT_FINDING(findings, severity::error, "models.b.port", "already used by metrics_port");
  EXPECT_FINDING(findings, severity::error, "models.c.port", "already used by admin_port");
}

TEST(validate, listeners_collide_with_each_other) {
  auto findings = validate(R"({"models": {}, "port": 5000, "metrics_port": 5000,
    "admin_port": 5000})");
  EXPECT_FINDING(findings, severity::error, "metrics_port", "port 5000 is already used by port");
  EXPECT_FINDING(findings, severity::error, "admin_port", "port 5000 is already used by port");
}

TEST(validate, port_zero_means_disabled_or_any_and_never_collides) {
  auto findings = validate(R"({"models": {"a": {"model_path": "m", "port": 8001}},
    "port": 0, "metrics_port": 0, "admin_port": 0})");
  EXPECT_FALSE(findings.has_errors()) << describe(findings);
}

TEST(validate, served_model_names_must_include_the_model_path) {
  auto findings = validate(R"({"models": {
    "a": {"model_path": "org/a", "port": 8001, "extra_args": ["--served-model-name", "a", "--x"]},
    "b": {"model_path": "org/b", "port": 8002, "extra_args": ["--served-model-name=b"]},
    "c": {"model_path": "org/c", "port": 8003,
          "extra_args": ["--served-model-name", "c", "org/c", "--max-model-len", "4096"]}}})");
  EXPECT_FINDING(findings, severity::error, "models.a.extra_args[0]",
                 "the engine would serve only [a], but llmux asks it for \"org/a\"");
  EXPECT_FINDING(findings, severity::error, "models.b.extra_args[0]", "serve only [b]");
  EXPECT_EQ(describe(findings).find("models.c"), std::string::npos) << describe(findings);
}

TEST(validate, engine_port_in_extra_args) {
  auto findings = validate(R"({"models": {"a": {"model_path": "m", "port": 8001,
    "extra_args": ["--max-model-len", "4096", "--port=9000"]}}})");
  EXPECT_FINDING(findings, severity::error, "models.a.extra_args[2]", "remove --port");
}

TEST(validate, tensor_parallel_checkpointing_needs_eager_and_no_custom_all_reduce) {
  auto findings = validate(R"({"models": {
    "bare": {"model_path": "m", "port": 8001, "eviction": "retain+cuda_suspend",
             "extra_args": ["--tensor-parallel-size", "2"]},
    "ready": {"model_path": "m", "port": 8002, "eviction": "discard+checkpoint",
              "extra_args": ["-tp", "4", "--enforce-eager", "--disable-custom-all-reduce"]},
    "tp1": {"model_path": "m", "port": 8003, "eviction": "retain+cuda_suspend"},
    "sleep_only": {"model_path": "m", "port": 8004, "eviction": "offload+keep_running",
                   "extra_args": ["--tensor-parallel-size=2"]}},
    "checkpoint": {}})");
  EXPECT_FINDING(findings, severity::warning, "models.bare.extra_args",
                 "cuda_suspend at tensor-parallel size 2 without --enforce-eager");
  EXPECT_FINDING(findings, severity::warning, "models.bare.extra_args",
                 "without --disable-custom-all-reduce");
  EXPECT_EQ(findings.items().size(), 2u) << describe(findings);
}

TEST(validate, checkpointing_processes_need_the_checkpoint_section) {
  auto findings = validate(R"({"models": {
    "a": {"model_path": "m", "port": 8001, "eviction": "discard+checkpoint"},
    "b": {"model_path": "m", "port": 8002, "eviction": 3}}})");
  EXPECT_FINDING(findings, severity::error, "models.a.eviction",
                 "eviction discard+checkpoint needs the top-level \"checkpoint\" section");
  EXPECT_FINDING(findings, severity::error, "models.b.eviction",
                 "eviction retain+cuda_suspend needs");
}

TEST(validate, checkpoint_path_must_exist_without_an_object_store) {
  auto findings = validate(R"({"models": {"a": {"model_path": "m", "port": 8001,
    "checkpoint_path": "/nowhere"}}, "checkpoint": {}})");
  EXPECT_FINDING(findings, severity::error, "models.a.checkpoint_path", "/nowhere does not exist");
}

TEST(validate, an_existing_checkpoint_path_is_fine) {
  auto findings = validate(R"({"models": {"a": {"model_path": "m", "port": 8001,
    "checkpoint_path": "/ckpt/a"}}, "checkpoint": {}})",
                           {"/ckpt/a"});
  EXPECT_TRUE(findings.items().empty()) << describe(findings);
}

TEST(validate, a_missing_checkpoint_path_is_downloaded_with_an_object_store) {
  auto findings = validate(R"({"models": {"a": {"model_path": "m", "port": 8001,
    "checkpoint_path": "/nowhere"}}, "checkpoint": {"object_store": {"endpoint": "http://s3",
    "bucket": "ckpt", "access_key": "a", "secret_key": "b"}}})");
  EXPECT_FALSE(findings.has_errors()) << describe(findings);
  EXPECT_FINDING(findings, severity::note, "models.a.checkpoint_path",
                 "will be downloaded from the object store");
}

TEST(validate, checkpoint_path_needs_the_checkpoint_section) {
  auto findings = validate(R"({"models": {"a": {"model_path": "m", "port": 8001,
    "checkpoint_path": "/ckpt/a"}}})",
                           {"/ckpt/a"});
  EXPECT_FINDING(findings, severity::error, "models.a.checkpoint_path",
                 "the top-level \"checkpoint\" section is missing");
}

TEST(validate, object_store_settings) {
  auto findings = validate(R"({"models": {}, "checkpoint": {"object_store": {
    "endpoint": "s3.example", "bucket": "ab", "access_key": "", "secret_key": "",
    "region": ""}}})");
  const std::string base = "checkpoint.object_store.";
  EXPECT_FINDING(findings, severity::error, base + "endpoint", "http:// or https:// URL");
  EXPECT_FINDING(findings, severity::error, base + "bucket", "not a valid S3 bucket name");
  EXPECT_FINDING(findings, severity::error, base + "access_key", "must not be empty");
  EXPECT_FINDING(findings, severity::error, base + "secret_key", "must not be empty");
  EXPECT_FINDING(findings, severity::error, base + "region", "must not be empty");
  auto upper = validate(R"({"models": {}, "checkpoint": {"object_store": {
    "endpoint": "http://s3", "bucket": "Checkpoints", "access_key": "a", "secret_key": "b"}}})");
  EXPECT_FINDING(upper, severity::error, base + "bucket", "not a valid S3 bucket name");
}

TEST(validate, timeouts_must_be_positive_and_the_backoff_cap_above_its_start) {
  auto findings = validate(R"({"models": {}, "timeouts": {"health_misses": 0,
    "drain_timeout_secs": 0, "sleep_timeout_secs": 0, "failure_backoff_secs": 30,
    "failure_backoff_max_secs": 10}})");
  EXPECT_FINDING(findings, severity::error, "timeouts.health_misses", "at least 1");
  EXPECT_FINDING(findings, severity::error, "timeouts.drain_timeout_secs", "at least 1");
  EXPECT_FINDING(findings, severity::error, "timeouts.sleep_timeout_secs", "at least 1");
  EXPECT_FINDING(findings, severity::error, "timeouts.failure_backoff_max_secs",
                 "at least failure_backoff_secs (30)");
}

TEST(validate, values_that_would_misbehave) {
  auto findings = validate(R"({"models": {}, "vllm_command": "", "startup_timeout_secs": 0,
    "policy": {"tick_interval_ms": 0, "request_timeout_secs": 0}})");
  EXPECT_FINDING(findings, severity::warning, "models", "no models are configured");
  EXPECT_FINDING(findings, severity::error, "vllm_command", "must not be empty");
  EXPECT_FINDING(findings, severity::error, "startup_timeout_secs", "at least 1");
  EXPECT_FINDING(findings, severity::error, "policy.tick_interval_ms", "at least 1");
  // 0 means "no timeout": nothing to warn about.
  for (const auto& item : findings.items()) {
    EXPECT_NE(item.path, "policy.request_timeout_secs") << item.message;
  }
}

TEST(validate, an_eviction_that_frees_nothing_is_flagged_when_models_share_the_gpu) {
  auto findings = validate(R"({"models": {
    "a": {"model_path": "m", "port": 8001, "eviction": "retain+keep_running"},
    "b": {"model_path": "m", "port": 8002}}})");
  EXPECT_FINDING(findings, severity::warning, "models.a.eviction", "frees no GPU memory");
  EXPECT_FALSE(findings.has_errors());
}

} // namespace
} // namespace llmux::config
