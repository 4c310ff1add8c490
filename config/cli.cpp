#include "config/cli.hpp"

#include <CLI/CLI.hpp>

#include "llmux/version.hpp"

namespace llmux::config {

std::variant<cli_options, int> parse_command_line(int argc, const char* const* argv) {
  cli_options options;
  CLI::App app{"llmux: one OpenAI-compatible endpoint for several LLM engines sharing a GPU"};
  app.name("llmux");
  app.set_version_flag("--version", std::string{"llmux "} + llmux::version);
  app.add_option("-c,--config", options.config_path, "Configuration file (JSON)")
    ->capture_default_str();
  app.add_option("-p,--port", options.port, "Proxy port; overrides \"port\" in the config");
  app.add_flag("-v,--verbose", options.verbose,
               "Log at debug level (LLMUX_LOG, e.g. info,engine=debug, sets levels per logger)");
  app.add_option("--host", options.host, "Address the proxy listens on")->capture_default_str();
  app.add_option("--io-threads", options.io_threads, "Threads serving HTTP")
    ->check(CLI::Range(1, 64))
    ->capture_default_str();
  app
    .add_option("--shutdown-grace-secs", options.shutdown_grace_secs,
                "On SIGINT/SIGTERM: how long requests in flight may finish before the engines "
                "stop")
    ->capture_default_str();
  app
    .add_option("--max-connections", options.max_connections,
                "Most client connections open at once; more wait until one closes")
    ->check(CLI::Range(1, 1000000))
    ->capture_default_str();
  app
    .add_option("--max-buffered-mb", options.max_buffered_mb,
                "Most MiB of request bodies held at once over all requests; beyond it 503")
    ->check(CLI::Range(1, 1000000))
    ->capture_default_str();
  app
    .add_option("--upstream-idle-ms", options.upstream_idle_ms,
                "How long an idle engine connection is kept for reuse; 0 opens one per request")
    ->check(CLI::Range(0, 3600000))
    ->capture_default_str();
  app.add_flag("--serve-half-closed", options.serve_half_closed,
               "Answer clients that shut down their sending side after the request (by "
               "default that counts as leaving)");
  auto* gateway = app.add_flag("--gateway", options.gateway,
                               "Run as the cluster's gateway: route each request to one of the "
                               "nodes the file's cluster.nodes lists");
  app.add_flag("--check-config", options.check_config,
               "Load and validate the configuration, print it with every default filled in, "
               "and exit: 0 when valid, 1 otherwise");
  // `weights+process`, as the configuration writes an eviction.
  auto eviction_spec = CLI::Validator(
    [](std::string& text) {
      auto parsed = parse_eviction_spec(text);
      return parsed ? std::string{} : parsed.error();
    },
    "WEIGHTS+PROCESS");
  std::vector<std::string> policies;
  std::string checkpoint_eviction;
  auto* validate
    = app
        .add_option("--validate", options.validate_model,
                    "Start MODEL, sleep and wake it with each policy of --policies, check that "
                    "it answers as before, print a table and exit (0 when all pass)")
        ->type_name("MODEL");
  app
    .add_option("--policies", policies,
                "Evictions --validate tries (default offload+keep_running,"
                "discard+keep_running)")
    ->delimiter(',')
    ->check(eviction_spec)
    ->needs(validate);
  auto* checkpoint
    = app
        .add_option("--checkpoint", options.checkpoint_model,
                    "Start MODEL, warm it, CRIU-dump it (and upload it to the object "
                    "store, when configured) and exit")
        ->type_name("MODEL");
  app
    .add_option("--eviction", checkpoint_eviction,
                "The eviction --checkpoint dumps with (default "
                "discard+checkpoint; the process must be checkpoint)")
    ->check(eviction_spec)
    ->needs(checkpoint);
  app.add_flag("--no-warmup", options.no_warmup, "With --checkpoint: no inference before the dump")
    ->needs(checkpoint);
  auto* restore
    = app
        .add_option("--restore-detached", options.restore_model,
                    "Restore MODEL from its checkpoint, check that it answers, and exit leaving "
                    "it running")
        ->type_name("MODEL");
  validate->excludes(checkpoint)->excludes(restore);
  checkpoint->excludes(restore);
  auto* check = app.get_option("--check-config");
  for (auto* flow : {validate, checkpoint, restore}) {
    flow->excludes(check)->excludes(gateway);
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int status = app.exit(e);
    return status == 0 ? 0 : usage_error_status;
  }
  if (!policies.empty()) {
    options.validate_policies.clear();
    for (const auto& policy : policies) {
      options.validate_policies.push_back(*parse_eviction_spec(policy));
    }
  }
  if (!checkpoint_eviction.empty()) {
    options.checkpoint_eviction = *parse_eviction_spec(checkpoint_eviction);
  }
  return options;
}

} // namespace llmux::config
