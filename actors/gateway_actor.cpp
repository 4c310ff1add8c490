#include <algorithm>
#include <array>
#include <set>
#include <unordered_map>

#include <arpa/inet.h>
#include <caf/actor_cast.hpp>
#include <caf/actor_system.hpp>
#include <caf/io/middleman.hpp>
#include <caf/io/middleman_actor.hpp>
#include <caf/send.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>
#include <fmt/format.h>
#include <netdb.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include "actors/gateway_actor.hpp"

namespace llmux::actors {

namespace {

using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

/// Until a node has measured a switch to a model, bringing it up there counts as this much: a
/// cold start of a mid-sized model.
constexpr auto unmeasured_switch = 10s;
/// What one request takes, to weigh queues against switches.
constexpr auto typical_service = 1s;
/// A node silent this many times the silence limit is given up on: the link is dropped and
/// made anew (a half-open link never ends by itself).
constexpr int silent_links_dropped_after = 10;

/// The numeric address of `host` (a name is resolved), or empty when it has none.
std::string numeric_host(const std::string& host) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (getaddrinfo(host.c_str(), nullptr, &hints, &found) != 0 || found == nullptr) {
    return {};
  }
  std::array<char, INET6_ADDRSTRLEN> text{};
  const void* address = nullptr;
  if (found->ai_family == AF_INET) {
    address = &reinterpret_cast<const sockaddr_in*>(found->ai_addr)->sin_addr;
  } else {
    address = &reinterpret_cast<const sockaddr_in6*>(found->ai_addr)->sin6_addr;
  }
  bool ok = inet_ntop(found->ai_family, address, text.data(), text.size()) != nullptr;
  freeaddrinfo(found);
  return ok ? std::string(text.data()) : std::string{};
}

struct granted_ticket {
  std::size_t node = 0;
  std::string model;
  revoke_callback revoked;
};

class gateway_state {
public:
  static constexpr const char* name = "gateway";

  explicit gateway_state(gateway_actor::stateful_pointer<gateway_state> self) : self_(self) {
  }

  gateway_state(const gateway_state&) = delete;
  gateway_state& operator=(const gateway_state&) = delete;

  gateway_actor::behavior_type
  make_behavior(gateway_settings settings, std::shared_ptr<model_directory> directory,
                std::shared_ptr<late_hook<const engine_address&, std::uint64_t>> retired) {
    settings_ = std::move(settings);
    directory_ = std::move(directory);
    retired_ = std::move(retired);
    log_ = spdlog::get("main");
    for (const auto& node : settings_.nodes) {
      node_link link;
      link.config = node;
      link.retry_wait = settings_.retry_first;
      links_.push_back(std::move(link));
    }
    self_->set_down_handler([this](const caf::down_msg& down) { node_down(down); });
    for (std::size_t i = 0; i < links_.size(); ++i) {
      connect(i);
    }
    self_->delayed_send(self_, settings_.heartbeat, tick_atom_v);
    return {
      [this](acquire_atom, std::uint64_t ticket, const std::string& model,
             lease_callbacks& callbacks) { acquire(ticket, model, std::move(callbacks)); },
      [this](release_atom, std::uint64_t ticket) { release(ticket); },
      [this](view_atom, node_view& view) { heard(std::move(view)); },
      [this](tick_atom) {
        if (from_self()) {
          check_silence();
          self_->delayed_send(self_, settings_.heartbeat, tick_atom_v);
        }
      },
      [this](join_atom, std::uint64_t index) {
        if (from_self() && index < links_.size() && !links_[index].in_rotation()) {
          connect(index);
        }
      },
      [this](status_atom) { return cluster_snapshot(links_, clock_type::now()); },
    };
  }

private:
  bool from_self() const {
    return self_->current_sender() == self_->ctrl();
  }

  // --- links -------------------------------------------------------------------------------

  void connect(std::size_t i) {
    auto& link = links_[i];
    auto attempt = ++link.attempt;
    if (link.phase != link_phase::silent) {
      link.phase = link_phase::connecting;
    }
    auto middleman = self_->home_system().middleman().actor_handle();
    self_
      ->request(middleman, settings_.link_timeout, caf::connect_atom_v, link.config.host,
                link.config.node_port)
      .then(
        [this, i, attempt](const caf::node_id& node, caf::strong_actor_ptr& actor,
                           const std::set<std::string>&) {
          if (links_[i].attempt != attempt) {
            return;
          }
          if (!actor) {
            unreachable(i, "nothing is published on that port");
            return;
          }
          join(i, attempt, node, std::move(actor));
        },
        [this, i, attempt](caf::error& error) {
          if (links_[i].attempt == attempt) {
            unreachable(i, to_string(error));
          }
        });
  }

  void join(std::size_t i, std::uint64_t attempt, const caf::node_id& node,
            caf::strong_actor_ptr actor) {
    auto handle = caf::actor_cast<node_actor>(actor);
    self_->request(handle, settings_.link_timeout, join_atom_v, settings_.secret, settings_.name)
      .then(
        [this, i, attempt, handle, node](node_view& view) {
          auto& link = links_[i];
          if (link.attempt != attempt) {
            return;
          }
          if (!view.accepted) {
            link.phase = link_phase::refused;
            link.last_error = fmt::format("the node refused to join: {}", view.error);
            log_->error("gateway: node {} ({}:{}) refused us: {}", link.config.name,
                        link.config.host, link.config.node_port, view.error);
            retry_later(i, settings_.retry_most);
            return;
          }
          joined(i, handle, node, std::move(view));
        },
        [this, i, attempt](caf::error& error) {
          if (links_[i].attempt == attempt) {
            unreachable(i, fmt::format("no answer to the join: {}", to_string(error)));
          }
        });
  }

  void joined(std::size_t i, node_actor handle, const caf::node_id& node, node_view view) {
    auto& link = links_[i];
    if (link.handle && link.handle != handle) {
      self_->demonitor(link.handle.address());
    }
    self_->monitor(handle);
    link.handle = std::move(handle);
    link.node = node;
    link.id = link.handle->id();
    // A node whose proxy listens on every address is reached where its node actor is.
    auto host = view.proxy_host.empty() ? link.config.host : view.proxy_host;
    auto numeric = numeric_host(host);
    if (numeric.empty()) {
      link.phase = link_phase::unreachable;
      link.last_error = fmt::format("its proxy host {} does not resolve", host);
      log_->error("gateway: node {}: {}", link.config.name, link.last_error);
      retry_later(i, settings_.retry_most);
      return;
    }
    link.proxy = engine_address{numeric, view.proxy_port};
    link.epoch = ++epochs_;
    link.phase = link_phase::serving;
    link.retry_wait = settings_.retry_first;
    ++link.joins;
    log_->info("gateway: node {} joined ({} model(s), proxy {}:{})", link.config.name,
               view.snapshot.models.size(), numeric, view.proxy_port);
    take_view(link, std::move(view));
  }

  void unreachable(std::size_t i, std::string why) {
    auto& link = links_[i];
    // Said once per reason, not at every retry.
    if (link.last_error != why) {
      log_->warn("gateway: node {} ({}:{}) unreachable: {}", link.config.name, link.config.host,
                 link.config.node_port, why);
    }
    link.phase = link_phase::unreachable;
    link.last_error = std::move(why);
    retry_later(i, link.retry_wait);
    link.retry_wait = std::min(link.retry_wait * 2, settings_.retry_most);
  }

  void retry_later(std::size_t i, std::chrono::milliseconds wait) {
    self_->delayed_send(self_, wait, join_atom_v, static_cast<std::uint64_t>(i));
  }

  // --- heartbeats and failures ----------------------------------------------------------

  std::optional<std::size_t> link_of_sender() const {
    const auto& sender = self_->current_sender();
    if (!sender) {
      return std::nullopt;
    }
    for (std::size_t i = 0; i < links_.size(); ++i) {
      if (links_[i].handle && links_[i].node == sender->node() && links_[i].id == sender->id()) {
        return i;
      }
    }
    return std::nullopt;
  }

  void heard(node_view view) {
    auto i = link_of_sender();
    if (!i || !view.accepted) {
      return;
    }
    auto& link = links_[*i];
    if (link.phase == link_phase::silent) {
      // Back on the same link (a node that was stopped and continued): in rotation again,
      // under a new epoch.
      link.phase = link_phase::serving;
      link.epoch = ++epochs_;
      log_->info("gateway: node {} is heard again", link.config.name);
    }
    if (link.phase == link_phase::serving) {
      take_view(link, std::move(view));
    }
  }

  void take_view(node_link& link, node_view view) {
    link.view = std::move(view);
    link.last_heard = clock_type::now();
    publish_models();
  }

  void check_silence() {
    auto now = clock_type::now();
    for (std::size_t i = 0; i < links_.size(); ++i) {
      auto& link = links_[i];
      auto quiet = now - link.last_heard;
      if (link.phase == link_phase::serving && quiet > settings_.silence_limit) {
        leave_rotation(
          i, link_phase::silent,
          fmt::format("no heartbeat for {} ms",
                      std::chrono::duration_cast<std::chrono::milliseconds>(quiet).count()));
      } else if (link.phase == link_phase::silent
                 && quiet > settings_.silence_limit * silent_links_dropped_after) {
        self_->demonitor(link.handle.address());
        link.handle = nullptr;
        unreachable(i, link.last_error);
      }
    }
  }

  void node_down(const caf::down_msg& down) {
    for (std::size_t i = 0; i < links_.size(); ++i) {
      auto& link = links_[i];
      if (link.handle && link.handle.address() == down.source) {
        link.handle = nullptr;
        if (link.in_rotation() || link.phase == link_phase::silent) {
          leave_rotation(i, link_phase::unreachable,
                         fmt::format("the link ended: {}", to_string(down.reason)));
        }
        link.retry_wait = settings_.retry_first;
        unreachable(i, link.last_error);
        return;
      }
    }
  }

  // The node's requests in flight end now (their relays are cut) rather than when TCP notices,
  // and connections kept to its proxy are not reused.
  void leave_rotation(std::size_t i, link_phase phase, std::string why) {
    auto& link = links_[i];
    log_->warn("gateway: node {} leaves rotation: {}", link.config.name, why);
    link.phase = phase;
    link.last_error = why;
    (*retired_)(link.proxy, link.epoch);
    auto reason = fmt::format("node {} left the cluster: {}", link.config.name, why);
    for (auto& [ticket, granted] : tickets_) {
      if (granted.node == i && granted.revoked) {
        auto revoked = std::move(granted.revoked);
        granted.revoked = nullptr;
        revoked(reason);
      }
    }
  }

  // The union of the models the nodes have (had) configured, in the order they appear.
  void publish_models() {
    std::vector<std::string> names;
    for (const auto& link : links_) {
      for (const auto& model : link.view.snapshot.models) {
        if (std::find(names.begin(), names.end(), model.name) == names.end()) {
          names.push_back(model.name);
        }
      }
    }
    if (names != published_) {
      published_ = names;
      directory_->set(std::move(names));
    }
  }

  // --- routing ---------------------------------------------------------------------------

  void acquire(std::uint64_t ticket, const std::string& model, lease_callbacks callbacks) {
    std::vector<route_candidate> candidates;
    candidates.reserve(links_.size());
    bool configured = false;
    std::uint32_t retry_after = 0;
    for (const auto& link : links_) {
      auto candidate = candidate_from(link.view.snapshot, model, link.sent, unmeasured_switch);
      for (const auto& each : link.view.snapshot.models) {
        if (each.name == model) {
          configured = true;
          if (link.in_rotation() && each.retry_in_secs > 0) {
            retry_after
              = retry_after == 0 ? each.retry_in_secs : std::min(retry_after, each.retry_in_secs);
          }
        }
      }
      candidate.serves = candidate.serves && link.in_rotation();
      candidates.push_back(candidate);
    }
    auto chosen = choose_node(candidates, settings_.strategy, turn_++, typical_service);
    if (!chosen) {
      callbacks.done(refusal_for(model, configured, retry_after));
      return;
    }
    auto& link = links_[*chosen];
    ++link.sent[model];
    ++link.routed;
    tickets_.emplace(ticket, granted_ticket{*chosen, model, std::move(callbacks.revoked)});
    lease_outcome lease;
    lease.granted = true;
    lease.engine_host = link.proxy.host;
    lease.engine_port = link.proxy.port;
    lease.node = link.config.name;
    lease.model_path = model;
    lease.engine_epoch = link.epoch;
    callbacks.done(std::move(lease));
  }

  lease_outcome refusal_for(const std::string& model, bool configured,
                            std::uint32_t retry_after) const {
    lease_outcome refused;
    if (!configured) {
      refused.reason = refusal::unknown_model;
      refused.message = fmt::format("no node of the cluster serves {}", model);
    } else if (retry_after > 0) {
      refused.reason = refusal::backing_off;
      refused.message = fmt::format("{} failed on every node that serves it", model);
      refused.retry_after_secs = retry_after;
    } else {
      refused.reason = refusal::no_node;
      refused.message = fmt::format("no node that serves {} is reachable", model);
      refused.retry_after_secs = 1;
    }
    return refused;
  }

  void release(std::uint64_t ticket) {
    auto found = tickets_.find(ticket);
    if (found == tickets_.end()) {
      return;
    }
    auto& link = links_[found->second.node];
    auto& sent = link.sent[found->second.model];
    sent -= sent > 0 ? 1 : 0;
    tickets_.erase(found);
  }

  gateway_actor::stateful_pointer<gateway_state> self_;
  gateway_settings settings_;
  std::shared_ptr<model_directory> directory_;
  std::shared_ptr<late_hook<const engine_address&, std::uint64_t>> retired_;
  std::shared_ptr<spdlog::logger> log_;
  std::vector<node_link> links_;
  std::unordered_map<std::uint64_t, granted_ticket> tickets_;
  std::vector<std::string> published_;
  std::uint64_t epochs_ = 0;
  std::uint64_t turn_ = 0;
};

gateway_actor::behavior_type
gateway_impl(gateway_actor::stateful_pointer<gateway_state> self, gateway_settings settings,
             std::shared_ptr<model_directory> directory,
             std::shared_ptr<late_hook<const engine_address&, std::uint64_t>> retired) {
  return self->state.make_behavior(std::move(settings), std::move(directory), std::move(retired));
}

} // namespace

gateway_actor
spawn_gateway(caf::actor_system& system, gateway_settings settings,
              std::shared_ptr<model_directory> directory,
              std::shared_ptr<late_hook<const engine_address&, std::uint64_t>> retired) {
  return system.spawn(gateway_impl, std::move(settings), std::move(directory), std::move(retired));
}

} // namespace llmux::actors
