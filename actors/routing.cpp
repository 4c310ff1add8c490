#include "actors/routing.hpp"

#include <algorithm>

namespace llmux::actors {

namespace {

// A switch made to take a request counts twice: bringing a model up on another node is paid
// again when that node's own models return, and a burst that has passed leaves the model spread
// for nothing. Spreading must save twice what it costs (with 1, two nodes switched more than
// round robin over the simulated suite; see BENCHMARKS.md, section 8).
constexpr long switch_weight = 2;

// What a request waits on the node before its service starts, as far as the views tell: the
// model's own requests ahead of it, and, when the model must first be brought up, the switch
// (weighted) and the work queued on the node before it.
std::chrono::milliseconds expected_wait(const route_candidate& node,
                                        std::chrono::milliseconds service) {
  auto ahead = static_cast<long>(node.waiting + node.in_flight);
  if (node.awake) {
    return service * ahead;
  }
  return (node.switch_cost + node.displaces) * switch_weight
         + service * (ahead + static_cast<long>(node.queued_on_node));
}

// The node's measured cost of bringing `model` up: the mean over the directions it has
// measured.
std::chrono::milliseconds switch_cost_to(const scheduler_snapshot& node, std::string_view model,
                                         std::chrono::milliseconds unmeasured) {
  std::uint64_t total = 0;
  std::uint64_t measured = 0;
  for (const auto& cost : node.costs) {
    if (cost.to == model && cost.estimate_ms > 0) {
      total += cost.estimate_ms;
      ++measured;
    }
  }
  return measured == 0 ? unmeasured : std::chrono::milliseconds(total / measured);
}

std::uint64_t queued(const model_snapshot& model, const sent_requests& sent) {
  auto found = sent.find(model.name);
  auto ours = found == sent.end() ? 0 : found->second;
  return std::max(model.waiting + model.in_flight, ours);
}

} // namespace

route_candidate candidate_from(const scheduler_snapshot& node, std::string_view model,
                               const sent_requests& sent,
                               std::chrono::milliseconds unmeasured_switch) {
  route_candidate candidate;
  for (const auto& each : node.models) {
    if (each.name == model) {
      candidate.serves = each.retry_in_secs == 0;
      candidate.awake = each.awake;
      candidate.waiting = queued(each, sent);
      continue;
    }
    candidate.queued_on_node += queued(each, sent);
    // A model pushed off may be asked for again: bringing it back costs its switch.
    if (each.awake) {
      candidate.displaces += switch_cost_to(node, each.name, unmeasured_switch);
    }
  }
  candidate.switch_cost = switch_cost_to(node, model, unmeasured_switch);
  return candidate;
}

std::string_view to_string(routing strategy) {
  switch (strategy) {
    case routing::affinity:
      return "affinity";
    case routing::round_robin:
      return "round_robin";
    case routing::least_loaded:
      return "least_loaded";
  }
  return "unknown";
}

std::optional<routing> routing_named(std::string_view name) {
  for (auto strategy : {routing::affinity, routing::round_robin, routing::least_loaded}) {
    if (to_string(strategy) == name) {
      return strategy;
    }
  }
  return std::nullopt;
}

std::optional<std::size_t> choose_node(std::span<const route_candidate> candidates,
                                       routing strategy, std::uint64_t turn,
                                       std::chrono::milliseconds service) {
  std::optional<std::size_t> best;
  auto size = candidates.size();
  for (std::size_t step = 0; step < size; ++step) {
    // Round robin starts its scan after the node the previous request went to; the others
    // scan in order, so ties go to the first node.
    auto i = strategy == routing::round_robin ? (turn + step) % size : step;
    const auto& node = candidates[i];
    if (!node.serves) {
      continue;
    }
    if (!best) {
      best = i;
      if (strategy == routing::round_robin) {
        return best;
      }
      continue;
    }
    const auto& chosen = candidates[*best];
    bool better = false;
    if (strategy == routing::least_loaded) {
      better = node.waiting + node.in_flight < chosen.waiting + chosen.in_flight;
    } else {
      better = expected_wait(node, service) < expected_wait(chosen, service);
    }
    if (better) {
      best = i;
    }
  }
  return best;
}

} // namespace llmux::actors
