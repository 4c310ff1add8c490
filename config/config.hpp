#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/eviction.hpp"

namespace llmux::config {

// Defaults: the same values as the reference implementation (spec §1.2–§1.7).
inline constexpr std::uint16_t default_port = 3000;
inline constexpr std::uint16_t default_metrics_port = 9090;
inline constexpr std::string_view default_admin_host = "127.0.0.1";
inline constexpr std::string_view default_vllm_command = "vllm";
inline constexpr std::uint64_t default_startup_timeout_secs = 1800;
inline constexpr std::string_view default_policy_type = "fifo";
inline constexpr std::uint64_t default_request_timeout_secs = 300;
inline constexpr bool default_drain_before_switch = true;
inline constexpr std::uint64_t default_min_active_secs = 5;
inline constexpr std::uint64_t default_coalesce_window_ms = 2000;
inline constexpr double default_amortization_factor = 0.5;
inline constexpr std::uint64_t default_max_wait_secs = 15;
inline constexpr std::uint64_t default_tick_interval_ms = 500;
inline constexpr std::uint64_t default_min_quantum_ms = 2000;
inline constexpr std::string_view default_criu_path = "criu";
inline constexpr std::string_view default_cuda_plugin_dir = "/usr/lib/criu/";
inline constexpr std::string_view default_images_dir = "/tmp/llmux-checkpoints";
inline constexpr std::string_view default_cuda_checkpoint_path = "cuda-checkpoint";
inline constexpr bool default_keep_images = true;
inline constexpr std::string_view default_region = "us-east-1";

// Defaults of the `timeouts` object (not in the reference, which has no such bounds).
inline constexpr std::uint64_t default_health_interval_ms = 2000;
inline constexpr std::uint64_t default_health_timeout_ms = 5000;
inline constexpr std::uint64_t default_health_misses = 3;
inline constexpr std::uint64_t default_drain_timeout_secs = 600;
inline constexpr std::uint64_t default_engine_idle_timeout_secs = 600;
inline constexpr std::uint64_t default_client_write_timeout_secs = 120;
inline constexpr std::uint64_t default_client_idle_timeout_secs = 60;
inline constexpr std::uint64_t default_sleep_timeout_secs = 120;
inline constexpr std::uint64_t default_wake_timeout_secs = 120;
inline constexpr std::uint64_t default_failure_backoff_secs = 2;
inline constexpr std::uint64_t default_failure_backoff_max_secs = 120;
inline constexpr std::uint64_t default_checkpoint_timeout_secs = 900;
inline constexpr std::uint64_t default_transfer_timeout_secs = 3600;
inline constexpr std::uint64_t default_stream_keepalive_secs = 15;

/// The switch policies `policy.policy_type` may name.
inline constexpr std::array<std::string_view, 4> policy_types{"fifo", "cost_aware", "time_slice",
                                                              "cost_quantum"};

/// An S3-compatible store that keeps checkpoint images (`checkpoint.object_store`).
struct object_store_config {
  std::string endpoint;
  std::string bucket;
  std::string access_key;
  std::string secret_key;
  std::string region{default_region};

  friend bool operator==(const object_store_config&, const object_store_config&) = default;
};

/// Paths of the checkpoint tools and images (`checkpoint`).
struct checkpoint_config {
  std::string criu_path{default_criu_path};
  std::string cuda_plugin_dir{default_cuda_plugin_dir};
  std::string images_dir{default_images_dir};
  std::string cuda_checkpoint_path{default_cuda_checkpoint_path};
  bool keep_images = default_keep_images;
  std::optional<object_store_config> object_store;
  /// Before a wake, processes that hold GPU memory and that llmux did not start are reported;
  /// with this set they are also killed (SIGKILL), one by one.
  bool kill_strays = false;
  /// Directories of files an engine keeps open that live outside its process (JIT caches):
  /// copied into the images after a dump and back before a restore, so that an image restores
  /// in another container of the same image. Absolute paths.
  std::vector<std::string> rootfs_dirs{"/root/.cache/flashinfer", "/root/.cache/tvm-ffi",
                                       "/root/.triton/cache"};

  friend bool operator==(const checkpoint_config&, const checkpoint_config&) = default;
};

/// One model that llmux serves (`models.<name>`).
struct model_config {
  /// The public name clients put in the request's `model` field (the key in `models`).
  std::string name;
  /// Hugging Face id or local path, given to `vllm serve` and written into forwarded bodies.
  std::string model_path;
  /// Port of this model's engine on the loopback interface.
  std::uint16_t port = 0;
  /// Appended verbatim to the engine's command line.
  std::vector<std::string> extra_args;
  /// The model's own `eviction`, or `policy.eviction` when it names none.
  eviction_policy eviction;
  /// Existing CRIU images to restore from on the first request instead of a cold start.
  std::optional<std::string> checkpoint_path;
  /// Most requests llmux lets the engine hold at once; the rest wait in llmux's queue, where
  /// the policy sees them and a switch need not drain them. Empty: no limit.
  std::optional<std::uint64_t> max_concurrent_requests;
  /// Most requests that may wait for the model; beyond it new ones get 429 with Retry-After.
  /// The model's own, else `policy.max_queue`; empty: no limit.
  std::optional<std::uint64_t> max_queue;
  /// The model on the GPU with no request for this long leaves it (with its eviction). The
  /// model's own, else `policy.idle_ttl_secs`; empty: it stays until another model needs the GPU.
  std::optional<std::uint64_t> idle_ttl_secs;
  /// Keys that open this model on the proxy (besides the top-level `api_keys`).
  std::vector<std::string> api_keys;
  /// GPU memory the awake engine holds, per GPU, in MiB. Under `gpu_memory_budget_mib` llmux
  /// starts the engine with a `--gpu-memory-utilization` that fits it (unless `extra_args` sets
  /// one) and plans with it until it has measured the engine itself.
  std::optional<std::uint64_t> gpu_memory_mib;

  friend bool operator==(const model_config&, const model_config&) = default;
};

/// How llmux decides when to switch models (`policy`).
struct policy_config {
  std::string policy_type{default_policy_type};
  std::uint64_t request_timeout_secs = default_request_timeout_secs;
  bool drain_before_switch = default_drain_before_switch;
  /// Eviction for every model that names none of its own.
  eviction_policy eviction;
  std::uint64_t min_active_secs = default_min_active_secs;
  std::uint64_t coalesce_window_ms = default_coalesce_window_ms;
  double amortization_factor = default_amortization_factor;
  std::uint64_t max_wait_secs = default_max_wait_secs;
  std::uint64_t tick_interval_ms = default_tick_interval_ms;
  /// Least time (time_slice) a model holds the GPU before another may take it.
  std::uint64_t min_quantum_ms = default_min_quantum_ms;
  /// `max_queue` and `idle_ttl_secs` of every model that sets none of its own.
  std::optional<std::uint64_t> max_queue;
  std::optional<std::uint64_t> idle_ttl_secs;

  friend bool operator==(const policy_config&, const policy_config&) = default;
};

/// Bounds on every wait that involves an engine or a client (`timeouts`), so that no lease
/// outlives a hung engine or a stalled client.
struct timeouts_config {
  /// While an engine process runs, its `/health` is probed this often ...
  std::uint64_t health_interval_ms = default_health_interval_ms;
  /// ... each probe failing after this long ...
  std::uint64_t health_timeout_ms = default_health_timeout_ms;
  /// ... and this many failures in a row mean the engine is hung: it is killed.
  std::uint64_t health_misses = default_health_misses;
  /// Longest a switch waits for the outgoing model's requests; then they are cut with an error.
  std::uint64_t drain_timeout_secs = default_drain_timeout_secs;
  /// Longest an eviction's `/sleep` may take, every attempt included; then the engine stops.
  std::uint64_t sleep_timeout_secs = default_sleep_timeout_secs;
  /// Longest a wake (`/wake_up`, and for level 2 the weight reload and cache reset) may take,
  /// every attempt included; then the engine stops and the model backs off.
  std::uint64_t wake_timeout_secs = default_wake_timeout_secs;
  /// Longest the engine may send nothing once its response has begun.
  std::uint64_t engine_idle_timeout_secs = default_engine_idle_timeout_secs;
  /// Longest a client may leave the response unread.
  std::uint64_t client_write_timeout_secs = default_client_write_timeout_secs;
  /// Longest a keep-alive connection may stay idle, and a request may take to arrive (408).
  std::uint64_t client_idle_timeout_secs = default_client_idle_timeout_secs;
  /// Longest one CRIU dump or restore (its health check included), or one cuda-checkpoint
  /// suspend or resume of all the engine's processes, may take; then the step has failed.
  std::uint64_t checkpoint_timeout_secs = default_checkpoint_timeout_secs;
  /// Longest moving one model's images to or from the object store may take.
  std::uint64_t transfer_timeout_secs = default_transfer_timeout_secs;
  /// A streamed request that waits for its model this long gets its response begun and an SSE
  /// comment line, and another at each such interval, so that nothing in between takes the
  /// quiet connection for dead; 0: none.
  std::uint64_t stream_keepalive_secs = default_stream_keepalive_secs;
  /// A model whose start or wake failed is not tried again for this long, doubling with each
  /// failure in a row ...
  std::uint64_t failure_backoff_secs = default_failure_backoff_secs;
  /// ... up to this.
  std::uint64_t failure_backoff_max_secs = default_failure_backoff_max_secs;

  friend bool operator==(const timeouts_config&, const timeouts_config&) = default;
};

/// A node a gateway routes to (`cluster.nodes[]`).
struct cluster_node {
  /// How the gateway names it (logs, status, metrics).
  std::string name;
  /// Where its node actor is published (`cluster.node_host` in the node's file).
  std::string host{default_admin_host};
  std::uint16_t node_port = 0;

  friend bool operator==(const cluster_node&, const cluster_node&) = default;
};

/// The ways a gateway picks a node for a request (actors/routing.hpp).
inline constexpr std::array<std::string_view, 3> routing_names{"affinity", "round_robin",
                                                               "least_loaded"};

/// Running as one of several llmux daemons (`cluster`): a node (`node_port`) or the gateway in
/// front of them (`nodes`, started with `--gateway`).
struct cluster_config {
  /// Node mode: the port the node actor is published on for gateways; absent: not a node.
  std::optional<std::uint16_t> node_port;
  /// The address it is published on: loopback unless a gateway on another host must reach it.
  std::string node_host{default_admin_host};
  /// This node's name in the cluster; absent: the host name.
  std::optional<std::string> name;
  /// Shared by every node and gateway; checked before any state is shared.
  /// `LLMUX_CLUSTER_SECRET` in the environment takes precedence.
  std::optional<std::string> secret;
  /// Gateway mode: the nodes it routes to, and how.
  std::vector<cluster_node> nodes;
  std::string routing{"affinity"};

  /// Whether the file describes a gateway rather than a node or a standalone llmux.
  bool gateway() const {
    return !nodes.empty();
  }

  friend bool operator==(const cluster_config&, const cluster_config&) = default;
};

/// The whole configuration file.
struct config {
  /// The models, in the order the file lists them.
  std::vector<model_config> models;
  policy_config policy;
  /// Proxy port; 0 lets the system pick a free one.
  std::uint16_t port = default_port;
  /// Prometheus port; 0 disables metrics.
  std::uint16_t metrics_port = default_metrics_port;
  /// Admin API port; absent disables the admin API, 0 lets the system pick a free one.
  std::optional<std::uint16_t> admin_port;
  /// The address the admin API listens on.
  std::string admin_host{default_admin_host};
  /// When set, every `/control/*` call needs `Authorization: Bearer <token>`
  /// (`LLMUX_ADMIN_TOKEN` in the environment takes precedence).
  std::optional<std::string> admin_token;
  /// When any key is configured, proxied requests need one (`Authorization: Bearer <key>`);
  /// these open every model (`LLMUX_API_KEYS` in the environment adds more).
  std::vector<std::string> api_keys;
  std::string vllm_command{default_vllm_command};
  std::optional<checkpoint_config> checkpoint;
  bool warmup = false;
  /// Longest a cold engine start may take before it counts as failed.
  std::uint64_t startup_timeout_secs = default_startup_timeout_secs;
  timeouts_config timeouts;
  /// GPU memory llmux may fill with engines, per GPU, in MiB: every model whose footprint fits
  /// beside the others stays awake. Absent: one model is awake at a time.
  std::optional<std::uint64_t> gpu_memory_budget_mib;
  std::optional<cluster_config> cluster;

  friend bool operator==(const config&, const config&) = default;

  /// The model clients call `name`, or null.
  const model_config* find_model(std::string_view name) const;
};

/// The values `args` give `flag`, in order: `flag V`, `flag=V`, and `short_flag V` when a short
/// spelling is named.
std::vector<std::string_view> flag_values(const std::vector<std::string>& args,
                                          std::string_view flag, std::string_view short_flag = {});

/// The tensor-parallel size the model's `extra_args` ask for: `--tensor-parallel-size N`,
/// `--tensor-parallel-size=N` or `-tp N`, the first valid one wins; 1 when none is given.
std::uint64_t tensor_parallel_size(const model_config& model);

/// The arguments that follow the engine command:
/// `serve <model_path> --port <port> --host 127.0.0.1 --enable-sleep-mode <extra_args...>`.
std::vector<std::string> engine_arguments(const model_config& model);

} // namespace llmux::config
