#include "tools/llmux-sim/bound.hpp"

#include <algorithm>
#include <set>

#include "actors/eviction_plan.hpp"
#include "actors/sim_engine.hpp"

namespace llmux::tools::sim {

namespace {

using std::chrono::milliseconds;

double seconds(milliseconds duration) {
  return std::chrono::duration<double>(duration).count();
}

// What bringing the model back from its eviction costs, and what evicting it costs, as the
// simulated engine charges them.
milliseconds activation_cost(const config::eviction_policy& eviction,
                             const actors::sim_costs& costs) {
  if (eviction.process == config::process_strategy::stop) {
    return costs.cold_start;
  }
  return actors::plan_duration(actors::wake_plan(eviction, {}), costs);
}

milliseconds eviction_cost(const config::eviction_policy& eviction,
                           const actors::sim_costs& costs) {
  if (eviction.process == config::process_strategy::stop) {
    return costs.stop;
  }
  return actors::plan_duration(actors::eviction_plan(eviction, {}), costs);
}

// Each request's wait if its model had the GPU to itself: served in arrival order, up to
// `max_batch` at once, each as fast as it is alone. A real engine is never faster, and never
// free earlier, so no schedule gives a request a shorter wait.
std::vector<double> exclusive_waits(const std::vector<actors::sim_request>& workload,
                                    std::size_t max_batch) {
  std::vector<std::size_t> order(workload.size());
  for (std::size_t i = 0; i < order.size(); ++i) {
    order[i] = i;
  }
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    return workload[a].arrival < workload[b].arrival;
  });
  // Per model, when each of its engine's slots is free again.
  std::vector<std::multiset<milliseconds>> slots;
  std::vector<double> waits;
  for (auto i : order) {
    const auto& request = workload[i];
    if (slots.size() <= request.model) {
      slots.resize(request.model + 1);
    }
    auto& busy = slots[request.model];
    auto start = request.arrival;
    if (busy.size() >= std::max<std::size_t>(1, max_batch)) {
      start = std::max(start, *busy.begin());
      busy.erase(busy.begin());
    }
    busy.insert(start + request.service);
    waits.push_back(seconds(start - request.arrival));
  }
  return waits;
}

} // namespace

std::optional<offline_bound> bound_of(const config::config& cfg,
                                      const std::vector<actors::sim_costs>& costs,
                                      const std::vector<actors::sim_request>& workload,
                                      const actors::batching& serving, std::size_t awake_at_once) {
  offline_bound bound;
  std::set<std::size_t> requested;
  for (const auto& request : workload) {
    if (request.sent_after || !request.answered_after.empty()) {
      return std::nullopt;
    }
    requested.insert(request.model);
    bound.service_seconds += seconds(request.service);
  }
  std::vector<milliseconds> evictions;
  for (auto model : requested) {
    const auto& eviction = cfg.models.at(model).eviction;
    bound.switching_seconds += seconds(activation_cost(eviction, costs.at(model)));
    evictions.push_back(eviction_cost(eviction, costs.at(model)));
  }
  bound.switches = requested.size();
  std::sort(evictions.begin(), evictions.end());
  auto forced = requested.size() > awake_at_once ? requested.size() - awake_at_once : 0;
  for (std::size_t i = 0; i < forced; ++i) {
    bound.switching_seconds += seconds(evictions[i]);
  }
  if (serving.max_batch == 1 && bound.service_seconds + bound.switching_seconds > 0) {
    bound.gpu_serving_fraction
      = bound.service_seconds / (bound.service_seconds + bound.switching_seconds);
  }
  bound.p99_wait = actors::percentile(exclusive_waits(workload, serving.max_batch), 0.99);
  return bound;
}

} // namespace llmux::tools::sim
