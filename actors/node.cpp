#include "actors/node.hpp"

#include <algorithm>
#include <vector>

#include <caf/actor_cast.hpp>
#include <caf/actor_system.hpp>
#include <caf/send.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>
#include <spdlog/spdlog.h>

#include "config/secret.hpp"

namespace llmux::actors {

namespace {

class node_state {
public:
  static constexpr const char* name = "node";

  explicit node_state(node_actor::stateful_pointer<node_state> self) : self_(self) {
  }

  node_actor::behavior_type make_behavior(scheduler_actor scheduler, node_settings settings) {
    scheduler_ = std::move(scheduler);
    settings_ = std::move(settings);
    log_ = spdlog::get("main");
    self_->set_down_handler([this](const caf::down_msg& down) {
      std::erase_if(subscribers_,
                    [&](const node_subscriber& each) { return each.address() == down.source; });
    });
    self_->send(self_, tick_atom_v);
    return {
      [this](join_atom, const std::string& secret, const std::string& gateway)
        -> caf::result<node_view> { return join(secret, gateway); },
      [this](tick_atom) {
        // Only its own timer: a peer on the link cannot make it push more often.
        if (self_->current_sender() == self_->ctrl()) {
          heartbeat();
        }
      },
    };
  }

private:
  caf::result<node_view> join(const std::string& secret, const std::string& gateway) {
    node_view view;
    view.node = settings_.name;
    if (!config::same_secret(secret, settings_.secret)) {
      log_->warn(
        "node: refused {} from {}: wrong cluster secret", gateway.empty() ? "a gateway" : gateway,
        to_string(self_->current_sender() ? self_->current_sender()->node() : caf::node_id{}));
      view.accepted = false;
      view.error = "wrong cluster secret";
      return view;
    }
    auto subscriber = caf::actor_cast<node_subscriber>(self_->current_sender());
    if (subscriber
        && std::none_of(subscribers_.begin(), subscribers_.end(),
                        [&](const node_subscriber& each) { return each == subscriber; })) {
      self_->monitor(subscriber);
      subscribers_.push_back(subscriber);
      log_->info("node: {} joined", gateway.empty() ? "a gateway" : gateway);
    }
    auto promise = self_->make_response_promise<node_view>();
    self_->request(scheduler_, settings_.heartbeat * 4, status_atom_v)
      .then(
        [this, promise](scheduler_snapshot& snapshot) mutable {
          promise.deliver(accepted_view(std::move(snapshot)));
        },
        [this, promise](caf::error& error) mutable {
          node_view failed;
          failed.node = settings_.name;
          failed.accepted = false;
          failed.error = "the scheduler did not answer: " + to_string(error);
          promise.deliver(std::move(failed));
        });
    return promise;
  }

  node_view accepted_view(scheduler_snapshot snapshot) const {
    node_view view;
    view.accepted = true;
    view.node = settings_.name;
    view.proxy_host = settings_.proxy_host;
    view.proxy_port = settings_.proxy_port;
    view.snapshot = std::move(snapshot);
    return view;
  }

  // Every heartbeat the subscribers hear the view, changed or not: its arrival is what tells a
  // gateway that the node (and the link to it) is alive.
  void heartbeat() {
    self_->delayed_send(self_, settings_.heartbeat, tick_atom_v);
    if (subscribers_.empty()) {
      return;
    }
    self_->request(scheduler_, settings_.heartbeat * 4, status_atom_v)
      .then([this](scheduler_snapshot& snapshot) {
        auto view = accepted_view(std::move(snapshot));
        for (const auto& subscriber : subscribers_) {
          // Sent as the node, so the gateway tells its nodes' heartbeats apart.
          self_->send(subscriber, view_atom_v, view);
        }
      });
  }

  node_actor::stateful_pointer<node_state> self_;
  scheduler_actor scheduler_;
  node_settings settings_;
  std::shared_ptr<spdlog::logger> log_;
  std::vector<node_subscriber> subscribers_;
};

node_actor::behavior_type node_impl(node_actor::stateful_pointer<node_state> self,
                                    scheduler_actor scheduler, node_settings settings) {
  return self->state.make_behavior(std::move(scheduler), std::move(settings));
}

} // namespace

node_actor spawn_node(caf::actor_system& system, scheduler_actor scheduler,
                      node_settings settings) {
  return system.spawn(node_impl, std::move(scheduler), std::move(settings));
}

} // namespace llmux::actors
