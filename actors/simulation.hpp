#pragma once

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "actors/routing.hpp"
#include "actors/sim_engine.hpp"
#include "config/config.hpp"

namespace llmux::actors {

/// One request of a simulated workload.
struct sim_request {
  /// When it arrives: from the start, or from the moment its dependencies below are met.
  std::chrono::milliseconds arrival{0};
  std::size_t model = 0;
  /// Service time when served alone.
  std::chrono::milliseconds service{500};
  /// A closed-loop client: sent `arrival` after this earlier request was sent ...
  std::optional<std::size_t> sent_after = {};
  /// ... or after all of these earlier requests have their answers.
  std::vector<std::size_t> answered_after = {};
};

/// How an engine serves concurrent requests. A real engine batches: up to `max_batch` requests
/// run at once, and each takes `service × n^growth` when `n` run together (sublinear: the batch
/// as a whole finishes sooner than one at a time). `max_batch = 1` serves one at a time, as the
/// reference's simulator did.
struct batching {
  std::size_t max_batch = 1;
  double growth = 0.3;
};

/// What happened to one request.
struct sim_outcome {
  std::size_t model = 0;
  /// The node that served it (0 on a single llmux).
  std::size_t node = 0;
  bool served = false;
  /// Whether it has ended (served, cut or refused).
  bool ended = false;
  clock_type::duration arrival{};
  clock_type::duration granted{};
  /// When the engine began serving it: later than the grant when the engine was already full.
  clock_type::duration started{};
  clock_type::duration finished{};
};

/// Everything a simulation produced, times relative to its start.
struct sim_run {
  /// When the workload began, after the warmup (actor-clock time).
  clock_type::time_point measured_from;
  std::vector<sim_outcome> requests;
  std::vector<sim_operation> operations;
  clock_type::duration ended{};
  /// The engines' batch size in this run.
  std::size_t max_batch = 1;
};

/// Several llmux nodes behind a gateway: each node runs every model of the configuration (its
/// own scheduler, model actors and engines); the gateway sends each request to a node chosen
/// with `strategy` (routing.hpp) from what it knows: the requests it routed that have not
/// finished, and each node's awake models and switch costs from a status read every
/// `heartbeat`, as a real gateway hears them.
struct sim_cluster {
  std::size_t nodes = 1;
  routing strategy = routing::affinity;
  std::chrono::milliseconds heartbeat{250};
};

/// Runs `workload` through the real scheduler and model actors with simulated engines (one
/// `sim_costs` per model of `cfg`), on CAF's deterministic test coordinator: virtual time, one
/// thread, the same numbers on every run. The models are warmed first (started and evicted),
/// and only what follows is measured. With `cluster.nodes` above 1, every node is such an
/// llmux and each request goes to the node routing chooses.
sim_run simulate(const config::config& cfg, const std::vector<sim_costs>& costs,
                 const std::vector<sim_request>& workload, const batching& serving,
                 const sim_cluster& cluster = {});

/// The figures `llmux-sim` prints for one run.
struct sim_summary {
  std::size_t served = 0;
  std::size_t failed = 0;
  std::size_t switches = 0;
  double switching_seconds = 0;
  double serving_seconds = 0;
  /// serving / (serving + switching): the share of busy GPU time spent serving.
  double gpu_serving_fraction = 0;
  double mean_wait = 0;
  double p50_wait = 0;
  double p99_wait = 0;
  double max_wait = 0;
  /// The longest wait for the GPU (see `gpu_waits`).
  double max_gpu_wait = 0;
  /// Goodput: requests served per second the GPU was busy (serving or switching). Unlike the
  /// serving fraction it credits an engine that serves many requests at once.
  double requests_per_gpu_second = 0;
};

/// Summarises a run.
sim_summary summarize(const sim_run& run);

/// The wait of every served request, in seconds, from its arrival to the start of its service
/// (the grant of its lease, and then the engine's own queue when it was full).
std::vector<double> served_waits(const sim_run& run);

/// The part of every served request's wait (as `served_waits`, same order) spent waiting for
/// the GPU rather than for its own model's earlier requests: the wait minus the time in which
/// its model's engine was full with them. This is the part a switch policy decides, and what
/// its staleness bound (`max_wait_secs`) is about.
std::vector<double> gpu_waits(const sim_run& run);

/// The nearest-rank percentile (`share` of 0.99 is p99) of `values`; 0 when there are none.
double percentile(std::vector<double> values, double share);

} // namespace llmux::actors
