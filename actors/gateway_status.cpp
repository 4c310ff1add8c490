#include <algorithm>

#include <fmt/format.h>

#include "actors/gateway_actor.hpp"

namespace llmux::actors {

namespace {

// A model over the cluster: awake where any node has it awake, its queues summed over the
// nodes in rotation.
void merge(scheduler_snapshot& out, const model_snapshot& model, bool in_rotation) {
  auto found = std::find_if(out.models.begin(), out.models.end(),
                            [&](const model_snapshot& each) { return each.name == model.name; });
  if (found == out.models.end()) {
    model_snapshot first;
    first.name = model.name;
    first.eviction = model.eviction;
    out.models.push_back(std::move(first));
    found = std::prev(out.models.end());
  }
  if (!in_rotation) {
    return;
  }
  if (model.awake || (!found->awake && model.state != lifecycle::stopped)) {
    found->state = model.state;
  }
  found->awake = found->awake || model.awake;
  found->waiting += model.waiting;
  found->in_flight += model.in_flight;
  found->failures_total += model.failures_total;
  found->engine_starts += model.engine_starts;
  found->leases_cut += model.leases_cut;
}

} // namespace

std::string_view to_string(link_phase phase) {
  switch (phase) {
    case link_phase::connecting:
      return "connecting";
    case link_phase::serving:
      return "serving";
    case link_phase::silent:
      return "silent";
    case link_phase::refused:
      return "refused";
    case link_phase::unreachable:
      return "unreachable";
  }
  return "unknown";
}

scheduler_snapshot cluster_snapshot(const std::vector<node_link>& links,
                                    std::chrono::steady_clock::time_point now) {
  scheduler_snapshot out;
  for (const auto& link : links) {
    node_snapshot node;
    node.name = link.config.name;
    node.address = fmt::format("{}:{}", link.config.host, link.config.node_port);
    if (link.joins > 0) {
      node.proxy = fmt::format("{}:{}", link.proxy.ip(), link.proxy.port);
      node.last_heard_ms = static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::milliseconds>(now - link.last_heard).count());
    }
    node.state = std::string(to_string(link.phase));
    node.in_rotation = link.in_rotation();
    node.joins = link.joins;
    node.last_error = link.last_error;
    node.awake = link.view.snapshot.awake;
    node.routed = link.routed;
    for (const auto& [model, count] : link.sent) {
      node.outstanding += count;
    }
    out.switches += link.view.snapshot.switches;
    out.switch_failures += link.view.snapshot.switch_failures;
    for (const auto& model : link.view.snapshot.models) {
      node.models.push_back(model.name);
      node.waiting += model.waiting;
      node.in_flight += model.in_flight;
      merge(out, model, link.in_rotation());
    }
    out.nodes.push_back(std::move(node));
  }
  for (const auto& model : out.models) {
    if (model.awake) {
      out.awake.push_back(model.name);
    }
  }
  if (!out.awake.empty()) {
    out.active = out.awake.front();
  }
  return out;
}

} // namespace llmux::actors
