#include "config/parse.hpp"

#include <algorithm>
#include <array>
#include <optional>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <simdjson.h>

#include "config/json_fields.hpp"
#include "config/json_location.hpp"
#include "config/suggest.hpp"

namespace llmux::config {

namespace {

using json_fields::as_object;
using json_fields::convert;
using json_fields::key_list;
using json_fields::object_reader;
using json_fields::type_error;
using json_fields::type_name;
namespace dom = simdjson::dom;

constexpr std::array<std::string_view, 15> top_level_keys{"models",       "policy",
                                                          "port",         "metrics_port",
                                                          "admin_port",   "admin_host",
                                                          "admin_token",  "api_keys",
                                                          "vllm_command", "checkpoint",
                                                          "warmup",       "startup_timeout_secs",
                                                          "timeouts",     "gpu_memory_budget_mib",
                                                          "cluster"};
constexpr std::array<std::string_view, 6> cluster_keys{"node_port", "node_host", "name",
                                                       "secret",    "nodes",     "routing"};
constexpr std::array<std::string_view, 3> cluster_node_keys{"name", "host", "node_port"};
constexpr std::array<std::string_view, 14> timeouts_keys{
  "health_interval_ms",       "health_timeout_ms",         "health_misses",
  "drain_timeout_secs",       "sleep_timeout_secs",        "wake_timeout_secs",
  "engine_idle_timeout_secs", "client_write_timeout_secs", "client_idle_timeout_secs",
  "failure_backoff_secs",     "failure_backoff_max_secs",  "checkpoint_timeout_secs",
  "transfer_timeout_secs",    "stream_keepalive_secs"};
constexpr std::array<std::string_view, 10> model_keys{"model_path",      "port",
                                                      "extra_args",      "eviction",
                                                      "checkpoint_path", "max_concurrent_requests",
                                                      "api_keys",        "max_queue",
                                                      "idle_ttl_secs",   "gpu_memory_mib"};
constexpr std::array<std::string_view, 2> eviction_keys{"weights", "process"};
constexpr std::array<std::string_view, 12> policy_keys{
  "policy_type",      "request_timeout_secs", "drain_before_switch", "eviction",
  "min_active_secs",  "coalesce_window_ms",   "amortization_factor", "max_wait_secs",
  "tick_interval_ms", "min_quantum_ms",       "max_queue",           "idle_ttl_secs"};
constexpr std::array<std::string_view, 8> checkpoint_keys{
  "criu_path",   "cuda_plugin_dir", "images_dir",  "cuda_checkpoint_path",
  "keep_images", "object_store",    "kill_strays", "rootfs_dirs"};
constexpr std::array<std::string_view, 5> object_store_keys{"endpoint", "bucket", "access_key",
                                                            "secret_key", "region"};

// The schema's object converters, declared first so that the field templates can find them.
void convert(const dom::element& value, const std::string& path, diagnostics& out,
             eviction_policy& field);
void convert(const dom::element& value, const std::string& path, diagnostics& out,
             object_store_config& field);
void convert(const dom::element& value, const std::string& path, diagnostics& out,
             checkpoint_config& field);
void convert(const dom::element& value, const std::string& path, diagnostics& out,
             policy_config& field);
void convert(const dom::element& value, const std::string& path, diagnostics& out,
             cluster_config& field);
void convert(const dom::element& value, const std::string& path, diagnostics& out,
             timeouts_config& field);

template <class Field>
void read(object_reader& reader, std::string_view key, Field& field) {
  if (auto value = reader.take(key)) {
    convert(*value, reader.path_of(key), reader.out(), field);
  }
}

template <class Field>
void read_required(object_reader& reader, std::string_view key, Field& field) {
  if (auto value = reader.take(key)) {
    convert(*value, reader.path_of(key), reader.out(), field);
  } else {
    reader.out().error(reader.path_of(key), "missing required field");
  }
}

// A nullable field: JSON null (or absence) leaves it empty.
template <class Field>
void read_optional(object_reader& reader, std::string_view key, std::optional<Field>& field) {
  auto value = reader.take(key);
  if (!value || value->is_null()) {
    return;
  }
  Field inner{};
  convert(*value, reader.path_of(key), reader.out(), inner);
  field = std::move(inner);
}

// An optional limit or duration: absent or null for none, else at least 1.
void read_at_least_one(object_reader& reader, std::string_view key,
                       std::optional<std::uint64_t>& field) {
  read_optional(reader, key, field);
  if (field == 0u) {
    reader.out().error(reader.path_of(key), "must be at least 1; leave it out (or null) for none");
  }
}

template <class Fill>
void read_object(const dom::element& value, const std::string& path, diagnostics& out,
                 key_list known, Fill fill) {
  if (auto object = as_object(value, path, out)) {
    object_reader reader(*object, path, known, out);
    fill(reader);
  }
}

template <class Enum>
void read_enum(object_reader& reader, std::string_view key, Enum& field,
               std::optional<Enum> (*parse)(std::string_view), std::string_view valid) {
  auto value = reader.take(key);
  if (!value) {
    reader.out().error(reader.path_of(key), "missing required field");
    return;
  }
  std::string text;
  diagnostics local;
  convert(*value, reader.path_of(key), local, text);
  if (local.has_errors()) {
    type_error(reader.out(), reader.path_of(key), "a string", *value);
  } else if (auto parsed_value = parse(text)) {
    field = *parsed_value;
  } else {
    reader.out().error(reader.path_of(key),
                       fmt::format("unknown value \"{}\"; expected one of {}", text, valid));
  }
}

// An eviction is an object {weights, process}, the compact string "weights+process", or one of
// the reference's legacy levels 1-5.
void convert(const dom::element& value, const std::string& path, diagnostics& out,
             eviction_policy& field) {
  if (value.is_object()) {
    read_object(value, path, out, eviction_keys, [&](object_reader& reader) {
      read_enum(reader, "weights", field.weights, &parse_weight_strategy,
                "retain, offload, discard");
      read_enum(reader, "process", field.process, &parse_process_strategy,
                "keep_running, cuda_suspend, checkpoint, stop");
    });
  } else if (value.is_int64() || value.is_uint64()) {
    std::int64_t level = 0;
    auto legacy = value.get_int64().get(level) ? std::nullopt : eviction_from_level(level);
    if (!legacy) {
      out.error(path, fmt::format("legacy eviction level must be 1 to 5, found {}",
                                  simdjson::minify(value)));
      return;
    }
    field = *legacy;
  } else if (value.is_string()) {
    std::string spec;
    convert(value, path, out, spec);
    auto policy = parse_eviction_spec(spec);
    if (!policy) {
      out.error(path, policy.error());
      return;
    }
    field = *policy;
  } else {
    type_error(out, path, "an object {\"weights\", \"process\"}", value);
  }
}

void convert(const dom::element& value, const std::string& path, diagnostics& out,
             object_store_config& field) {
  read_object(value, path, out, object_store_keys, [&](object_reader& reader) {
    read_required(reader, "endpoint", field.endpoint);
    read_required(reader, "bucket", field.bucket);
    read_required(reader, "access_key", field.access_key);
    read_required(reader, "secret_key", field.secret_key);
    read(reader, "region", field.region);
  });
}

void convert(const dom::element& value, const std::string& path, diagnostics& out,
             checkpoint_config& field) {
  read_object(value, path, out, checkpoint_keys, [&](object_reader& reader) {
    read(reader, "criu_path", field.criu_path);
    read(reader, "cuda_plugin_dir", field.cuda_plugin_dir);
    read(reader, "images_dir", field.images_dir);
    read(reader, "cuda_checkpoint_path", field.cuda_checkpoint_path);
    read(reader, "keep_images", field.keep_images);
    read_optional(reader, "object_store", field.object_store);
    read(reader, "kill_strays", field.kill_strays);
    read(reader, "rootfs_dirs", field.rootfs_dirs);
  });
}

void convert(const dom::element& value, const std::string& path, diagnostics& out,
             cluster_node& field) {
  read_object(value, path, out, cluster_node_keys, [&](object_reader& reader) {
    read_required(reader, "name", field.name);
    read(reader, "host", field.host);
    read_required(reader, "node_port", field.node_port);
  });
}

void read_nodes(object_reader& reader, std::vector<cluster_node>& nodes) {
  auto value = reader.take("nodes");
  if (!value) {
    return;
  }
  auto path = reader.path_of("nodes");
  dom::array array;
  if (value->get_array().get(array)) {
    type_error(reader.out(), path, "an array of nodes", *value);
    return;
  }
  std::size_t index = 0;
  for (auto item : array) {
    cluster_node node;
    convert(item, fmt::format("{}[{}]", path, index++), reader.out(), node);
    nodes.push_back(std::move(node));
  }
}

void convert(const dom::element& value, const std::string& path, diagnostics& out,
             cluster_config& field) {
  read_object(value, path, out, cluster_keys, [&](object_reader& reader) {
    read_optional(reader, "node_port", field.node_port);
    read(reader, "node_host", field.node_host);
    read_optional(reader, "name", field.name);
    read_optional(reader, "secret", field.secret);
    read_nodes(reader, field.nodes);
    read(reader, "routing", field.routing);
  });
}

void read_policy_type(object_reader& reader, std::string& field) {
  auto value = reader.take("policy_type");
  if (!value) {
    return;
  }
  std::string text;
  auto path = reader.path_of("policy_type");
  diagnostics local;
  convert(*value, path, local, text);
  if (local.has_errors()) {
    type_error(reader.out(), path, "a string", *value);
    return;
  }
  if (std::find(policy_types.begin(), policy_types.end(), text) == policy_types.end()) {
    auto hint = closest_match(text, policy_types);
    reader.out().error(
      path, fmt::format("unknown policy \"{}\"{}; valid policies: {}", text,
                        hint ? fmt::format(" (did you mean \"{}\"?)", *hint) : std::string{},
                        fmt::join(policy_types, ", ")));
    return;
  }
  field = std::move(text);
}

void convert(const dom::element& value, const std::string& path, diagnostics& out,
             policy_config& field) {
  read_object(value, path, out, policy_keys, [&](object_reader& reader) {
    read_policy_type(reader, field.policy_type);
    read(reader, "request_timeout_secs", field.request_timeout_secs);
    read(reader, "drain_before_switch", field.drain_before_switch);
    read(reader, "eviction", field.eviction);
    read(reader, "min_active_secs", field.min_active_secs);
    read(reader, "coalesce_window_ms", field.coalesce_window_ms);
    read(reader, "amortization_factor", field.amortization_factor);
    read(reader, "max_wait_secs", field.max_wait_secs);
    read(reader, "tick_interval_ms", field.tick_interval_ms);
    read(reader, "min_quantum_ms", field.min_quantum_ms);
    read_at_least_one(reader, "max_queue", field.max_queue);
    read_at_least_one(reader, "idle_ttl_secs", field.idle_ttl_secs);
  });
}

void convert(const dom::element& value, const std::string& path, diagnostics& out,
             timeouts_config& field) {
  read_object(value, path, out, timeouts_keys, [&](object_reader& reader) {
    read(reader, "health_interval_ms", field.health_interval_ms);
    read(reader, "health_timeout_ms", field.health_timeout_ms);
    read(reader, "health_misses", field.health_misses);
    read(reader, "drain_timeout_secs", field.drain_timeout_secs);
    read(reader, "sleep_timeout_secs", field.sleep_timeout_secs);
    read(reader, "wake_timeout_secs", field.wake_timeout_secs);
    read(reader, "engine_idle_timeout_secs", field.engine_idle_timeout_secs);
    read(reader, "client_write_timeout_secs", field.client_write_timeout_secs);
    read(reader, "client_idle_timeout_secs", field.client_idle_timeout_secs);
    read(reader, "failure_backoff_secs", field.failure_backoff_secs);
    read(reader, "failure_backoff_max_secs", field.failure_backoff_max_secs);
    read(reader, "checkpoint_timeout_secs", field.checkpoint_timeout_secs);
    read(reader, "transfer_timeout_secs", field.transfer_timeout_secs);
    read(reader, "stream_keepalive_secs", field.stream_keepalive_secs);
  });
}

// A model as written, before the policy fills in what it does not name.
struct model_entry {
  model_config model;
  std::optional<eviction_policy> eviction;
};

model_entry read_model(std::string_view name, const dom::element& value, const std::string& path,
                       diagnostics& out) {
  model_entry entry;
  entry.model.name = name;
  if (name.empty()) {
    out.error(path, "model name must not be empty");
  }
  auto object = as_object(value, path, out);
  if (!object) {
    return entry;
  }
  object_reader reader(*object, path, model_keys, out);
  // Range checks apply only to values that were read: a missing or mistyped field is
  // reported once, by the reader.
  auto findings_before = out.items().size();
  read_required(reader, "model_path", entry.model.model_path);
  if (out.items().size() == findings_before && entry.model.model_path.empty()) {
    out.error(member_path(path, "model_path"), "must not be empty");
  }
  findings_before = out.items().size();
  read_required(reader, "port", entry.model.port);
  if (out.items().size() == findings_before && entry.model.port == 0) {
    out.error(member_path(path, "port"), "a model's port must be from 1 to 65535");
  }
  read(reader, "extra_args", entry.model.extra_args);
  read(reader, "api_keys", entry.model.api_keys);
  read_optional(reader, "eviction", entry.eviction);
  read_optional(reader, "checkpoint_path", entry.model.checkpoint_path);
  read_at_least_one(reader, "max_concurrent_requests", entry.model.max_concurrent_requests);
  read_at_least_one(reader, "max_queue", entry.model.max_queue);
  read_at_least_one(reader, "idle_ttl_secs", entry.model.idle_ttl_secs);
  read_at_least_one(reader, "gpu_memory_mib", entry.model.gpu_memory_mib);
  return entry;
}

// A gateway's file lists nodes instead: for it, models are optional (and refused when given,
// by validation).
std::vector<model_entry> read_models(object_reader& top, bool gateway) {
  std::vector<model_entry> entries;
  auto value = top.take("models");
  if (!value) {
    if (!gateway) {
      top.out().error("models", "missing required field");
    }
    return entries;
  }
  auto object = as_object(*value, "models", top.out());
  if (!object) {
    return entries;
  }
  std::vector<std::string_view> names;
  for (auto [name, model] : *object) {
    auto path = member_path("models", name);
    if (std::find(names.begin(), names.end(), name) != names.end()) {
      top.out().error(path, "duplicate model name; each model may appear only once");
      continue;
    }
    names.push_back(name);
    entries.push_back(read_model(name, model, path, top.out()));
  }
  return entries;
}

void read_document(const dom::element& root, load_result& result) {
  auto& out = result.findings;
  auto& cfg = result.cfg;
  dom::object object;
  if (root.get_object().get(object)) {
    out.error("",
              fmt::format("the configuration must be a JSON object, found {}", type_name(root)));
    return;
  }
  result.document_read = true;
  object_reader top(object, "", top_level_keys, out);
  read_optional(top, "cluster", cfg.cluster);
  auto entries = read_models(top, cfg.cluster && cfg.cluster->gateway());
  read(top, "policy", cfg.policy);
  read(top, "port", cfg.port);
  read(top, "metrics_port", cfg.metrics_port);
  read_optional(top, "admin_port", cfg.admin_port);
  read(top, "admin_host", cfg.admin_host);
  read_optional(top, "admin_token", cfg.admin_token);
  read(top, "api_keys", cfg.api_keys);
  read(top, "vllm_command", cfg.vllm_command);
  read_optional(top, "checkpoint", cfg.checkpoint);
  read(top, "warmup", cfg.warmup);
  read(top, "startup_timeout_secs", cfg.startup_timeout_secs);
  read(top, "timeouts", cfg.timeouts);
  read_at_least_one(top, "gpu_memory_budget_mib", cfg.gpu_memory_budget_mib);
  for (auto& entry : entries) {
    entry.model.eviction = entry.eviction.value_or(cfg.policy.eviction);
    if (!entry.model.max_queue) {
      entry.model.max_queue = cfg.policy.max_queue;
    }
    if (!entry.model.idle_ttl_secs) {
      entry.model.idle_ttl_secs = cfg.policy.idle_ttl_secs;
    }
    cfg.models.push_back(std::move(entry.model));
  }
}

} // namespace

load_result parse_config(std::string_view json_text) {
  load_result result;
  dom::parser parser;
  dom::element root;
  if (auto err = parser.parse(json_text.data(), json_text.size()).get(root)) {
    std::string where = "(document)";
    if (auto offset = locate_syntax_error(json_text)) {
      auto position = position_of(json_text, *offset);
      where = fmt::format("line {}, column {}", position.line, position.column);
    }
    result.findings.error(where,
                          fmt::format("JSON syntax error: {}", simdjson::error_message(err)));
    return result;
  }
  read_document(root, result);
  return result;
}

} // namespace llmux::config
