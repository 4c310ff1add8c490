#include "http/metrics.hpp"

#include <array>
#include <mutex>
#include <shared_mutex>
#include <unordered_map>

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

namespace llmux::http {

namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

// From a millisecond cache hit to a ten-minute cold start.
const prometheus::Histogram::BucketBoundaries wait_buckets{
  0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600};
// Switches take from a fraction of a second (sleep level 1) to minutes (cold starts).
const prometheus::Histogram::BucketBoundaries switch_buckets{0.05, 0.1, 0.25, 0.5, 1,   2.5, 5,
                                                             10,   20,  30,   60,  120, 300, 600};

constexpr std::array status_classes{"1xx", "2xx", "3xx", "4xx", "5xx"};

constexpr std::array refusal_reasons{
  actors::refusal::unknown_model,  actors::refusal::timed_out,  actors::refusal::backing_off,
  actors::refusal::shutting_down,  actors::refusal::cancelled,  actors::refusal::manual_mode,
  actors::refusal::scheduler_gone, actors::refusal::queue_full, actors::refusal::no_node};

std::string_view reason_label(actors::refusal reason) {
  switch (reason) {
    case actors::refusal::none:
      break;
    case actors::refusal::unknown_model:
      return "unknown_model";
    case actors::refusal::timed_out:
      return "timed_out";
    case actors::refusal::backing_off:
      return "backing_off";
    case actors::refusal::shutting_down:
      return "shutting_down";
    case actors::refusal::cancelled:
      return "cancelled";
    case actors::refusal::manual_mode:
      return "manual_mode";
    case actors::refusal::scheduler_gone:
      return "scheduler_gone";
    case actors::refusal::queue_full:
      return "queue_full";
    case actors::refusal::no_node:
      return "no_node";
  }
  return "none";
}

// The reference's phase names, so that its dashboards work unchanged.
constexpr std::array<std::pair<std::string_view, std::uint64_t actors::switch_record::*>, 4>
  phase_fields{{{"cooldown", &actors::switch_record::cooldown_ms},
                {"drain", &actors::switch_record::drain_ms},
                {"sleep", &actors::switch_record::evict_ms},
                {"wake", &actors::switch_record::activate_ms}}};

double seconds(std::uint64_t milliseconds) {
  return static_cast<double>(milliseconds) / 1000.0;
}

double mebibytes(std::uint64_t mib) {
  return static_cast<double>(mib) * 1024.0 * 1024.0;
}

/// A family read from the snapshot at scrape time.
MetricFamily family(std::string name, std::string help, MetricType type) {
  MetricFamily out;
  out.name = std::move(name);
  out.help = std::move(help);
  out.type = type;
  return out;
}

void add(MetricFamily& to, std::vector<ClientMetric::Label> labels, double value) {
  ClientMetric metric;
  metric.label = std::move(labels);
  if (to.type == MetricType::Counter) {
    metric.counter.value = value;
  } else {
    metric.gauge.value = value;
  }
  to.metric.push_back(std::move(metric));
}

constexpr std::array engine_states{actors::lifecycle::stopped,  actors::lifecycle::starting,
                                   actors::lifecycle::active,   actors::lifecycle::evicting,
                                   actors::lifecycle::sleeping, actors::lifecycle::waking};

// A gateway's view of its nodes.
std::vector<MetricFamily> node_families(const std::vector<actors::node_snapshot>& nodes) {
  auto up
    = family("llmux_cluster_node_up",
             "1 for a node in rotation (linked, heartbeats arriving), else 0.", MetricType::Gauge);
  auto heard = family("llmux_cluster_node_last_heard_seconds",
                      "Seconds since the node's last heartbeat.", MetricType::Gauge);
  auto joins = family("llmux_cluster_node_joins_total", "Times the gateway joined the node.",
                      MetricType::Counter);
  auto routed = family("llmux_cluster_routed_total", "Requests the gateway sent to the node.",
                       MetricType::Counter);
  auto outstanding
    = family("llmux_cluster_outstanding",
             "Requests the gateway sent to the node that have not finished.", MetricType::Gauge);
  for (const auto& node : nodes) {
    add(up, {{"node", node.name}}, node.in_rotation ? 1 : 0);
    add(heard, {{"node", node.name}}, seconds(node.last_heard_ms));
    add(joins, {{"node", node.name}}, static_cast<double>(node.joins));
    add(routed, {{"node", node.name}}, static_cast<double>(node.routed));
    add(outstanding, {{"node", node.name}}, static_cast<double>(node.outstanding));
  }
  std::vector<MetricFamily> out;
  for (auto* each : {&up, &heard, &joins, &routed, &outstanding}) {
    out.push_back(std::move(*each));
  }
  return out;
}

std::vector<MetricFamily> snapshot_families(const actors::scheduler_snapshot& snapshot) {
  auto in_flight
    = family("llmux_in_flight", "Requests being served, per model.", MetricType::Gauge);
  auto queue = family("llmux_queue_depth", "Requests waiting for their model.", MetricType::Gauge);
  auto active = family("llmux_active_model_info",
                       "1 for each model on the GPU and serving (several under a memory budget).",
                       MetricType::Gauge);
  auto state = family("llmux_engine_state",
                      "1 for the lifecycle state each model's engine is in, 0 for the others.",
                      MetricType::Gauge);
  auto backoff = family("llmux_model_backoff_seconds",
                        "Seconds until a model that failed is tried again (0: not backing off).",
                        MetricType::Gauge);
  auto failures
    = family("llmux_model_failures_total", "Failed starts and wakes and engine deaths, per model.",
             MetricType::Counter);
  auto starts
    = family("llmux_engine_starts_total", "Engine (cold) starts, per model.", MetricType::Counter);
  auto cut = family("llmux_leases_cut_total",
                    "Requests cut before their end: the engine died or hung, or a drain reached "
                    "its deadline.",
                    MetricType::Counter);
  auto fallbacks = family("llmux_eviction_fallbacks_total",
                          "Evictions and wakes that did something else than asked: a failed "
                          "cuda-checkpoint or CRIU dump stopped the engine, a failed restore was "
                          "replaced by a cold start.",
                          MetricType::Counter);
  auto idle = family("llmux_idle_evictions_total",
                     "Times a model left the GPU after idle_ttl_secs without a request.",
                     MetricType::Counter);
  auto memory = family("llmux_model_gpu_memory_bytes",
                       "GPU memory a model holds as llmux plans it (awake, or left behind asleep), "
                       "per GPU: measured with nvidia-smi, else declared or estimated.",
                       MetricType::Gauge);
  for (const auto& model : snapshot.models) {
    add(in_flight, {{"model", model.name}}, static_cast<double>(model.in_flight));
    add(queue, {{"model", model.name}}, static_cast<double>(model.waiting));
    add(active, {{"model", model.name}}, model.awake ? 1 : 0);
    for (auto each : engine_states) {
      add(state, {{"model", model.name}, {"state", std::string(to_string(each))}},
          each == model.state ? 1 : 0);
    }
    add(backoff, {{"model", model.name}}, model.retry_in_secs);
    add(failures, {{"model", model.name}}, static_cast<double>(model.failures_total));
    add(starts, {{"model", model.name}}, static_cast<double>(model.engine_starts));
    add(cut, {{"model", model.name}}, static_cast<double>(model.leases_cut));
    add(fallbacks, {{"model", model.name}}, static_cast<double>(model.fallbacks_total));
    add(idle, {{"model", model.name}}, static_cast<double>(model.idle_evictions));
    add(memory, {{"model", model.name}}, mebibytes(model.gpu_memory_mib));
  }
  auto costs = family("llmux_switch_cost_estimate_seconds",
                      "Measured switch cost per direction (moving average).", MetricType::Gauge);
  for (const auto& cost : snapshot.costs) {
    add(costs, {{"from", cost.from}, {"to", cost.to}}, seconds(cost.estimate_ms));
  }
  auto serving = family("llmux_gpu_serving_seconds_total",
                        "Time a model was on the GPU and serving.", MetricType::Counter);
  add(serving, {}, seconds(snapshot.serving_ms));
  auto switching
    = family("llmux_gpu_switching_seconds_total", "Time spent in switches.", MetricType::Counter);
  add(switching, {}, seconds(snapshot.switching_ms));
  auto in_switch = family("llmux_switch_in_progress", "1 while a switch runs.", MetricType::Gauge);
  add(in_switch, {}, snapshot.switching.running ? 1 : 0);
  auto manual = family("llmux_manual_mode", "1 in manual mode.", MetricType::Gauge);
  add(manual, {}, snapshot.mode == actors::serving_mode::manual ? 1 : 0);
  auto budget = family("llmux_gpu_memory_budget_bytes",
                       "gpu_memory_budget_mib per GPU (0: none, one model awake at a time).",
                       MetricType::Gauge);
  add(budget, {}, mebibytes(snapshot.gpu_memory_budget_mib));
  std::vector<MetricFamily> out;
  for (auto* each :
       {&in_flight, &queue, &active, &state, &backoff, &failures, &starts, &cut, &fallbacks, &idle,
        &memory, &costs, &serving, &switching, &in_switch, &manual, &budget}) {
    out.push_back(std::move(*each));
  }
  if (!snapshot.nodes.empty()) {
    for (auto& each : node_families(snapshot.nodes)) {
      out.push_back(std::move(each));
    }
  }
  return out;
}

} // namespace

struct http_metrics::impl {
  prometheus::Registry registry;
  prometheus::Family<prometheus::Counter>& requests;
  prometheus::Family<prometheus::Histogram>& queue_wait;
  prometheus::Family<prometheus::Counter>& refused;
  prometheus::Family<prometheus::Counter>& responses;
  prometheus::Family<prometheus::Counter>& stalls;
  prometheus::Family<prometheus::Histogram>& phase_seconds;
  prometheus::Family<prometheus::Histogram>& switch_seconds;
  prometheus::Family<prometheus::Counter>& switches;
  prometheus::Family<prometheus::Counter>& switch_failures;

  /// Per model, made up front so that a request only looks its model up.
  struct model_series {
    prometheus::Counter* waited = nullptr;
    prometheus::Counter* not_waited = nullptr;
    prometheus::Histogram* wait = nullptr;
  };
  /// Read by every admitted request, written by reloads.
  mutable std::shared_mutex models_mutex;
  std::unordered_map<std::string, model_series> models;
  std::array<prometheus::Counter*, status_classes.size()> by_class{};

  explicit impl(const std::vector<std::string>& names)
    : requests(prometheus::BuildCounter()
                 .Name("llmux_requests_total")
                 .Help("Requests that got their lease, per model; waited: queued over 1 ms.")
                 .Register(registry)),
      queue_wait(prometheus::BuildHistogram()
                   .Name("llmux_request_queue_wait_seconds")
                   .Help("Time from arrival to lease, per model.")
                   .Register(registry)),
      refused(prometheus::BuildCounter()
                .Name("llmux_requests_refused_total")
                .Help("Requests for a configured model that got no lease, by reason.")
                .Register(registry)),
      responses(prometheus::BuildCounter()
                  .Name("llmux_http_responses_total")
                  .Help("Responses sent on the proxy port, by status class.")
                  .Register(registry)),
      stalls(prometheus::BuildCounter()
               .Name("llmux_relay_stalls_total")
               .Help("Relays ended because a side stopped moving (engine: silent engine, "
                     "client: a client that stopped reading).")
               .Register(registry)),
      phase_seconds(prometheus::BuildHistogram()
                      .Name("llmux_switch_phase_seconds")
                      .Help("Duration of each phase of successful switches.")
                      .Register(registry)),
      switch_seconds(prometheus::BuildHistogram()
                       .Name("llmux_switch_total_seconds")
                       .Help("Duration of successful switches.")
                       .Register(registry)),
      switches(prometheus::BuildCounter()
                 .Name("llmux_switches_total")
                 .Help("Successful switches, by direction (from \"\": an idle GPU).")
                 .Register(registry)),
      switch_failures(prometheus::BuildCounter()
                        .Name("llmux_switch_failures_total")
                        .Help("Switches whose target could not be started or woken.")
                        .Register(registry)) {
    add(names);
    for (std::size_t i = 0; i < status_classes.size(); ++i) {
      by_class[i] = &responses.Add({{"class", status_classes[i]}});
    }
  }

  void add(const std::vector<std::string>& names) {
    std::unique_lock lock(models_mutex);
    for (const auto& name : names) {
      if (models.count(name) > 0) {
        continue;
      }
      model_series series;
      series.waited = &requests.Add({{"model", name}, {"waited", "true"}});
      series.not_waited = &requests.Add({{"model", name}, {"waited", "false"}});
      series.wait = &queue_wait.Add({{"model", name}}, wait_buckets);
      for (auto reason : refusal_reasons) {
        refused.Add({{"model", name}, {"reason", std::string(reason_label(reason))}});
      }
      switch_failures.Add({{"to", name}});
      models.emplace(name, series);
    }
  }
};

http_metrics::http_metrics(const std::vector<std::string>& models)
  : impl_(std::make_unique<impl>(models)) {
}

http_metrics::~http_metrics() = default;

void http_metrics::add_models(const std::vector<std::string>& models) {
  impl_->add(models);
}

void http_metrics::request_admitted(const std::string& model,
                                    std::chrono::steady_clock::duration waited) {
  std::shared_lock lock(impl_->models_mutex);
  auto found = impl_->models.find(model);
  if (found == impl_->models.end()) {
    return;
  }
  auto& series = found->second;
  (waited > std::chrono::milliseconds(1) ? series.waited : series.not_waited)->Increment();
  series.wait->Observe(std::chrono::duration<double>(waited).count());
}

void http_metrics::request_refused(const std::string& model, actors::refusal reason) {
  impl_->refused.Add({{"model", model}, {"reason", std::string(reason_label(reason))}}).Increment();
}

void http_metrics::response_sent(int status) {
  auto index = status / 100 - 1;
  if (index >= 0 && index < static_cast<int>(status_classes.size())) {
    impl_->by_class[static_cast<std::size_t>(index)]->Increment();
  }
}

void http_metrics::relay_stalled(std::string_view model, stalled_side side) {
  impl_->stalls
    .Add(
      {{"model", std::string(model)}, {"side", side == stalled_side::engine ? "engine" : "client"}})
    .Increment();
}

void http_metrics::switch_ended(const actors::switch_record& record) {
  if (!record.ok) {
    impl_->switch_failures.Add({{"to", record.to}}).Increment();
    return;
  }
  prometheus::Labels direction{{"from", record.from}, {"to", record.to}};
  impl_->switches.Add(direction).Increment();
  impl_->switch_seconds.Add(direction, switch_buckets).Observe(seconds(record.total_ms));
  for (const auto& [phase, field] : phase_fields) {
    impl_->phase_seconds
      .Add({{"phase", std::string(phase)}, {"from", record.from}, {"to", record.to}},
           switch_buckets)
      .Observe(seconds(record.*field));
  }
}

std::string http_metrics::render(const actors::scheduler_snapshot* snapshot) const {
  auto families = impl_->registry.Collect();
  auto up
    = family("llmux_scheduler_up", "1 when the scheduler answered this scrape.", MetricType::Gauge);
  add(up, {}, snapshot != nullptr ? 1 : 0);
  families.push_back(std::move(up));
  if (snapshot != nullptr) {
    auto more = snapshot_families(*snapshot);
    std::move(more.begin(), more.end(), std::back_inserter(families));
  }
  return prometheus::TextSerializer().Serialize(families);
}

local_handler metrics_endpoint(http_metrics& metrics, actors::serving_backend& backend) {
  return [&metrics, &backend](local_request request, std::function<void(local_response)> respond) {
    if (request.path() != "/metrics") {
      respond(answer(404, "not found\n", "text/plain"));
      return;
    }
    if (request.method != "GET" && request.method != "HEAD") {
      auto refused = answer(405, "only GET\n", "text/plain");
      refused.headers.emplace_back("Allow", "GET, HEAD");
      respond(std::move(refused));
      return;
    }
    backend.snapshot(
      [&metrics, respond = std::move(respond)](std::optional<actors::scheduler_snapshot> snapshot) {
        respond(answer(200, metrics.render(snapshot ? &*snapshot : nullptr),
                       "text/plain; version=0.0.4; charset=utf-8"));
      });
  };
}

} // namespace llmux::http
