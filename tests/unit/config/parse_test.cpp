#include "config/parse.hpp"

#include <gtest/gtest.h>

#include "test_support.hpp"

namespace llmux::config {
namespace {

using testing_support::describe;

// A config must name at least its models; this one is the smallest valid document.
constexpr std::string_view minimal = R"({"models": {"llama": {"model_path": "m", "port": 8001}}})";

load_result parse_ok(std::string_view text) {
  auto result = parse_config(text);
  EXPECT_TRUE(result.ok()) << describe(result.findings);
  return result;
}

// The five tests of the reference's config.rs, rewritten.

TEST(seed_config, parse_config) {
  auto result = parse_ok(R"({
    "models": {
      "llama": {"model_path": "meta-llama/Llama-2-7b", "port": 8001},
      "mistral": {"model_path": "mistralai/Mistral-7B-v0.1", "port": 8002,
                  "extra_args": ["--gpu-memory-utilization", "0.8"]}
    },
    "policy": {"request_timeout_secs": 30},
    "port": 3000
  })");
  const auto& cfg = result.cfg;
  ASSERT_EQ(cfg.models.size(), 2u);
  EXPECT_EQ(cfg.find_model("llama")->port, 8001);
  EXPECT_EQ(cfg.find_model("mistral")->extra_args.size(), 2u);
  EXPECT_EQ(cfg.policy.request_timeout_secs, 30u);
}

TEST(seed_config, vllm_args) {
  model_config model;
  model.model_path = "meta-llama/Llama-2-7b";
  model.port = 8001;
  model.extra_args = {"--tensor-parallel-size", "2", "--max-model-len", "4096"};
  model.eviction = *eviction_from_level(1);
  auto args = engine_arguments(model);
  auto contains
    = [&](std::string_view arg) { return std::find(args.begin(), args.end(), arg) != args.end(); };
  EXPECT_TRUE(contains("--enable-sleep-mode"));
  EXPECT_TRUE(contains("--tensor-parallel-size"));
  EXPECT_TRUE(contains("2"));
}

TEST(seed_config, warmup_defaults_to_false) {
  EXPECT_FALSE(parse_ok(minimal).cfg.warmup);
}

TEST(seed_config, warmup_parses_when_set) {
  auto result = parse_ok(
    R"({"models": {"llama": {"model_path": "m", "port": 8001}}, "port": 3000, "warmup": true})");
  EXPECT_TRUE(result.cfg.warmup);
}

TEST(seed_config, eviction_policy_deserialize) {
  auto result = parse_ok(R"({"models": {"llama": {"model_path": "meta-llama/Llama-2-7b",
    "port": 8001, "eviction": {"weights": "discard", "process": "checkpoint"}}}, "port": 3000,
    "checkpoint": {}})");
  const auto& model = *result.cfg.find_model("llama");
  EXPECT_EQ(model.eviction.weights, weight_strategy::discard);
  EXPECT_EQ(model.eviction.process, process_strategy::checkpoint);
}

// Defaults (spec §1.2-§1.7).

TEST(defaults, top_level) {
  const auto cfg = parse_ok(minimal).cfg;
  EXPECT_EQ(cfg.port, 3000);
  EXPECT_EQ(cfg.metrics_port, 9090);
  EXPECT_EQ(cfg.admin_port, std::nullopt);
  EXPECT_EQ(cfg.vllm_command, "vllm");
  EXPECT_EQ(cfg.checkpoint, std::nullopt);
  EXPECT_FALSE(cfg.warmup);
  EXPECT_EQ(cfg.startup_timeout_secs, 1800u);
}

TEST(defaults, model) {
  const auto model = parse_ok(minimal).cfg.models.at(0);
  EXPECT_EQ(model.name, "llama");
  EXPECT_EQ(model.model_path, "m");
  EXPECT_EQ(model.port, 8001);
  EXPECT_TRUE(model.extra_args.empty());
  EXPECT_EQ(model.eviction, (eviction_policy{weight_strategy::retain, process_strategy::stop}));
  EXPECT_EQ(model.checkpoint_path, std::nullopt);
  EXPECT_EQ(model.max_concurrent_requests, std::nullopt);
}

TEST(defaults, policy) {
  const auto policy = parse_ok(minimal).cfg.policy;
  EXPECT_EQ(policy.policy_type, "fifo");
  EXPECT_EQ(policy.request_timeout_secs, 300u);
  EXPECT_TRUE(policy.drain_before_switch);
  EXPECT_EQ(policy.eviction, (eviction_policy{weight_strategy::retain, process_strategy::stop}));
  EXPECT_EQ(policy.min_active_secs, 5u);
  EXPECT_EQ(policy.coalesce_window_ms, 2000u);
  EXPECT_DOUBLE_EQ(policy.amortization_factor, 0.5);
  EXPECT_EQ(policy.max_wait_secs, 15u);
  EXPECT_EQ(policy.tick_interval_ms, 500u);
  EXPECT_EQ(policy.min_quantum_ms, 2000u);
}

TEST(defaults, checkpoint_and_object_store) {
  auto result = parse_ok(R"({"models": {}, "checkpoint": {"object_store": {
    "endpoint": "http://127.0.0.1:7480", "bucket": "ckpt", "access_key": "k",
    "secret_key": "s"}}})");
  const auto& checkpoint = *result.cfg.checkpoint;
  EXPECT_EQ(checkpoint.criu_path, "criu");
  EXPECT_EQ(checkpoint.cuda_plugin_dir, "/usr/lib/criu/");
  EXPECT_EQ(checkpoint.images_dir, "/tmp/llmux-checkpoints");
  EXPECT_EQ(checkpoint.cuda_checkpoint_path, "cuda-checkpoint");
  EXPECT_TRUE(checkpoint.keep_images);
  ASSERT_TRUE(checkpoint.object_store);
  EXPECT_EQ(checkpoint.object_store->region, "us-east-1");
  EXPECT_EQ(checkpoint.object_store->bucket, "ckpt");
}

TEST(defaults, empty_policy_and_checkpoint_objects_take_every_default) {
  auto result = parse_ok(R"({"models": {}, "policy": {}, "checkpoint": {}})");
  EXPECT_EQ(result.cfg.policy, policy_config{});
  EXPECT_EQ(result.cfg.checkpoint, checkpoint_config{});
}

// Every field read as written.

TEST(fields, every_field_is_read) {
  auto result = parse_ok(R"({
    "models": {"a": {"model_path": "org/a", "port": 8001, "extra_args": ["--x"],
                     "eviction": {"weights": "offload", "process": "keep_running"},
                     "checkpoint_path": "/ckpt/a", "max_concurrent_requests": 8}},
    "policy": {"policy_type": "time_slice", "request_timeout_secs": 60,
               "drain_before_switch": false, "eviction": {"weights": "discard", "process": "stop"},
               "min_active_secs": 1, "coalesce_window_ms": 10, "amortization_factor": 2,
               "max_wait_secs": 20, "tick_interval_ms": 100, "min_quantum_ms": 300},
    "port": 4000, "metrics_port": 0, "admin_port": 4001, "vllm_command": "/bin/mock",
    "checkpoint": {"criu_path": "/c", "cuda_plugin_dir": "/p", "images_dir": "/i",
                   "cuda_checkpoint_path": "/cc", "keep_images": false,
                   "object_store": {"endpoint": "https://s3", "bucket": "bkt", "access_key": "a",
                                    "secret_key": "b", "region": "eu-west-1"}},
    "warmup": true, "startup_timeout_secs": 60
  })");
  const auto& cfg = result.cfg;
  const auto& a = cfg.models.at(0);
  EXPECT_EQ(a.model_path, "org/a");
  EXPECT_EQ(a.extra_args, std::vector<std::string>{"--x"});
  EXPECT_EQ(a.eviction,
            (eviction_policy{weight_strategy::offload, process_strategy::keep_running}));
  EXPECT_EQ(a.checkpoint_path, "/ckpt/a");
  EXPECT_EQ(a.max_concurrent_requests, 8u);
  EXPECT_EQ(cfg.policy.policy_type, "time_slice");
  EXPECT_EQ(cfg.policy.request_timeout_secs, 60u);
  EXPECT_FALSE(cfg.policy.drain_before_switch);
  EXPECT_EQ(cfg.policy.eviction,
            (eviction_policy{weight_strategy::discard, process_strategy::stop}));
  EXPECT_EQ(cfg.policy.min_active_secs, 1u);
  EXPECT_EQ(cfg.policy.coalesce_window_ms, 10u);
  EXPECT_DOUBLE_EQ(cfg.policy.amortization_factor, 2.0);
  EXPECT_EQ(cfg.policy.max_wait_secs, 20u);
  EXPECT_EQ(cfg.policy.tick_interval_ms, 100u);
  EXPECT_EQ(cfg.policy.min_quantum_ms, 300u);
  EXPECT_EQ(cfg.port, 4000);
  EXPECT_EQ(cfg.metrics_port, 0);
  EXPECT_EQ(cfg.admin_port, 4001);
  EXPECT_EQ(cfg.vllm_command, "/bin/mock");
  EXPECT_EQ(cfg.checkpoint->criu_path, "/c");
  EXPECT_EQ(cfg.checkpoint->cuda_plugin_dir, "/p");
  EXPECT_EQ(cfg.checkpoint->images_dir, "/i");
  EXPECT_EQ(cfg.checkpoint->cuda_checkpoint_path, "/cc");
  EXPECT_FALSE(cfg.checkpoint->keep_images);
  EXPECT_EQ(cfg.checkpoint->object_store->region, "eu-west-1");
  EXPECT_TRUE(cfg.warmup);
  EXPECT_EQ(cfg.startup_timeout_secs, 60u);
}

TEST(fields, models_keep_file_order) {
  auto result = parse_ok(R"({"models": {"zeta": {"model_path": "z", "port": 8001},
                                         "alpha": {"model_path": "a", "port": 8002}}})");
  ASSERT_EQ(result.cfg.models.size(), 2u);
  EXPECT_EQ(result.cfg.models[0].name, "zeta");
  EXPECT_EQ(result.cfg.models[1].name, "alpha");
}

TEST(fields, nulls_leave_optional_fields_empty) {
  auto result = parse_ok(R"({"models": {"a": {"model_path": "m", "port": 8001,
    "checkpoint_path": null, "eviction": null}}, "admin_port": null, "checkpoint": null})");
  EXPECT_EQ(result.cfg.admin_port, std::nullopt);
  EXPECT_EQ(result.cfg.checkpoint, std::nullopt);
  EXPECT_EQ(result.cfg.models[0].checkpoint_path, std::nullopt);
}

// Eviction forms.

TEST(eviction_forms, legacy_levels_and_compact_strings) {
  auto result = parse_ok(R"({"models": {
    "l1": {"model_path": "m", "port": 8001, "eviction": 1},
    "l2": {"model_path": "m", "port": 8002, "eviction": 2},
    "l5": {"model_path": "m", "port": 8005, "eviction": 5},
    "s": {"model_path": "m", "port": 8006, "eviction": "discard+keep_running"}}})");
  const auto& cfg = result.cfg;
  EXPECT_EQ(cfg.find_model("l1")->eviction, *eviction_from_level(1));
  EXPECT_EQ(cfg.find_model("l2")->eviction, *eviction_from_level(2));
  EXPECT_EQ(cfg.find_model("l5")->eviction, *eviction_from_level(5));
  EXPECT_EQ(cfg.find_model("s")->eviction, *eviction_from_level(2));
}

TEST(eviction_forms, policy_eviction_is_the_default_for_models_without_one) {
  auto result = parse_ok(R"({"models": {
    "plain": {"model_path": "m", "port": 8001},
    "own": {"model_path": "m", "port": 8002, "eviction": "retain+stop"}},
    "policy": {"eviction": {"weights": "offload", "process": "keep_running"}}})");
  EXPECT_EQ(result.cfg.find_model("plain")->eviction, *eviction_from_level(1));
  EXPECT_EQ(result.cfg.find_model("own")->eviction, *eviction_from_level(5));
}

TEST(eviction_forms, errors) {
  auto result = parse_config(R"({"models": {
    "a": {"model_path": "m", "port": 8001, "eviction": 7},
    "b": {"model_path": "m", "port": 8002, "eviction": {"weights": "offload"}},
    "c": {"model_path": "m", "port": 8003, "eviction": {"weights": "keep", "process": "stop"}},
    "d": {"model_path": "m", "port": 8004, "eviction": "offload"},
    "e": {"model_path": "m", "port": 8005, "eviction": true}}})");
  const auto& f = result.findings;
  EXPECT_FINDING(f, severity::error, "models.a.eviction", "legacy eviction level must be 1 to 5");
  EXPECT_FINDING(f, severity::error, "models.b.eviction.process", "missing required field");
  EXPECT_FINDING(f, severity::error, "models.c.eviction.weights", "unknown value \"keep\"");
  EXPECT_FINDING(f, severity::error, "models.d.eviction", "expected 'weights+process'");
  EXPECT_FINDING(f, severity::error, "models.e.eviction", "found boolean");
}

// Structural and type errors: each is reported, all of them at once.

TEST(errors, syntax_error_names_line_and_column) {
  auto result = parse_config("{\n  \"models\": {},\n  \"port\": 3000,,\n}\n");
  ASSERT_FALSE(result.ok());
  EXPECT_FALSE(result.document_read);
  EXPECT_FINDING(result.findings, severity::error, "line 3, column 16", "JSON syntax error");
}

TEST(errors, document_must_be_an_object) {
  auto result = parse_config("[1, 2]");
  EXPECT_FALSE(result.document_read);
  EXPECT_FINDING(result.findings, severity::error, "", "must be a JSON object, found array");
}

TEST(errors, missing_required_fields) {
  auto result = parse_config(R"({"models": {"a": {"port": 8001}, "b": {"model_path": "m"}}})");
  EXPECT_FINDING(result.findings, severity::error, "models.a.model_path", "missing required");
  EXPECT_FINDING(result.findings, severity::error, "models.b.port", "missing required");
  EXPECT_FINDING(parse_config("{}").findings, severity::error, "models", "missing required");
}

TEST(errors, a_gateway_needs_no_models_but_its_nodes_need_names_and_ports) {
  auto gateway = parse_config(R"({"cluster": {"nodes": [{"name": "a", "node_port": 7100}]}})");
  EXPECT_TRUE(gateway.ok()) << testing_support::describe(gateway.findings);
  auto broken = parse_config(R"({"cluster": {"nodes": [{"host": "h", "port": 1}, 3]}})");
  EXPECT_FINDING(broken.findings, severity::error, "cluster.nodes[0].name", "missing required");
  EXPECT_FINDING(broken.findings, severity::error, "cluster.nodes[0].node_port",
                 "missing required");
  EXPECT_FINDING(broken.findings, severity::warning, "cluster.nodes[0].port", "unknown key");
  EXPECT_FINDING(broken.findings, severity::error, "cluster.nodes[1]", "expected an object");
  auto not_a_list = parse_config(R"({"models": {}, "cluster": {"nodes": {"a": 1}}})");
  EXPECT_FINDING(not_a_list.findings, severity::error, "cluster.nodes", "an array of nodes");
}

TEST(errors, wrong_types_name_what_was_expected_and_found) {
  auto result = parse_config(R"({"models": {"a": {"model_path": 7, "port": "8001",
    "extra_args": ["--x", 3]}}, "warmup": "yes", "vllm_command": [], "policy": {
    "request_timeout_secs": -1, "amortization_factor": "high", "drain_before_switch": 1,
    "min_active_secs": 1.5}, "checkpoint": 3})");
  const auto& f = result.findings;
  EXPECT_FINDING(f, severity::error, "models.a.model_path", "expected a string, found integer");
  EXPECT_FINDING(f, severity::error, "models.a.port", "expected a port number, found string");
  EXPECT_FINDING(f, severity::error, "models.a.extra_args[1]", "expected a string, found integer");
  EXPECT_FINDING(f, severity::error, "warmup", "expected a boolean, found string");
  EXPECT_FINDING(f, severity::error, "vllm_command", "expected a string, found array");
  EXPECT_FINDING(f, severity::error, "policy.request_timeout_secs",
                 "non-negative integer, found -1");
  EXPECT_FINDING(f, severity::error, "policy.amortization_factor",
                 "expected a number, found string");
  EXPECT_FINDING(f, severity::error, "policy.drain_before_switch",
                 "expected a boolean, found integer");
  EXPECT_FINDING(f, severity::error, "policy.min_active_secs", "found number");
  EXPECT_FINDING(f, severity::error, "checkpoint", "expected an object, found integer");
}

TEST(parse, timeouts_are_read_and_default_to_bounds_that_never_cut_a_healthy_generation) {
  auto defaults = parse_config(R"({"models": {}})").cfg.timeouts;
  EXPECT_EQ(defaults.health_interval_ms, 2000u);
  EXPECT_EQ(defaults.health_timeout_ms, 5000u);
  EXPECT_EQ(defaults.health_misses, 3u);
  EXPECT_EQ(defaults.drain_timeout_secs, 600u);
  EXPECT_EQ(defaults.sleep_timeout_secs, 120u);
  EXPECT_EQ(defaults.wake_timeout_secs, 120u);
  EXPECT_EQ(defaults.engine_idle_timeout_secs, 600u);
  EXPECT_EQ(defaults.client_write_timeout_secs, 120u);
  EXPECT_EQ(defaults.client_idle_timeout_secs, 60u);
  EXPECT_EQ(defaults.failure_backoff_secs, 2u);
  EXPECT_EQ(defaults.failure_backoff_max_secs, 120u);
  auto result = parse_config(R"({"models": {}, "timeouts": {"health_interval_ms": 250,
    "health_timeout_ms": 400, "health_misses": 2, "drain_timeout_secs": 30,
    "sleep_timeout_secs": 5, "wake_timeout_secs": 6, "engine_idle_timeout_secs": 7,
    "client_write_timeout_secs": 8, "client_idle_timeout_secs": 9, "failure_backoff_secs": 1,
    "failure_backoff_max_secs": 10}})");
  EXPECT_TRUE(result.ok());
  EXPECT_TRUE(result.findings.items().empty());
  const auto& t = result.cfg.timeouts;
  EXPECT_EQ(t.health_interval_ms, 250u);
  EXPECT_EQ(t.health_timeout_ms, 400u);
  EXPECT_EQ(t.health_misses, 2u);
  EXPECT_EQ(t.drain_timeout_secs, 30u);
  EXPECT_EQ(t.sleep_timeout_secs, 5u);
  EXPECT_EQ(t.wake_timeout_secs, 6u);
  EXPECT_EQ(t.engine_idle_timeout_secs, 7u);
  EXPECT_EQ(t.client_write_timeout_secs, 8u);
  EXPECT_EQ(t.client_idle_timeout_secs, 9u);
  EXPECT_EQ(t.failure_backoff_secs, 1u);
  EXPECT_EQ(t.failure_backoff_max_secs, 10u);
  auto typo = parse_config(R"({"models": {}, "timeouts": {"drain_timeout": 3}})");
  EXPECT_FINDING(typo.findings, severity::warning, "timeouts.drain_timeout", "unknown key");
}

TEST(errors, ports_out_of_range) {
  auto result = parse_config(R"({"models": {"a": {"model_path": "m", "port": 70000},
    "b": {"model_path": "m", "port": 0}}, "port": -1, "metrics_port": 3000.5})");
  const auto& f = result.findings;
  EXPECT_FINDING(f, severity::error, "models.a.port", "from 0 to 65535, found 70000");
  EXPECT_FINDING(f, severity::error, "models.b.port", "must be from 1 to 65535");
  EXPECT_FINDING(f, severity::error, "port", "found -1");
  EXPECT_FINDING(f, severity::error, "metrics_port", "found 3000.5");
}

TEST(errors, max_concurrent_requests_is_at_least_one) {
  auto result = parse_config(R"({"models": {"a": {"model_path": "m", "port": 8001,
    "max_concurrent_requests": 0}, "b": {"model_path": "m", "port": 8002,
    "max_concurrent_requests": -3}}})");
  const auto& f = result.findings;
  EXPECT_FINDING(f, severity::error, "models.a.max_concurrent_requests", "must be at least 1");
  EXPECT_FINDING(f, severity::error, "models.b.max_concurrent_requests", "found -3");
}

TEST(models, max_queue_and_idle_ttl_come_from_the_model_else_the_policy) {
  auto result = parse_ok(R"({"models": {
      "a": {"model_path": "m", "port": 8001, "max_queue": 5, "idle_ttl_secs": 60},
      "b": {"model_path": "m", "port": 8002},
      "c": {"model_path": "m", "port": 8003, "max_queue": null}},
    "policy": {"max_queue": 100, "idle_ttl_secs": 600}})");
  const auto& models = result.cfg.models;
  EXPECT_EQ(models[0].max_queue, 5u);
  EXPECT_EQ(models[0].idle_ttl_secs, 60u);
  EXPECT_EQ(models[1].max_queue, 100u);
  EXPECT_EQ(models[1].idle_ttl_secs, 600u);
  EXPECT_EQ(models[2].max_queue, 100u); // null is "not set": the policy's default applies
  auto unset = parse_ok(R"({"models": {"a": {"model_path": "m", "port": 8001}}})");
  EXPECT_EQ(unset.cfg.models[0].max_queue, std::nullopt);
  EXPECT_EQ(unset.cfg.models[0].idle_ttl_secs, std::nullopt);
}

TEST(errors, max_queue_and_idle_ttl_are_at_least_one) {
  auto result = parse_config(R"({"models": {"a": {"model_path": "m", "port": 8001,
    "max_queue": 0, "idle_ttl_secs": 0}}, "policy": {"max_queue": 0, "idle_ttl_secs": -1}})");
  const auto& f = result.findings;
  EXPECT_FINDING(f, severity::error, "models.a.max_queue", "must be at least 1");
  EXPECT_FINDING(f, severity::error, "models.a.idle_ttl_secs", "must be at least 1");
  EXPECT_FINDING(f, severity::error, "policy.max_queue", "must be at least 1");
  EXPECT_FINDING(f, severity::error, "policy.idle_ttl_secs", "found -1");
}

TEST(errors, null_is_not_a_value_for_defaulted_fields) {
  auto result = parse_config(R"({"models": {}, "port": null, "warmup": null})");
  EXPECT_FINDING(result.findings, severity::error, "port", "found null");
  EXPECT_FINDING(result.findings, severity::error, "warmup", "found null");
}

TEST(errors, unknown_policy_lists_the_valid_ones) {
  auto result = parse_config(R"({"models": {}, "policy": {"policy_type": "cost-aware"}})");
  EXPECT_FINDING(result.findings, severity::error, "policy.policy_type",
                 "unknown policy \"cost-aware\" (did you mean \"cost_aware\"?); valid policies: "
                 "fifo, cost_aware, time_slice, cost_quantum");
  EXPECT_FINDING(parse_config(R"({"models": {}, "policy": {"policy_type": "lru"}})").findings,
                 severity::error, "policy.policy_type", "valid policies: fifo, cost_aware");
}

TEST(errors, negative_or_non_finite_amortization) {
  auto result = parse_config(R"({"models": {}, "policy": {"amortization_factor": -0.5}})");
  EXPECT_FINDING(result.findings, severity::error, "policy.amortization_factor", "at least 0");
}

TEST(errors, duplicate_keys_and_model_names) {
  auto result = parse_config(R"({"models": {"a": {"model_path": "m", "port": 8001, "port": 8002},
    "a": {"model_path": "n", "port": 8003}}, "warmup": true, "warmup": false})");
  const auto& f = result.findings;
  EXPECT_FINDING(f, severity::error, "models.a.port", "duplicate key");
  EXPECT_FINDING(f, severity::error, "models.a", "duplicate model name");
  EXPECT_FINDING(f, severity::error, "warmup", "duplicate key");
}

TEST(errors, empty_model_name_and_path) {
  auto result = parse_config(R"({"models": {"": {"model_path": "", "port": 8001}}})");
  EXPECT_FINDING(result.findings, severity::error, "models[\"\"]", "name must not be empty");
  EXPECT_FINDING(result.findings, severity::error, "models[\"\"].model_path", "must not be empty");
}

TEST(errors, every_problem_is_reported_not_just_the_first) {
  auto result = parse_config(R"({"models": {"a": {"port": "x"}}, "port": "y", "warmup": 3})");
  int errors = 0;
  for (const auto& item : result.findings.items()) {
    errors += item.level == severity::error ? 1 : 0;
  }
  EXPECT_EQ(errors, 4) << describe(result.findings);
}

// Unknown keys are warnings, with a suggestion where one is close.

TEST(unknown_keys, warn_with_the_closest_valid_key) {
  auto result = parse_config(R"({"models": {"a": {"model_path": "m", "port": 8001,
    "extra_arg": []}}, "polcy": {}, "max_sleeping": 2, "checkpoint": {"keep_image": true,
    "object_store": {"endpoint": "http://s", "bucket": "bkt", "access_key": "a",
    "secret_key": "b", "regoin": "x"}}})");
  const auto& f = result.findings;
  EXPECT_TRUE(result.ok()) << describe(f);
  EXPECT_FINDING(f, severity::warning, "models.a.extra_arg", "did you mean \"extra_args\"?");
  EXPECT_FINDING(f, severity::warning, "polcy", "did you mean \"policy\"?");
  EXPECT_FINDING(f, severity::warning, "max_sleeping", "unknown key, ignored");
  EXPECT_FINDING(f, severity::warning, "checkpoint.keep_image", "did you mean \"keep_images\"?");
  EXPECT_FINDING(f, severity::warning, "checkpoint.object_store.regoin",
                 "did you mean \"region\"?");
}

TEST(unknown_keys, model_names_with_dots_or_slashes_are_quoted_in_paths) {
  auto result = parse_config(R"({"models": {"org/m-1.5": {"model_path": "m", "port": 8001,
    "prot": 1}}})");
  EXPECT_FINDING(result.findings, severity::warning, "models[\"org/m-1.5\"].prot",
                 "did you mean \"port\"?");
}

} // namespace
} // namespace llmux::config
