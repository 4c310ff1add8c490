#include "config/print.hpp"

#include <optional>
#include <type_traits>
#include <vector>

#include "config/json_writer.hpp"

namespace llmux::config {

namespace {

constexpr std::string_view masked_secret = "********";

template <class T>
constexpr bool is_optional = false;

template <class T>
constexpr bool is_optional<std::optional<T>> = true;

template <class T>
constexpr bool is_vector = false;

template <class T>
constexpr bool is_vector<std::vector<T>> = true;

template <class T>
void write_value(json_writer& out, const T& value);

template <class T>
void put(json_writer& out, std::string_view key, const T& value) {
  out.key(key);
  write_value(out, value);
}

// Secrets are never printed: each key shows as the mask.
std::vector<std::string> masked(const std::vector<std::string>& keys) {
  return std::vector<std::string>(keys.size(), std::string(masked_secret));
}

void write_object(json_writer& out, const eviction_policy& eviction) {
  put(out, "weights", to_string(eviction.weights));
  put(out, "process", to_string(eviction.process));
}

void write_object(json_writer& out, const model_config& model) {
  put(out, "model_path", model.model_path);
  put(out, "port", model.port);
  put(out, "extra_args", model.extra_args);
  put(out, "api_keys", masked(model.api_keys));
  put(out, "eviction", model.eviction);
  put(out, "checkpoint_path", model.checkpoint_path);
  put(out, "max_concurrent_requests", model.max_concurrent_requests);
  put(out, "max_queue", model.max_queue);
  put(out, "idle_ttl_secs", model.idle_ttl_secs);
  put(out, "gpu_memory_mib", model.gpu_memory_mib);
}

void write_object(json_writer& out, const policy_config& policy) {
  put(out, "policy_type", policy.policy_type);
  put(out, "request_timeout_secs", policy.request_timeout_secs);
  put(out, "drain_before_switch", policy.drain_before_switch);
  put(out, "eviction", policy.eviction);
  put(out, "min_active_secs", policy.min_active_secs);
  put(out, "coalesce_window_ms", policy.coalesce_window_ms);
  put(out, "amortization_factor", policy.amortization_factor);
  put(out, "max_wait_secs", policy.max_wait_secs);
  put(out, "tick_interval_ms", policy.tick_interval_ms);
  put(out, "min_quantum_ms", policy.min_quantum_ms);
  put(out, "max_queue", policy.max_queue);
  put(out, "idle_ttl_secs", policy.idle_ttl_secs);
}

void write_object(json_writer& out, const timeouts_config& timeouts) {
  put(out, "health_interval_ms", timeouts.health_interval_ms);
  put(out, "health_timeout_ms", timeouts.health_timeout_ms);
  put(out, "health_misses", timeouts.health_misses);
  put(out, "drain_timeout_secs", timeouts.drain_timeout_secs);
  put(out, "sleep_timeout_secs", timeouts.sleep_timeout_secs);
  put(out, "wake_timeout_secs", timeouts.wake_timeout_secs);
  put(out, "engine_idle_timeout_secs", timeouts.engine_idle_timeout_secs);
  put(out, "client_write_timeout_secs", timeouts.client_write_timeout_secs);
  put(out, "client_idle_timeout_secs", timeouts.client_idle_timeout_secs);
  put(out, "failure_backoff_secs", timeouts.failure_backoff_secs);
  put(out, "failure_backoff_max_secs", timeouts.failure_backoff_max_secs);
  put(out, "checkpoint_timeout_secs", timeouts.checkpoint_timeout_secs);
  put(out, "transfer_timeout_secs", timeouts.transfer_timeout_secs);
  put(out, "stream_keepalive_secs", timeouts.stream_keepalive_secs);
}

void write_object(json_writer& out, const object_store_config& store) {
  put(out, "endpoint", store.endpoint);
  put(out, "bucket", store.bucket);
  put(out, "access_key", store.access_key);
  put(out, "secret_key", masked_secret);
  put(out, "region", store.region);
}

void write_object(json_writer& out, const checkpoint_config& checkpoint) {
  put(out, "criu_path", checkpoint.criu_path);
  put(out, "cuda_plugin_dir", checkpoint.cuda_plugin_dir);
  put(out, "images_dir", checkpoint.images_dir);
  put(out, "cuda_checkpoint_path", checkpoint.cuda_checkpoint_path);
  put(out, "keep_images", checkpoint.keep_images);
  put(out, "object_store", checkpoint.object_store);
  put(out, "kill_strays", checkpoint.kill_strays);
  put(out, "rootfs_dirs", checkpoint.rootfs_dirs);
}

void write_object(json_writer& out, const cluster_config& cluster) {
  put(out, "node_port", cluster.node_port);
  put(out, "node_host", cluster.node_host);
  put(out, "name", cluster.name);
  put(out, "secret", cluster.secret ? std::optional<std::string>(masked_secret) : std::nullopt);
  put(out, "nodes", cluster.nodes);
  put(out, "routing", cluster.routing);
}

void write_object(json_writer& out, const cluster_node& node) {
  put(out, "name", node.name);
  put(out, "host", node.host);
  put(out, "node_port", node.node_port);
}

void write_object(json_writer& out, const config& cfg) {
  out.key("models");
  out.begin_object();
  for (const auto& model : cfg.models) {
    put(out, model.name, model);
  }
  out.end_object();
  put(out, "policy", cfg.policy);
  put(out, "port", cfg.port);
  put(out, "metrics_port", cfg.metrics_port);
  put(out, "admin_port", cfg.admin_port);
  put(out, "admin_host", cfg.admin_host);
  put(out, "api_keys", masked(cfg.api_keys));
  if (cfg.admin_token) {
    put(out, "admin_token", masked_secret);
  } else {
    out.key("admin_token");
    out.null();
  }
  put(out, "vllm_command", cfg.vllm_command);
  put(out, "checkpoint", cfg.checkpoint);
  put(out, "warmup", cfg.warmup);
  put(out, "startup_timeout_secs", cfg.startup_timeout_secs);
  put(out, "timeouts", cfg.timeouts);
  put(out, "gpu_memory_budget_mib", cfg.gpu_memory_budget_mib);
  put(out, "cluster", cfg.cluster);
}

// One JSON value for each kind of field; structs go through their `write_object`.
template <class T>
void write_value(json_writer& out, const T& value) {
  if constexpr (std::is_same_v<T, bool>) {
    out.boolean(value);
  } else if constexpr (std::is_integral_v<T>) {
    out.integer(value);
  } else if constexpr (std::is_floating_point_v<T>) {
    out.real(value);
  } else if constexpr (std::is_convertible_v<const T&, std::string_view>) {
    out.string(value);
  } else if constexpr (is_optional<T>) {
    if (value) {
      write_value(out, *value);
    } else {
      out.null();
    }
  } else if constexpr (is_vector<T>) {
    out.begin_array();
    for (const auto& item : value) {
      write_value(out, item);
    }
    out.end_array();
  } else {
    out.begin_object();
    write_object(out, value);
    out.end_object();
  }
}

} // namespace

std::string to_json(const config& cfg) {
  json_writer out;
  write_value(out, cfg);
  return out.str() + "\n";
}

} // namespace llmux::config
