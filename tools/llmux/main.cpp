// llmux's entry point: command line, logging, configuration, then the daemon.

#include <algorithm>
#include <array>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <future>
#include <pthread.h>
#include <string>
#include <sys/resource.h>
#include <unistd.h>
#include <variant>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/io/middleman.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "actors/backend.hpp"
#include "actors/gateway.hpp"
#include "actors/messages.hpp"
#include "config/cli.hpp"
#include "config/load.hpp"
#include "config/logging.hpp"
#include "config/print.hpp"
#include "http/admin.hpp"
#include "http/local_server.hpp"
#include "http/metrics.hpp"
#include "http/server.hpp"
#include "tools/llmux/flows.hpp"
#include "tools/llmux/reload.hpp"

namespace {

using namespace llmux;

constexpr int invalid_config_status = 1;
constexpr int startup_failure_status = 1;

// Diagnostics go to standard error as plain lines, so `--check-config` output can be read by
// people and by scripts alike, whatever the log level.
void report(const std::string& config_path, const config::diagnostics& findings) {
  for (const auto& item : findings.items()) {
    fmt::print(stderr, "{}: {}\n", config_path, config::format_diagnostic(item));
  }
}

std::variant<config::log_levels, int> log_levels_from_environment() {
  const char* text = std::getenv("LLMUX_LOG");
  if (text == nullptr) {
    return config::log_levels{};
  }
  auto levels = config::parse_log_levels(text);
  if (!levels) {
    fmt::print(stderr, "llmux: LLMUX_LOG: {}\n", levels.error());
    return config::usage_error_status;
  }
  return *levels;
}

// Each client connection takes a descriptor, each relayed request one more: lift the soft
// limit (often 1024) towards the hard one so that --max-connections, not EMFILE, is the bound.
void raise_file_limit(std::size_t connections) {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) {
    return;
  }
  auto wanted = static_cast<rlim_t>(2 * connections + 256);
  if (limit.rlim_cur >= wanted) {
    return;
  }
  limit.rlim_cur = std::min(wanted, limit.rlim_max);
  if (setrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur < wanted) {
    spdlog::get("main")->warn(
      "the open-file limit ({}) is below what {} connections need ({}); accepts pause when it "
      "is reached",
      limit.rlim_cur, connections, wanted);
  }
}

// A secret the environment's `variable` sets wins over the file's; empty when neither has one.
std::string secret_from(const char* variable, const std::optional<std::string>& in_file) {
  const char* from_environment = std::getenv(variable);
  return from_environment != nullptr && *from_environment != '\0' ? std::string(from_environment)
                                                                  : in_file.value_or(std::string{});
}

std::string host_name() {
  std::array<char, 256> name{};
  if (gethostname(name.data(), name.size() - 1) != 0) {
    return "llmux";
  }
  return name.data();
}

// The signals the daemon waits for: SIGINT and SIGTERM stop it, SIGHUP reloads.
struct daemon_signals {
  sigset_t stop;
  sigset_t handled;
};

// Blocks the daemon's signals before any thread exists, so only its sigwait receives them.
daemon_signals block_daemon_signals() {
  daemon_signals signals{};
  sigemptyset(&signals.stop);
  sigaddset(&signals.stop, SIGINT);
  sigaddset(&signals.stop, SIGTERM);
  signals.handled = signals.stop;
  sigaddset(&signals.handled, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals.handled, nullptr);
  return signals;
}

// `network`: CAF's middleman too, for a cluster node or gateway.
void configure_actors(caf::actor_system_config& system_config, bool network) {
  // The actors are a control plane: a shared queue wakes a sleeping worker when a message
  // arrives, where work stealing polls with short sleeps.
  system_config.set("scheduler.policy", caf::atom("sharing"));
  system_config.set("scheduler.max-threads", 2);
  system_config.add_message_types<caf::id_block::llmux>();
  if (network) {
    system_config.load<caf::io::middleman>();
  }
}

http::server_settings proxy_settings(const config::cli_options& options,
                                     const config::config& cfg) {
  http::server_settings settings;
  settings.host = options.host;
  settings.port = cfg.port;
  settings.io_threads = options.io_threads;
  settings.request_timeout = std::chrono::seconds(cfg.policy.request_timeout_secs);
  settings.stream_keepalive = std::chrono::seconds(cfg.timeouts.stream_keepalive_secs);
  settings.relay.engine_idle = std::chrono::seconds(cfg.timeouts.engine_idle_timeout_secs);
  settings.relay.client_write = std::chrono::seconds(cfg.timeouts.client_write_timeout_secs);
  settings.idle_timeout = std::chrono::seconds(cfg.timeouts.client_idle_timeout_secs);
  settings.max_connections = options.max_connections;
  settings.max_buffered_bytes = options.max_buffered_mb * 1024 * 1024;
  settings.upstream_idle_time = std::chrono::milliseconds(options.upstream_idle_ms);
  settings.serve_half_closed = options.serve_half_closed;
  if (options.upstream_idle_ms == 0) {
    settings.upstream_idle_per_engine = 0;
  }
  settings.keys = access_keys_of(cfg);
  return settings;
}

// Opens the metrics and admin listeners the file asks for; false with `error` set when one
// cannot listen.
bool open_operations(http::local_server& operations, const config::cli_options& options,
                     const config::config& cfg, http::http_metrics& metrics,
                     actors::serving_backend& backend, http::reload_handler reload,
                     std::string& error) {
  auto log = spdlog::get("main");
  if (cfg.metrics_port != 0) {
    auto bound = operations.listen(options.host, cfg.metrics_port,
                                   http::metrics_endpoint(metrics, backend), error);
    if (bound == 0) {
      return false;
    }
    log->info("metrics on http://{}:{}/metrics", options.host, bound);
  }
  if (cfg.admin_port) {
    // The environment's token wins over the file's; neither is ever logged.
    auto token = secret_from("LLMUX_ADMIN_TOKEN", cfg.admin_token);
    auto bound = operations.listen(cfg.admin_host, *cfg.admin_port,
                                   http::admin_endpoint(backend, token, std::move(reload)), error);
    if (bound == 0) {
      return false;
    }
    log->info("admin API on http://{}:{}/control/ ({})", cfg.admin_host, bound,
              token.empty() ? "no token" : "token required");
  }
  return true;
}

// The gateway: routes across the file's nodes until SIGINT or SIGTERM. It holds no models, so
// nothing is warmed, reloaded or stopped but its own listeners.
int serve_gateway(const config::cli_options& options, const config::config& cfg) {
  auto log = spdlog::get("main");
  const auto& cluster = *cfg.cluster;
  actors::gateway_settings settings;
  settings.name = cluster.name.value_or(host_name());
  settings.secret = secret_from("LLMUX_CLUSTER_SECRET", cluster.secret);
  settings.nodes = cluster.nodes;
  settings.strategy = actors::routing_named(cluster.routing).value_or(actors::routing::affinity);
  if (settings.secret.empty()) {
    log->critical("a gateway needs the cluster secret (cluster.secret, or LLMUX_CLUSTER_SECRET) "
                  "to join its nodes");
    return startup_failure_status;
  }
  auto signals = block_daemon_signals();
  caf::actor_system_config system_config;
  configure_actors(system_config, true);
  caf::actor_system system{system_config};
  auto backend = actors::make_gateway_backend(system, settings);
  raise_file_limit(options.max_connections);
  http::http_metrics metrics({});
  http::proxy_server server(*backend, proxy_settings(options, cfg), metrics);
  http::local_server operations;
  std::string error;
  auto fail_start = [&] {
    log->critical("{}", error);
    backend->shutdown(std::chrono::milliseconds(0));
    return startup_failure_status;
  };
  http::reload_handler refuse_reload = [](auto done) {
    http::local_response refused;
    refused.status = 409;
    refused.body = R"({"error":"a gateway does not reload; restart it with the new file"})";
    done(std::move(refused));
  };
  if (!open_operations(operations, options, cfg, metrics, *backend, refuse_reload, error)) {
    return fail_start();
  }
  auto port = server.start(error);
  if (port == 0) {
    return fail_start();
  }
  operations.start();
  log->info("gateway {} routing ({}) across {} node(s) on http://{}:{}", settings.name,
            cluster.routing, cluster.nodes.size(), options.host, port);
  int signal = 0;
  for (;;) {
    sigwait(&signals.handled, &signal);
    if (signal != SIGHUP) {
      break;
    }
    log->warn("SIGHUP received: a gateway does not reload; restart it to change its nodes");
  }
  log->info("{} received: finishing requests in flight (up to {} s)", strsignal(signal),
            options.shutdown_grace_secs);
  server.stop_accepting();
  backend->shutdown(std::chrono::seconds(options.shutdown_grace_secs));
  server.stop();
  operations.stop();
  log->info("stopped");
  return 0;
}

// Serves until SIGINT or SIGTERM, then shuts down gracefully; returns the exit status. SIGHUP
// reloads the configuration.
int serve(const config::cli_options& options, const config::config& cfg) {
  auto log = spdlog::get("main");
  bool node = cfg.cluster && cfg.cluster->node_port;
  if (node && secret_from("LLMUX_CLUSTER_SECRET", cfg.cluster->secret).empty()) {
    log->critical("cluster.node_port needs a cluster secret (cluster.secret, or "
                  "LLMUX_CLUSTER_SECRET): gateways prove with it that they belong");
    return startup_failure_status;
  }
  auto signals = block_daemon_signals();
  const auto& stop_signals = signals.stop;
  const auto& handled = signals.handled;
  caf::actor_system_config system_config;
  configure_actors(system_config, node);
  caf::actor_system system{system_config};
  auto backend = actors::make_actor_backend(system, cfg);
  auto grace = std::chrono::seconds(options.shutdown_grace_secs);
  // No listener opens before warmup has finished; a stop signal during warmup ends it.
  if (cfg.warmup) {
    auto warming = std::async(std::launch::async, [&backend] { return backend->warmup(); });
    while (warming.wait_for(std::chrono::seconds(0)) != std::future_status::ready) {
      timespec poll{0, 100'000'000};
      int signal = sigtimedwait(&stop_signals, nullptr, &poll);
      if (signal > 0) {
        log->info("{} received during warmup: stopping engines", strsignal(signal));
        backend->shutdown(grace);
        warming.wait();
        return startup_failure_status;
      }
    }
    if (auto error = warming.get(); !error.empty()) {
      log->critical("warmup failed: {}", error);
      backend->shutdown(std::chrono::milliseconds(0));
      return startup_failure_status;
    }
  }

  raise_file_limit(options.max_connections);
  http::http_metrics metrics(backend->model_names());
  backend->on_switch_ended(
    [&metrics](const actors::switch_record& record) { metrics.switch_ended(record); });
  http::proxy_server server(*backend, proxy_settings(options, cfg), metrics);
  config_reloader reloader(options, cfg, *backend, server, metrics);
  http::local_server operations;
  std::string error;
  auto fail_start = [&] {
    log->critical("{}", error);
    backend->on_switch_ended({});
    backend->shutdown(std::chrono::milliseconds(0));
    return startup_failure_status;
  };
  if (!open_operations(
        operations, options, cfg, metrics, *backend,
        [&reloader](auto done) { reloader.reload(std::move(done)); }, error)) {
    return fail_start();
  }
  auto port = server.start(error);
  if (port == 0) {
    return fail_start();
  }
  if (node) {
    const auto& cluster = *cfg.cluster;
    // A proxy on every address is reached at the node's own: the gateway knows that one.
    bool wildcard = options.host == "0.0.0.0" || options.host == "::";
    actors::node_settings settings{cluster.name.value_or(host_name()),
                                   wildcard ? std::string{} : options.host, port,
                                   secret_from("LLMUX_CLUSTER_SECRET", cluster.secret)};
    auto bound = backend->publish_node(settings, cluster.node_host, *cluster.node_port, error);
    if (bound == 0) {
      server.stop_accepting();
      server.stop();
      return fail_start();
    }
    log->info("cluster node {} on {}:{} (secret required)", settings.name, cluster.node_host,
              bound);
  }
  operations.start();
  log->info("serving {} model(s) on http://{}:{}", cfg.models.size(), options.host, port);

  int signal = 0;
  for (;;) {
    sigwait(&handled, &signal);
    if (signal != SIGHUP) {
      break;
    }
    log->info("SIGHUP received: reloading {}", options.config_path);
    reloader.reload([](const http::local_response&) {}); // the reloader logs the outcome
  }
  log->info("{} received: finishing requests in flight (up to {} s), then stopping engines",
            strsignal(signal), options.shutdown_grace_secs);
  server.stop_accepting();
  backend->shutdown(grace);
  server.stop();
  operations.stop();
  backend->on_switch_ended({});
  log->info("stopped");
  return 0;
}

} // namespace

int main(int argc, char** argv) {
  auto command_line = config::parse_command_line(argc, argv);
  if (auto* status = std::get_if<int>(&command_line)) {
    return *status;
  }
  const auto& options = std::get<config::cli_options>(command_line);
  auto levels = log_levels_from_environment();
  if (auto* status = std::get_if<int>(&levels)) {
    return *status;
  }
  config::setup_logging(std::get<config::log_levels>(levels), options.verbose);

  auto loaded = config::load_config_file(options.config_path, flows::load_options_for(options));
  report(options.config_path, loaded.findings);
  if (!loaded.ok()) {
    fmt::print(stderr, "{}: configuration is invalid\n", options.config_path);
    return invalid_config_status;
  }
  if (options.check_config) {
    fmt::print("{}", config::to_json(loaded.cfg));
    return 0;
  }
  if (options.validate_model) {
    return flows::validate(loaded.cfg, options);
  }
  if (options.checkpoint_model) {
    return flows::checkpoint(loaded.cfg, options);
  }
  if (options.restore_model) {
    return flows::restore_detached(loaded.cfg, options);
  }
  bool gateway_file = loaded.cfg.cluster && loaded.cfg.cluster->gateway();
  if (options.gateway != gateway_file) {
    fmt::print(stderr, "{}: {}\n", options.config_path,
               options.gateway ? "--gateway needs cluster.nodes: the nodes it routes to"
                               : "cluster.nodes makes this a gateway's file: start it with "
                                 "--gateway");
    return invalid_config_status;
  }
  if (options.gateway) {
    return serve_gateway(options, loaded.cfg);
  }
  return serve(options, loaded.cfg);
}
