#include "actors/simulation.hpp"

#include <algorithm>
#include <cmath>
#include <deque>
#include <map>
#include <set>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/scheduler/test_coordinator.hpp>
#include <caf/send.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>
#include <spdlog/spdlog.h>

#include "actors/scheduler.hpp"
#include "config/logging.hpp"

namespace llmux::actors {

namespace {

using namespace std::chrono_literals;

/// The simulated clients and, with several nodes, the gateway in front of them: `(step_atom,
/// i)` is the arrival of request i, `(release_atom, i)` the end of its service; a scheduler's
/// `(revoke_atom, ticket, reason)` cuts a request in service (a drain deadline); `(tick_atom)`
/// reads every node's status (the gateway's heartbeat).
using driver_actor = caf::typed_actor<
  caf::reacts_to<step_atom, std::uint64_t>, caf::reacts_to<release_atom, std::uint64_t>,
  caf::reacts_to<revoke_atom, std::uint64_t, std::string>, caf::reacts_to<tick_atom>>;

class driver_state {
public:
  static constexpr const char* name = "sim_driver";

  explicit driver_state(driver_actor::stateful_pointer<driver_state> self) : self_(self) {
  }

  driver_actor::behavior_type make_behavior(std::vector<scheduler_actor> nodes,
                                            const config::config& cfg,
                                            std::vector<sim_request> workload, batching serving,
                                            sim_cluster cluster, std::shared_ptr<sim_run> run) {
    nodes_ = std::move(nodes);
    workload_ = std::move(workload);
    serving_ = serving;
    cluster_ = cluster;
    run_ = std::move(run);
    timeout_ms_ = cfg.policy.request_timeout_secs * 1000;
    for (const auto& model : cfg.models) {
      names_.push_back(model.name);
    }
    engines_.assign(nodes_.size(), std::vector<engine>(names_.size()));
    views_.assign(nodes_.size(), node_knowledge{std::vector<bool>(names_.size(), false),
                                                std::vector<std::chrono::milliseconds>(
                                                  names_.size(), std::chrono::seconds(10))});
    sent_dependents_.resize(workload_.size());
    answered_dependents_.resize(workload_.size());
    unmet_.resize(workload_.size());
    node_of_.assign(workload_.size(), 0);
    run_->requests.resize(workload_.size());
    // Like a daemon with warmup, every model starts warm (evicted, not cold): the workload
    // measures switching, not first starts.
    for (const auto& node : nodes_) {
      self_->request(node, warmup_timeout(cfg), warmup_atom_v)
        .then([this](outcome&) { warmed(); }, [this](caf::error&) { warmed(); });
    }
    return {
      [this](step_atom, std::uint64_t i) { arrive(i); },
      [this](release_atom, std::uint64_t i) { finish(i); },
      [this](revoke_atom, std::uint64_t ticket, const std::string&) {
        revoked_.insert(ticket - 1);
      },
      [this](tick_atom) { heartbeat(); },
    };
  }

private:
  /// One node's engine of one model, as the driver plays its clients.
  struct engine {
    std::size_t running = 0;
    std::deque<std::uint64_t> queue;
    /// Requests routed here that have not finished (waiting at the node or in service).
    std::uint64_t routed = 0;
  };

  /// What the gateway knows of a node from its last status.
  struct node_knowledge {
    std::vector<bool> awake;
    std::vector<std::chrono::milliseconds> switch_cost;
  };

  void warmed() {
    if (++warmed_ < nodes_.size()) {
      return;
    }
    start_ = self_->clock().now();
    run_->measured_from = start_;
    for (std::uint64_t i = 0; i < workload_.size(); ++i) {
      const auto& request = workload_[i];
      if (request.sent_after) {
        sent_dependents_[*request.sent_after].push_back(i);
      }
      for (auto earlier : request.answered_after) {
        answered_dependents_[earlier].push_back(i);
      }
      unmet_[i] = request.answered_after.size();
      if (!request.sent_after && request.answered_after.empty()) {
        self_->delayed_send(self_, request.arrival, step_atom_v, i);
      }
    }
    if (nodes_.size() > 1) {
      heartbeat();
    }
  }

  // Reads every node's status, as a gateway hears its nodes, while requests are outstanding.
  void heartbeat() {
    if (done_ == workload_.size()) {
      return;
    }
    self_->delayed_send(self_, cluster_.heartbeat, tick_atom_v);
    for (std::size_t n = 0; n < nodes_.size(); ++n) {
      self_->request(nodes_[n], cluster_.heartbeat, status_atom_v)
        .then([this, n](scheduler_snapshot& snapshot) { learn(n, snapshot); }, [](caf::error&) {});
    }
  }

  void learn(std::size_t node, const scheduler_snapshot& snapshot) {
    auto& view = views_[node];
    for (std::size_t m = 0; m < names_.size() && m < snapshot.models.size(); ++m) {
      view.awake[m] = snapshot.models[m].awake;
    }
    for (const auto& cost : snapshot.costs) {
      auto to = std::find(names_.begin(), names_.end(), cost.to);
      if (to != names_.end()) {
        view.switch_cost[static_cast<std::size_t>(to - names_.begin())]
          = std::chrono::milliseconds(cost.estimate_ms);
      }
    }
  }

  std::size_t route(std::size_t model) {
    if (nodes_.size() == 1) {
      return 0;
    }
    // What the gateway knows: the requests it sent that have not finished, and each node's
    // awake models and switch costs from its last status.
    std::vector<route_candidate> candidates;
    for (std::size_t n = 0; n < nodes_.size(); ++n) {
      const auto& view = views_[n];
      route_candidate candidate{true, view.awake[model],      engines_[n][model].routed, 0,
                                0,    view.switch_cost[model]};
      for (std::size_t other = 0; other < names_.size(); ++other) {
        if (other == model) {
          continue;
        }
        candidate.queued_on_node += engines_[n][other].routed;
        // A model pushed off may be asked for again: bringing it back costs its switch.
        if (view.awake[other]) {
          candidate.displaces += view.switch_cost[other];
        }
      }
      candidates.push_back(candidate);
    }
    auto service = std::chrono::duration_cast<std::chrono::milliseconds>(
      workload_.empty() ? clock_type::duration{} : workload_.front().service);
    return choose_node(candidates, cluster_.strategy, turn_++, service).value_or(0);
  }

  clock_type::duration elapsed() const {
    return self_->clock().now() - start_;
  }

  // Sends the closed-loop requests that wait for request `i` to be sent (or answered).
  void release_dependents(std::uint64_t i, bool answered) {
    if (!answered) {
      for (auto j : sent_dependents_[i]) {
        self_->delayed_send(self_, workload_[j].arrival, step_atom_v,
                            static_cast<std::uint64_t>(j));
      }
      return;
    }
    for (auto j : answered_dependents_[i]) {
      if (--unmet_[j] == 0) {
        self_->delayed_send(self_, workload_[j].arrival, step_atom_v,
                            static_cast<std::uint64_t>(j));
      }
    }
  }

  void arrive(std::uint64_t i) {
    run_->requests[i].arrival = elapsed();
    const auto& request = workload_[i];
    auto node = route(request.model);
    node_of_[i] = node;
    ++engines_[node][request.model].routed;
    run_->requests[i].model = request.model;
    run_->requests[i].node = node;
    release_dependents(i, false);
    self_
      ->request(nodes_[node], acquire_reply_bound(timeout_ms_), acquire_atom_v, i + 1,
                names_[request.model], timeout_ms_)
      .then(
        [this, i](lease_outcome& outcome) {
          auto& engine = engines_[node_of_[i]][workload_[i].model];
          if (!outcome.granted) {
            --engine.routed;
            run_->requests[i].ended = true;
            run_->requests[i].finished = elapsed();
            release_dependents(i, true);
            count_done();
            return;
          }
          run_->requests[i].granted = elapsed();
          if (engine.running < serving_.max_batch) {
            serve(i);
          } else {
            engine.queue.push_back(i);
          }
        },
        [this, i](caf::error&) {
          --engines_[node_of_[i]][workload_[i].model].routed;
          run_->requests[i].ended = true;
          count_done();
        });
  }

  void serve(std::uint64_t i) {
    run_->requests[i].started = elapsed();
    auto together = ++engines_[node_of_[i]][workload_[i].model].running;
    auto took = std::chrono::duration_cast<std::chrono::milliseconds>(
      workload_[i].service * std::pow(static_cast<double>(together), serving_.growth));
    self_->delayed_send(self_, took, release_atom_v, i);
  }

  void finish(std::uint64_t i) {
    auto node = node_of_[i];
    auto& engine = engines_[node][workload_[i].model];
    --engine.running;
    --engine.routed;
    // A cut request still occupied the simulated engine until now, but its client got an error.
    bool cut = revoked_.count(i) > 0;
    run_->requests[i].served = !cut;
    run_->requests[i].ended = true;
    run_->requests[i].finished = elapsed();
    self_->send(nodes_[node], release_atom_v, i + 1);
    release_dependents(i, true);
    if (!engine.queue.empty()) {
      auto next = engine.queue.front();
      engine.queue.pop_front();
      serve(next);
    }
    count_done();
  }

  void count_done() {
    if (++done_ == workload_.size()) {
      run_->ended = elapsed();
    }
  }

  driver_actor::stateful_pointer<driver_state> self_;
  std::vector<scheduler_actor> nodes_;
  std::vector<sim_request> workload_;
  batching serving_;
  sim_cluster cluster_;
  std::shared_ptr<sim_run> run_;
  std::uint64_t timeout_ms_ = 0;
  std::vector<std::string> names_;
  /// Per node, per model.
  std::vector<std::vector<engine>> engines_;
  std::vector<node_knowledge> views_;
  std::vector<std::size_t> node_of_;
  std::uint64_t turn_ = 0;
  std::size_t warmed_ = 0;
  std::set<std::uint64_t> revoked_;
  std::vector<std::vector<std::size_t>> sent_dependents_;
  std::vector<std::vector<std::size_t>> answered_dependents_;
  std::vector<std::size_t> unmet_;
  clock_type::time_point start_;
  std::size_t done_ = 0;
};

driver_actor::behavior_type driver_impl(driver_actor::stateful_pointer<driver_state> self,
                                        std::vector<scheduler_actor> nodes, config::config cfg,
                                        std::vector<sim_request> workload, batching serving,
                                        sim_cluster cluster, std::shared_ptr<sim_run> run) {
  return self->state.make_behavior(std::move(nodes), cfg, std::move(workload), serving, cluster,
                                   std::move(run));
}

double seconds_of(clock_type::duration d) {
  return std::chrono::duration<double>(d).count();
}

} // namespace

sim_run simulate(const config::config& cfg, const std::vector<sim_costs>& costs,
                 const std::vector<sim_request>& workload, const batching& serving,
                 const sim_cluster& cluster) {
  if (!spdlog::get("sched")) {
    config::setup_logging(*config::parse_log_levels("off"), false);
  }
  caf::actor_system_config system_config;
  system_config.set("scheduler.policy", caf::atom("testing"));
  system_config.add_message_types<caf::id_block::llmux>();
  caf::actor_system system{system_config};
  auto& coordinator = dynamic_cast<caf::scheduler::test_coordinator&>(system.scheduler());
  auto timeline = std::make_shared<sim_timeline>();
  auto run = std::make_shared<sim_run>();
  auto deadlines = engine_deadlines::from(cfg);
  // Each model's engine needs its own costs and index (and node): one engine factory per model.
  std::vector<scheduler_actor> nodes;
  for (std::size_t node = 0; node < std::max<std::size_t>(1, cluster.nodes); ++node) {
    model_factory per_model
      = [&costs, timeline, deadlines, &cfg,
         node](caf::actor_system& sys, const config::model_config& model, caf::actor scheduler) {
          std::size_t index = 0;
          for (std::size_t i = 0; i < cfg.models.size(); ++i) {
            if (cfg.models[i].name == model.name) {
              index = i;
            }
          }
          engine_factory engines
            = [index, cost = costs.at(index), timeline,
               node](caf::actor_system& inner, const config::model_config&, caf::actor) {
                return spawn_sim_engine(inner, index, cost, timeline, node);
              };
          return spawn_model(sys, model, deadlines, engines, std::move(scheduler));
        };
    nodes.push_back(spawn_scheduler(system, cfg, per_model));
  }
  run->max_batch = serving.max_batch;
  auto driver = system.spawn(driver_impl, nodes, cfg, workload, serving, cluster, run);
  // Discrete-event loop: run every ready message, then jump to the next timeout.
  auto all_done = [&] {
    return std::all_of(run->requests.begin(), run->requests.end(),
                       [](const sim_outcome& r) { return r.ended; });
  };
  coordinator.run();
  while (!(run->requests.size() == workload.size() && all_done())) {
    if (!coordinator.trigger_timeout()) {
      break;
    }
    coordinator.run();
  }
  auto start = run->measured_from;
  for (const auto& operation : timeline->operations) {
    if (operation.began < start) {
      continue; // warmup
    }
    auto shifted = operation;
    shifted.began = clock_type::time_point{} + (operation.began - start);
    shifted.ended = clock_type::time_point{} + (operation.ended - start);
    run->operations.push_back(shifted);
  }
  caf::anon_send_exit(driver, caf::exit_reason::user_shutdown);
  for (const auto& node : nodes) {
    caf::anon_send_exit(node, caf::exit_reason::user_shutdown);
  }
  coordinator.run();
  return *run;
}

sim_summary summarize(const sim_run& run) {
  sim_summary summary;
  auto waits = served_waits(run);
  std::vector<std::pair<double, double>> service;
  for (const auto& request : run.requests) {
    if (!request.served) {
      ++summary.failed;
      continue;
    }
    ++summary.served;
    service.emplace_back(seconds_of(request.started), seconds_of(request.finished));
  }
  for (const auto& operation : run.operations) {
    summary.switching_seconds += seconds_of(operation.ended - operation.began);
    if (operation.what == sim_operation::kind::start
        || operation.what == sim_operation::kind::wake) {
      ++summary.switches;
    }
  }
  // Serving time: the union of the intervals in which at least one request is in service.
  std::sort(service.begin(), service.end());
  double covered_until = 0;
  for (const auto& [from, to] : service) {
    auto begin = std::max(from, covered_until);
    if (to > begin) {
      summary.serving_seconds += to - begin;
      covered_until = to;
    }
  }
  auto busy = summary.serving_seconds + summary.switching_seconds;
  summary.gpu_serving_fraction = busy > 0 ? summary.serving_seconds / busy : 0;
  summary.requests_per_gpu_second = busy > 0 ? static_cast<double>(summary.served) / busy : 0;
  if (!waits.empty()) {
    double total = 0;
    for (double wait : waits) {
      total += wait;
    }
    summary.mean_wait = total / static_cast<double>(waits.size());
    summary.p50_wait = percentile(waits, 0.50);
    summary.p99_wait = percentile(waits, 0.99);
    summary.max_wait = *std::max_element(waits.begin(), waits.end());
    auto for_gpu = gpu_waits(run);
    summary.max_gpu_wait = *std::max_element(for_gpu.begin(), for_gpu.end());
  }
  return summary;
}

std::vector<double> gpu_waits(const sim_run& run) {
  // Per model, the intervals in which its engine ran a full batch: a sweep over service starts
  // (+1) and ends (-1).
  using engine = std::pair<std::size_t, std::size_t>; // node, model
  std::map<engine, std::vector<std::pair<double, int>>> changes;
  for (const auto& request : run.requests) {
    if (request.served) {
      changes[{request.node, request.model}].emplace_back(seconds_of(request.started), +1);
      changes[{request.node, request.model}].emplace_back(seconds_of(request.finished), -1);
    }
  }
  std::map<engine, std::vector<std::pair<double, double>>> full;
  for (auto& [model, events] : changes) {
    std::sort(events.begin(), events.end());
    std::size_t running = 0;
    double full_since = 0;
    for (const auto& [at, change] : events) {
      bool was_full = running >= run.max_batch;
      running = change > 0 ? running + 1 : running - 1;
      if (!was_full && running >= run.max_batch) {
        full_since = at;
      } else if (was_full && running < run.max_batch && at > full_since) {
        full[model].emplace_back(full_since, at);
      }
    }
  }
  std::vector<double> waits;
  for (const auto& request : run.requests) {
    if (!request.served) {
      continue;
    }
    auto from = seconds_of(request.arrival);
    auto to = seconds_of(request.started);
    double behind_own = 0;
    for (const auto& [begin, end] : full[{request.node, request.model}]) {
      behind_own += std::max(0.0, std::min(end, to) - std::max(begin, from));
    }
    waits.push_back(to - from - behind_own);
  }
  return waits;
}

std::vector<double> served_waits(const sim_run& run) {
  std::vector<double> waits;
  for (const auto& request : run.requests) {
    if (request.served) {
      waits.push_back(seconds_of(request.started - request.arrival));
    }
  }
  return waits;
}

double percentile(std::vector<double> values, double share) {
  if (values.empty()) {
    return 0;
  }
  std::sort(values.begin(), values.end());
  auto rank = static_cast<std::size_t>(std::ceil(share * static_cast<double>(values.size())));
  return values[std::min(values.size() - 1, rank == 0 ? 0 : rank - 1)];
}

} // namespace llmux::actors
