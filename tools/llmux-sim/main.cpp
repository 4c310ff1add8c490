// llmux-sim: runs workloads through the real scheduler and model actors on simulated engines and
// virtual time, for each policy, and prints one comparison.

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "actors/memory_budget.hpp"
#include "actors/simulation.hpp"
#include "tools/llmux-sim/report.hpp"
#include "tools/llmux-sim/workloads.hpp"

using namespace llmux;
using std::chrono::milliseconds;

int main(int argc, char** argv) {
  CLI::App app{"llmux-sim: compare switch policies on the real scheduler with simulated engines"};
  app.name("llmux-sim");
  std::vector<std::string> policies{"fifo", "cost_aware", "time_slice", "cost_quantum"};
  std::vector<std::string> profiles;
  std::string trace;
  std::string svg;
  long service_ms = 500;
  std::size_t max_batch = 1;
  std::uint64_t max_wait_secs = 15;
  double switch_cost_secs = 0;
  app.add_option("--policy", policies, "Policies to compare")->capture_default_str();
  app.add_option("--profile", profiles,
                 "Workloads: the reference's profiles (the default: all of them) or llmux's "
                 "own (alternating)");
  app.add_option("--trace", trace, "A CSV workload: time,model,service_seconds");
  app.add_option("--service-ms", service_ms, "Service time per request of the profiles")
    ->capture_default_str();
  app
    .add_option("--batch", max_batch,
                "Requests an engine serves at once (1: one at a time, as the reference's "
                "simulator)")
    ->capture_default_str();
  std::uint64_t max_concurrent = 0;
  app
    .add_option("--max-concurrent", max_concurrent,
                "Every model's max_concurrent_requests (0: no limit, the engine queues the rest)")
    ->capture_default_str();
  app.add_option("--max-wait-secs", max_wait_secs, "policy.max_wait_secs")->capture_default_str();
  std::uint64_t max_queue = 0;
  app
    .add_option("--max-queue", max_queue,
                "Every model's max_queue: requests beyond it are refused (429) and count as "
                "failed (0: no limit)")
    ->capture_default_str();
  std::uint64_t idle_ttl_secs = 0;
  app
    .add_option("--idle-ttl-secs", idle_ttl_secs,
                "Every model's idle_ttl_secs: an awake model idle this long leaves the GPU (0: "
                "never)")
    ->capture_default_str();
  app.add_option("--switch-cost-secs", switch_cost_secs,
                 "Every switch costs this much (a wake of this length, sleeps free), as in the "
                 "reference's simulator; default: the L40 measurements per model");
  std::size_t budget_models = 0;
  app
    .add_option("--budget-models", budget_models,
                "A GPU memory budget that holds this many awake models (each 18 GiB, plus what "
                "the sleeping others keep); 0: none, one model awake at a time")
    ->capture_default_str();
  std::size_t nodes = 1;
  app.add_option("--nodes", nodes, "llmux nodes behind a gateway, each with every model")
    ->capture_default_str();
  std::vector<std::string> routings{"affinity"};
  app
    .add_option("--routing", routings,
                "How the gateway picks a node (with --nodes above 1): affinity, round_robin, "
                "least_loaded")
    ->capture_default_str();
  app.add_option("--svg", svg, "Write the timeline of the first run to this SVG file");
  CLI11_PARSE(app, argc, argv);

  std::vector<tools::sim::workload> workloads;
  std::vector<std::string> trace_models;
  if (!trace.empty()) {
    std::ifstream file(trace);
    std::stringstream text;
    text << file.rdbuf();
    auto parsed = tools::sim::read_trace(text.str(), trace_models);
    if (!file || !parsed) {
      fmt::print(stderr, "llmux-sim: {}: {}\n", trace, file ? parsed.error() : "cannot read");
      return 1;
    }
    workloads.push_back(*parsed);
  } else {
    auto known = tools::sim::reference_profiles(milliseconds(service_ms));
    if (!profiles.empty()) {
      for (auto& w : tools::sim::project_profiles(milliseconds(service_ms))) {
        known.push_back(std::move(w));
      }
    }
    for (auto& w : known) {
      if (profiles.empty()
          || std::find(profiles.begin(), profiles.end(), w.name) != profiles.end()) {
        workloads.push_back(std::move(w));
      }
    }
  }
  if (workloads.empty()) {
    fmt::print(stderr, "llmux-sim: no workload selected\n");
    return 1;
  }
  std::vector<actors::routing> strategies;
  for (const auto& name : routings) {
    auto strategy = actors::routing_named(name);
    if (!strategy) {
      fmt::print(stderr, "llmux-sim: unknown routing {}\n", name);
      return 1;
    }
    strategies.push_back(*strategy);
  }
  if (nodes < 1) {
    fmt::print(stderr, "llmux-sim: --nodes must be at least 1\n");
    return 1;
  }
  if (nodes == 1) {
    strategies.resize(1); // a single node needs no routing
  }
  std::vector<tools::sim::result_row> rows;
  for (const auto& w : workloads) {
    std::vector<std::string> names = trace_models;
    for (std::size_t i = names.size(); i < w.models; ++i) {
      names.push_back(std::string(1, static_cast<char>('A' + i)));
    }
    for (const auto& policy : policies) {
      std::vector<actors::sim_costs> costs;
      auto cfg = tools::sim::l40_configuration(names, policy, costs);
      cfg.policy.max_wait_secs = max_wait_secs;
      for (auto& model : cfg.models) {
        model.max_concurrent_requests
          = max_concurrent > 0 ? std::optional<std::uint64_t>(max_concurrent) : std::nullopt;
        model.max_queue = max_queue > 0 ? std::optional<std::uint64_t>(max_queue) : std::nullopt;
        model.idle_ttl_secs
          = idle_ttl_secs > 0 ? std::optional<std::uint64_t>(idle_ttl_secs) : std::nullopt;
      }
      std::size_t awake_at_once = 1;
      if (budget_models > 0) {
        constexpr std::uint64_t footprint_mib = 18432;
        for (auto& model : cfg.models) {
          model.gpu_memory_mib = footprint_mib;
        }
        auto resting = cfg.models.size() > budget_models ? cfg.models.size() - budget_models : 0;
        cfg.gpu_memory_budget_mib
          = budget_models * footprint_mib + resting * actors::asleep_estimate_mib;
        awake_at_once = budget_models;
      }
      if (switch_cost_secs > 0) {
        auto fixed = milliseconds(static_cast<long>(switch_cost_secs * 1000));
        for (auto& cost : costs) {
          cost = {fixed, milliseconds(0), milliseconds(0), fixed, fixed, milliseconds(0)};
        }
      }
      actors::batching serving{max_batch, 0.3};
      for (auto strategy : strategies) {
        auto run = actors::simulate(cfg, costs, w.requests, serving, {nodes, strategy});
        // The bound is one GPU's: with several nodes it would need the cluster's own.
        auto label
          = nodes == 1 ? policy : fmt::format("{} + {}", policy, actors::to_string(strategy));
        tools::sim::result_row row{
          w.name, label, actors::summarize(run), actors::served_waits(run),
          nodes == 1 ? tools::sim::bound_of(cfg, costs, w.requests, serving, awake_at_once)
                     : std::nullopt};
        if (!svg.empty() && rows.empty()) {
          std::ofstream(svg) << tools::sim::svg_timeline(run, names,
                                                         fmt::format("{} with {}", w.name, label));
        }
        rows.push_back(std::move(row));
      }
    }
  }
  fmt::print("{}", tools::sim::markdown_report(rows));
  return 0;
}
