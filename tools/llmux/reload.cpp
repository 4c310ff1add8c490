#include "tools/llmux/reload.hpp"

#include <cstdlib>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include "config/json_writer.hpp"
#include "config/load.hpp"
#include "tools/llmux/flows.hpp"

namespace llmux {

namespace {

void string_list(config::json_writer& out, std::string_view key,
                 const std::vector<std::string>& items) {
  out.key(key);
  out.begin_array();
  for (const auto& item : items) {
    out.string(item);
  }
  out.end_array();
}

// The settings only a restart applies (the listeners and the admin token), compared with
// those llmux started with, which stay in force until then.
std::vector<std::string> needs_restart(const config::config& now, const config::config& next) {
  std::vector<std::string> changed;
  auto note = [&](bool differs, std::string_view field) {
    if (differs) {
      changed.push_back(fmt::format("{} changed: restart llmux to apply it", field));
    }
  };
  note(now.port != next.port, "port");
  note(now.metrics_port != next.metrics_port, "metrics_port");
  note(now.admin_port != next.admin_port, "admin_port");
  note(now.admin_host != next.admin_host, "admin_host");
  note(now.admin_token != next.admin_token, "admin_token");
  return changed;
}

// A JSON body `{"error": what}`.
std::string error_body(std::string_view what) {
  config::json_writer out(config::json_writer::layout::compact);
  out.begin_object();
  out.key("error");
  out.string(what);
  out.end_object();
  return out.str();
}

} // namespace

http::access_keys access_keys_of(const config::config& cfg) {
  auto global = cfg.api_keys;
  if (const char* listed = std::getenv("LLMUX_API_KEYS")) {
    auto more = http::key_list(listed);
    global.insert(global.end(), more.begin(), more.end());
  }
  std::unordered_map<std::string, std::vector<std::string>> per_model;
  for (const auto& model : cfg.models) {
    per_model.emplace(model.name, model.api_keys);
  }
  return http::access_keys(std::move(global), std::move(per_model));
}

config_reloader::config_reloader(const config::cli_options& options, const config::config& started,
                                 actors::actor_backend& backend, http::proxy_server& server,
                                 http::http_metrics& metrics)
  : options_(options), started_(started), backend_(backend), server_(server), metrics_(metrics),
    keys_in_force_(access_keys_of(started)) {
}

void config_reloader::reload(std::function<void(http::local_response)> done) {
  auto log = spdlog::get("main");
  if (reloading_.exchange(true)) {
    done(http::answer(409, error_body("another reload is in progress")));
    return;
  }
  auto loaded = config::load_config_file(options_.config_path, flows::load_options_for(options_));
  std::vector<std::string> findings;
  for (const auto& item : loaded.findings.items()) {
    findings.push_back(
      fmt::format("{}: {}", options_.config_path, config::format_diagnostic(item)));
  }
  if (!loaded.ok()) {
    log->error("reload refused, the configuration in force keeps serving:");
    for (const auto& finding : findings) {
      log->error("  {}", finding);
    }
    config::json_writer out(config::json_writer::layout::compact);
    out.begin_object();
    out.key("error");
    out.string("the new configuration is invalid; the one in force keeps serving");
    string_list(out, "findings", findings);
    out.end_object();
    reloading_ = false;
    done(http::answer(400, out.str()));
    return;
  }
  auto warnings = needs_restart(started_, loaded.cfg);
  warnings.insert(warnings.begin(), findings.begin(), findings.end());
  // The new models are visible as soon as the backend takes the configuration: they must never
  // be served under the old keys, so the new keys hold from now on (and go back if the reload
  // fails).
  auto keys = access_keys_of(loaded.cfg);
  server_.set_access_keys(keys);
  std::vector<std::string> names;
  for (const auto& model : loaded.cfg.models) {
    names.push_back(model.name);
  }
  backend_.reload(std::move(loaded.cfg), [this, keys = std::move(keys), names = std::move(names),
                                          warnings = std::move(warnings), done = std::move(done),
                                          log](actors::reload_outcome outcome) mutable {
    if (!outcome.ok) {
      log->error("reload failed: {}", outcome.error);
      server_.set_access_keys(keys_in_force_);
      reloading_ = false;
      done(http::answer(409, error_body(outcome.error)));
      return;
    }
    keys_in_force_ = std::move(keys);
    reloading_ = false;
    metrics_.add_models(names);
    log->info("reload: added [{}], removed [{}], changed [{}]", fmt::join(outcome.added, ", "),
              fmt::join(outcome.removed, ", "), fmt::join(outcome.changed, ", "));
    for (const auto& warning : warnings) {
      log->warn("reload: {}", warning);
    }
    config::json_writer out(config::json_writer::layout::compact);
    out.begin_object();
    out.key("message");
    out.string("Configuration reloaded");
    string_list(out, "added", outcome.added);
    string_list(out, "removed", outcome.removed);
    string_list(out, "changed", outcome.changed);
    string_list(out, "warnings", warnings);
    out.end_object();
    done(http::answer(200, out.str()));
  });
}

} // namespace llmux
