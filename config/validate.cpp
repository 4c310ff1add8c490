#include "config/validate.hpp"

#include <algorithm>
#include <cctype>
#include <optional>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>

namespace llmux::config {

std::string model_path_of(const model_config& model, std::string_view field) {
  auto base = member_path("models", model.name);
  return field.empty() ? base : member_path(base, field);
}

namespace {

// Every listener llmux opens and every engine port must be distinct.
void check_ports(const config& cfg, diagnostics& out) {
  std::vector<std::pair<std::uint16_t, std::string>> taken;
  auto claim = [&](std::uint16_t port, std::string owner) {
    if (port == 0) {
      return;
    }
    for (const auto& [other_port, other_owner] : taken) {
      if (other_port == port) {
        out.error(owner, fmt::format("port {} is already used by {}", port, other_owner));
        return;
      }
    }
    taken.emplace_back(port, std::move(owner));
  };
  claim(cfg.port, "port");
  claim(cfg.metrics_port, "metrics_port");
  if (cfg.admin_port) {
    claim(*cfg.admin_port, "admin_port");
  }
  if (cfg.cluster && cfg.cluster->node_port) {
    claim(*cfg.cluster->node_port, "cluster.node_port");
  }
  for (const auto& model : cfg.models) {
    claim(model.port, model_path_of(model, "port"));
  }
}

// The names `--served-model-name` gives (vLLM: one or more, up to the next option) when
// extra_args[at] is that flag.
std::optional<std::vector<std::string_view>> served_names_at(const model_config& model,
                                                             std::size_t at) {
  constexpr std::string_view flag = "--served-model-name";
  std::string_view arg = model.extra_args[at];
  if (arg.starts_with(flag) && arg.size() > flag.size() && arg[flag.size()] == '=') {
    return std::vector<std::string_view>{arg.substr(flag.size() + 1)};
  }
  if (arg != flag) {
    return std::nullopt;
  }
  std::vector<std::string_view> names;
  for (auto i = at + 1; i < model.extra_args.size() && !model.extra_args[i].starts_with("--");
       ++i) {
    names.emplace_back(model.extra_args[i]);
  }
  return names;
}

void check_engine_arguments(const model_config& model, diagnostics& out) {
  for (std::size_t i = 0; i < model.extra_args.size(); ++i) {
    std::string_view arg = model.extra_args[i];
    auto where = fmt::format("{}[{}]", model_path_of(model, "extra_args"), i);
    if (arg == "--port" || arg.starts_with("--port=")) {
      out.error(where,
                "llmux sets the engine's port from the model's \"port\"; remove --port here");
    }
    // Requests reach the engine with their model rewritten to model_path: the engine must
    // serve that name, or it answers every one of them 404.
    auto names = served_names_at(model, i);
    if (names && std::find(names->begin(), names->end(), model.model_path) == names->end()) {
      out.error(where, fmt::format("the engine would serve only [{}], but llmux asks it for "
                                   "\"{}\" (the model_path): add it to the names or remove "
                                   "--served-model-name",
                                   fmt::join(*names, ", "), model.model_path));
    }
  }
}

// CUDA graphs and custom all-reduce buffers do not survive cuda-checkpoint at TP > 1.
void check_tensor_parallel_flags(const model_config& model, diagnostics& out) {
  auto tp = tensor_parallel_size(model);
  if (!model.eviction.needs_cuda_checkpoint() || tp <= 1) {
    return;
  }
  auto has = [&](std::string_view flag) {
    return std::find(model.extra_args.begin(), model.extra_args.end(), flag)
           != model.extra_args.end();
  };
  auto path = model_path_of(model, "extra_args");
  auto strategy = to_string(model.eviction.process);
  if (!has("--enforce-eager")) {
    out.warning(path, fmt::format("{} at tensor-parallel size {} without --enforce-eager: CUDA "
                                  "graphs keep stale NCCL handles and crash on resume",
                                  strategy, tp));
  }
  if (!has("--disable-custom-all-reduce")) {
    out.warning(path, fmt::format("{} at tensor-parallel size {} without "
                                  "--disable-custom-all-reduce: custom all-reduce IPC buffers "
                                  "cannot survive cuda-checkpoint",
                                  strategy, tp));
  }
}

void check_checkpointing(const config& cfg, const model_config& model,
                         const path_probe& path_exists, diagnostics& out) {
  if (model.eviction.needs_cuda_checkpoint() && !cfg.checkpoint) {
    out.error(model_path_of(model, "eviction"),
              fmt::format("eviction {} needs the top-level \"checkpoint\" section (paths of "
                          "cuda-checkpoint, criu and the images directory)",
                          to_spec(model.eviction)));
  }
  if (!model.checkpoint_path) {
    return;
  }
  auto path = model_path_of(model, "checkpoint_path");
  bool has_object_store = cfg.checkpoint && cfg.checkpoint->object_store;
  if (!path_exists(*model.checkpoint_path)) {
    if (has_object_store) {
      out.note(path, fmt::format("{} does not exist locally; it will be downloaded from the "
                                 "object store on the first request",
                                 *model.checkpoint_path));
    } else {
      out.error(path, fmt::format("{} does not exist; remove checkpoint_path or create the "
                                  "checkpoint first",
                                  *model.checkpoint_path));
    }
  }
  if (!cfg.checkpoint) {
    out.error(path, "checkpoint_path is set but the top-level \"checkpoint\" section is missing");
  }
}

bool is_valid_bucket_name(std::string_view name) {
  auto edge_ok = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  return name.size() >= 3 && name.size() <= 63 && edge_ok(name.front()) && edge_ok(name.back())
         && std::all_of(name.begin(), name.end(),
                        [&](char c) { return edge_ok(c) || c == '-' || c == '.'; });
}

void check_object_store(const object_store_config& store, diagnostics& out) {
  const std::string base = "checkpoint.object_store";
  if (!store.endpoint.starts_with("http://") && !store.endpoint.starts_with("https://")) {
    out.error(base + ".endpoint",
              fmt::format("expected an http:// or https:// URL, found \"{}\"", store.endpoint));
  }
  if (!is_valid_bucket_name(store.bucket)) {
    out.error(base + ".bucket",
              fmt::format("\"{}\" is not a valid S3 bucket name (3 to 63 characters: lowercase "
                          "letters, digits, '-' and '.', starting and ending with a letter or "
                          "digit)",
                          store.bucket));
  }
  if (store.access_key.empty()) {
    out.error(base + ".access_key", "must not be empty");
  }
  if (store.secret_key.empty()) {
    out.error(base + ".secret_key", "must not be empty");
  }
  if (store.region.empty()) {
    out.error(base + ".region", "must not be empty");
  }
}

void check_scalars(const config& cfg, diagnostics& out) {
  bool gateway = cfg.cluster && cfg.cluster->gateway();
  if (gateway && !cfg.models.empty()) {
    out.error("models", "a gateway serves the models of its nodes: list models in the nodes' "
                        "files, not in the gateway's");
  } else if (cfg.models.empty() && !gateway) {
    out.warning("models", "no models are configured; every request will be answered 404");
  }
  if (cfg.vllm_command.empty()) {
    out.error("vllm_command", "must not be empty");
  }
  if (cfg.startup_timeout_secs == 0) {
    out.error("startup_timeout_secs", "must be at least 1");
  }
  const auto& timeouts = cfg.timeouts;
  for (auto [value, name] : {std::pair{timeouts.health_interval_ms, "health_interval_ms"},
                             {timeouts.health_timeout_ms, "health_timeout_ms"},
                             {timeouts.health_misses, "health_misses"},
                             {timeouts.drain_timeout_secs, "drain_timeout_secs"},
                             {timeouts.sleep_timeout_secs, "sleep_timeout_secs"},
                             {timeouts.wake_timeout_secs, "wake_timeout_secs"},
                             {timeouts.engine_idle_timeout_secs, "engine_idle_timeout_secs"},
                             {timeouts.client_write_timeout_secs, "client_write_timeout_secs"},
                             {timeouts.client_idle_timeout_secs, "client_idle_timeout_secs"},
                             {timeouts.failure_backoff_secs, "failure_backoff_secs"},
                             {timeouts.checkpoint_timeout_secs, "checkpoint_timeout_secs"},
                             {timeouts.transfer_timeout_secs, "transfer_timeout_secs"}}) {
    if (value == 0) {
      out.error(fmt::format("timeouts.{}", name), "must be at least 1");
    }
  }
  if (timeouts.failure_backoff_max_secs < timeouts.failure_backoff_secs) {
    out.error(
      "timeouts.failure_backoff_max_secs",
      fmt::format("must be at least failure_backoff_secs ({})", timeouts.failure_backoff_secs));
  }
  if (cfg.policy.tick_interval_ms == 0) {
    out.error("policy.tick_interval_ms", "must be at least 1");
  }
  auto check_keys = [&out](const std::vector<std::string>& keys, const std::string& path) {
    if (std::any_of(keys.begin(), keys.end(), [](const std::string& key) { return key.empty(); })) {
      out.error(path, "an API key must not be empty");
    }
  };
  check_keys(cfg.api_keys, "api_keys");
  for (const auto& model : cfg.models) {
    check_keys(model.api_keys, model_path_of(model, "api_keys"));
  }
  if (cfg.admin_token && cfg.admin_token->empty()) {
    out.error("admin_token", "must not be empty (leave it out for no token)");
  }
  bool loopback = cfg.admin_host == default_admin_host || cfg.admin_host == "::1";
  if (cfg.admin_port && !loopback && !cfg.admin_token) {
    out.warning("admin_host",
                fmt::format("the admin API listens on {} without admin_token: anyone who reaches "
                            "it can switch models (unless LLMUX_ADMIN_TOKEN is set)",
                            cfg.admin_host));
  }
}

// The secret may also come from the environment (LLMUX_CLUSTER_SECRET), which the daemon
// checks when it starts; here only what the file says.
void check_cluster(const cluster_config& cluster, diagnostics& out) {
  if (!cluster.node_port && !cluster.gateway()) {
    out.warning("cluster", "without node_port or nodes this llmux is neither a node nor a "
                           "gateway: nothing reads the rest");
  }
  if (cluster.node_port && cluster.gateway()) {
    out.error("cluster.nodes", "a gateway is no node itself: give node_port or nodes, not both");
  }
  if (std::find(routing_names.begin(), routing_names.end(), cluster.routing)
      == routing_names.end()) {
    out.error("cluster.routing", fmt::format("unknown routing \"{}\"; valid: {}", cluster.routing,
                                             fmt::join(routing_names, ", ")));
  }
  for (std::size_t i = 0; i < cluster.nodes.size(); ++i) {
    const auto& node = cluster.nodes[i];
    auto path = fmt::format("cluster.nodes[{}]", i);
    if (node.name.empty()) {
      out.error(path + ".name", "must not be empty");
    }
    if (node.host.empty()) {
      out.error(path + ".host", "must not be empty");
    }
    if (node.node_port == 0) {
      out.error(path + ".node_port", "must be a port (1-65535)");
    }
    for (std::size_t j = 0; j < i; ++j) {
      if (!node.name.empty() && cluster.nodes[j].name == node.name) {
        out.error(path + ".name", fmt::format("\"{}\" names nodes[{}] already", node.name, j));
      }
      if (cluster.nodes[j].host == node.host && cluster.nodes[j].node_port == node.node_port) {
        out.error(path, fmt::format("{}:{} is nodes[{}] already", node.host, node.node_port, j));
      }
    }
  }
  if (cluster.node_host.empty()) {
    out.error("cluster.node_host", "must not be empty");
  }
  if (cluster.secret && cluster.secret->empty()) {
    out.error("cluster.secret", "must not be empty (leave it out to take LLMUX_CLUSTER_SECRET)");
  }
  if (cluster.name && cluster.name->empty()) {
    out.error("cluster.name", "must not be empty (leave it out for the host name)");
  }
}

// What can be told without the GPU: a declared footprint larger than the budget, or one that
// plans nothing.
void check_footprint(const config& cfg, const model_config& model, diagnostics& out) {
  if (!model.gpu_memory_mib) {
    return;
  }
  auto path = model_path_of(model, "gpu_memory_mib");
  if (!cfg.gpu_memory_budget_mib) {
    out.warning(path, "has no effect without gpu_memory_budget_mib");
  } else if (*model.gpu_memory_mib > *cfg.gpu_memory_budget_mib) {
    out.error(path, fmt::format("model {} needs {} MiB, more than gpu_memory_budget_mib ({} MiB)",
                                model.name, *model.gpu_memory_mib, *cfg.gpu_memory_budget_mib));
  }
}

} // namespace

void validate_config(const config& cfg, const path_probe& path_exists, diagnostics& out) {
  check_scalars(cfg, out);
  check_ports(cfg, out);
  for (const auto& model : cfg.models) {
    check_engine_arguments(model, out);
    check_tensor_parallel_flags(model, out);
    check_checkpointing(cfg, model, path_exists, out);
    check_footprint(cfg, model, out);
    if (model.eviction.frees_nothing() && cfg.models.size() > 1) {
      out.warning(model_path_of(model, "eviction"),
                  "retain+keep_running frees no GPU memory when this model is evicted; the next "
                  "model may not fit");
    }
  }
  if (cfg.checkpoint && cfg.checkpoint->object_store) {
    check_object_store(*cfg.checkpoint->object_store, out);
  }
  if (cfg.cluster) {
    check_cluster(*cfg.cluster, out);
  }
  if (cfg.checkpoint) {
    for (const auto& dir : cfg.checkpoint->rootfs_dirs) {
      if (!dir.starts_with('/') || dir == "/") {
        out.error("checkpoint.rootfs_dirs",
                  fmt::format("\"{}\" is not an absolute path below /", dir));
      }
    }
  }
}

} // namespace llmux::config
