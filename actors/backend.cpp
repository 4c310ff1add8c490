#include "actors/backend.hpp"

#include <algorithm>
#include <atomic>
#include <mutex>
#include <unordered_map>

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/io/middleman.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>
#include <fmt/format.h>

#include "actors/bridge.hpp"
#include "actors/expiry_timer.hpp"
#include "actors/node.hpp"
#include "actors/scheduler.hpp"

namespace llmux::actors {

namespace {

using namespace std::chrono_literals;

constexpr auto status_timeout = 10s;
constexpr auto shutdown_margin = 15min;
constexpr std::size_t session_actor_count = 2;

/// The leases that client connections ask the scheduler for. A few of these serve all
/// connections, each connection always the same one, so nothing is spawned per connection or
/// request and a waiting request costs no actor of its own.
///
/// ```
/// (acquire_atom, uint64 ticket, string model, uint64 timeout_ms, lease_callbacks)
///     from the HTTP side: ask the scheduler for a lease; `done` gets the outcome
/// (release_atom, uint64 ticket)              from the HTTP side: end the ticket
/// (revoke_atom, uint64 ticket, string why)   from the scheduler: the granted lease is taken back
/// (expire_atom, uint64 serial)               self: time to give up on the tickets whose answer
///                                            is overdue (only the wake-up scheduled last counts)
/// ```
///
/// A connection's acquires and releases all go out from one such actor, in the order the
/// connection made them, so a release never overtakes its acquire. If the scheduler ends,
/// every ticket still waiting is answered with `refusal::scheduler_gone`.
using session_actor = caf::typed_actor<
  caf::reacts_to<acquire_atom, std::uint64_t, std::string, std::uint64_t, lease_callbacks>,
  caf::reacts_to<release_atom, std::uint64_t>,
  caf::reacts_to<revoke_atom, std::uint64_t, std::string>,
  caf::reacts_to<expire_atom, std::uint64_t>>;

class session_state {
public:
  static constexpr const char* name = "session";

  explicit session_state(session_actor::stateful_pointer<session_state> self) : self_(self) {
  }

  session_state(const session_state&) = delete;
  session_state& operator=(const session_state&) = delete;

  session_actor::behavior_type make_behavior(scheduler_actor scheduler) {
    scheduler_ = std::move(scheduler);
    self_->monitor(scheduler_);
    self_->set_down_handler([this](caf::down_msg& down) {
      scheduler_gone_ = true;
      refuse_all(fmt::format("the scheduler ended: {}", to_string(down.reason)));
    });
    return {
      [this](acquire_atom, std::uint64_t ticket, const std::string& model, std::uint64_t timeout_ms,
             lease_callbacks& callbacks) {
        acquire(ticket, model, timeout_ms, std::move(callbacks));
      },
      [this](release_atom, std::uint64_t ticket) { release(ticket); },
      [this](revoke_atom, std::uint64_t ticket, const std::string& reason) {
        auto it = tickets_.find(ticket);
        if (it != tickets_.end() && !it->second.released && it->second.callbacks.revoked) {
          auto revoked = std::move(it->second.callbacks.revoked);
          it->second.callbacks.revoked = nullptr;
          revoked(reason);
        }
      },
      [this](expire_atom, std::uint64_t serial) {
        if (overdue_.woken(serial)) {
          give_up_overdue();
        }
      },
    };
  }

private:
  struct ticket_state {
    lease_callbacks callbacks;
    /// When the scheduler's answer is overdue.
    expiry_timer::clock::time_point answer_by;
    bool released = false;
  };

  // The scheduler answers every acquire by the request's own timeout; the reply's bound (a
  // margin beyond it) only guards against a scheduler that drops a request, and the monitor
  // covers one that ends. Only requests that wait come here: leases taken at a gate do not.
  // The bound is kept by the session's own timer, not as the request's reply timeout, which
  // CAF would keep until it passed however early the answer came.
  void acquire(std::uint64_t ticket, const std::string& model, std::uint64_t timeout_ms,
               lease_callbacks callbacks) {
    auto answer_by = self_->clock().now() + acquire_reply_bound(timeout_ms);
    tickets_.emplace(ticket, ticket_state{std::move(callbacks), answer_by});
    if (scheduler_gone_) {
      refuse_all("the scheduler has ended");
      return;
    }
    watch(answer_by);
    self_->request(scheduler_, caf::infinite, acquire_atom_v, ticket, model, timeout_ms)
      .then([this, ticket](lease_outcome& outcome) { answer(ticket, std::move(outcome)); },
            [this, ticket](caf::error& error) {
              // The scheduler may still hold the ticket: give it back.
              release(ticket);
              answer(ticket, scheduler_gone(
                               fmt::format("the scheduler did not answer: {}", to_string(error))));
            });
  }

  void watch(expiry_timer::clock::time_point answer_by) {
    if (auto wake = overdue_.watch(answer_by)) {
      self_->delayed_send(
        self_, std::max(wake->at - self_->clock().now(), expiry_timer::clock::duration{}),
        expire_atom_v, wake->serial);
    }
  }

  // The scheduler dropped these requests (or is stuck): their tickets go back and their
  // requests end. An answer that still comes finds nothing to answer.
  void give_up_overdue() {
    auto now = self_->clock().now();
    std::vector<std::uint64_t> overdue;
    std::optional<expiry_timer::clock::time_point> soonest;
    for (const auto& [ticket, held] : tickets_) {
      if (!held.callbacks.done) {
        continue; // answered: only its release is to come
      }
      if (held.answer_by <= now) {
        overdue.push_back(ticket);
      } else {
        soonest = soonest ? std::min(*soonest, held.answer_by) : held.answer_by;
      }
    }
    for (auto ticket : overdue) {
      release(ticket);
      answer(ticket, scheduler_gone("the scheduler did not answer in time"));
    }
    if (soonest) {
      watch(*soonest);
    }
  }

  static lease_outcome scheduler_gone(std::string why) {
    lease_outcome refused;
    refused.reason = refusal::scheduler_gone;
    refused.message = std::move(why);
    return refused;
  }

  // Answers every ticket still waiting: nothing will grant it any more.
  void refuse_all(const std::string& why) {
    std::vector<std::uint64_t> waiting;
    for (const auto& [ticket, held] : tickets_) {
      if (held.callbacks.done) {
        waiting.push_back(ticket);
      }
    }
    for (auto ticket : waiting) {
      answer(ticket, scheduler_gone(why));
    }
  }

  void release(std::uint64_t ticket) {
    auto it = tickets_.find(ticket);
    if (it == tickets_.end() || it->second.released) {
      return;
    }
    it->second.released = true;
    self_->send(scheduler_, release_atom_v, ticket);
    // Answered already (the callback was used): nothing more can happen to the ticket.
    if (!it->second.callbacks.done) {
      tickets_.erase(it);
    }
  }

  void answer(std::uint64_t ticket, lease_outcome outcome) {
    auto it = tickets_.find(ticket);
    if (it == tickets_.end() || !it->second.callbacks.done) {
      return;
    }
    auto done = std::move(it->second.callbacks.done);
    it->second.callbacks.done = nullptr;
    // A refused ticket is over; a granted one lives until its release.
    if (!outcome.granted || it->second.released) {
      tickets_.erase(it);
    }
    done(std::move(outcome));
  }

  session_actor::stateful_pointer<session_state> self_;
  scheduler_actor scheduler_;
  std::unordered_map<std::uint64_t, ticket_state> tickets_;
  /// The answers' bounds, one timer for all (a bound is a margin beyond the request's own
  /// timeout: a second late is soon enough).
  expiry_timer overdue_{std::chrono::seconds(1)};
  bool scheduler_gone_ = false;
};

session_actor::behavior_type session_impl(session_actor::stateful_pointer<session_state> self,
                                          scheduler_actor scheduler) {
  return self->state.make_behavior(std::move(scheduler));
}

/// The models' gates (lease_gate.hpp), shared by the scheduler and every session. Append-only
/// across reloads, as the scheduler's slots are: a gate keeps its index for good.
struct gate_set {
  std::vector<std::shared_ptr<lease_gate>> gates;
  /// The configured models' gates by name (a removed model's gate stays, unnamed).
  std::unordered_map<std::string, std::size_t> index;
  /// The configured names, in configuration order.
  std::vector<std::string> names;
};

/// The gate set the sessions use now; a reload publishes a new one.
class gate_directory {
public:
  explicit gate_directory(std::shared_ptr<const gate_set> first) : current_(std::move(first)) {
  }

  std::shared_ptr<const gate_set> current() const {
    std::lock_guard lock(mutex_);
    return current_;
  }

  /// Bumped by every `publish`, so that sessions notice with one atomic load.
  std::uint64_t generation() const {
    return generation_.load(std::memory_order_acquire);
  }

  void publish(std::shared_ptr<const gate_set> next) {
    std::lock_guard lock(mutex_);
    current_ = std::move(next);
    generation_.fetch_add(1, std::memory_order_release);
  }

  bool serves(const std::string& model) const {
    std::lock_guard lock(mutex_);
    return current_->index.count(model) > 0;
  }

private:
  mutable std::mutex mutex_;
  std::shared_ptr<const gate_set> current_;
  std::atomic<std::uint64_t> generation_{0};
};

/// One connection's session: leases taken at a gate never reach an actor; the others go through
/// the connection's session actor. Its destructor releases whatever is still held.
class actor_session : public serving_session {
public:
  actor_session(session_actor actor, scheduler_actor scheduler,
                std::shared_ptr<const gate_directory> directory,
                std::atomic<std::uint64_t>& next_ticket)
    : actor_(std::move(actor)), scheduler_(std::move(scheduler)), directory_(std::move(directory)),
      seen_generation_(directory_->generation()), gates_(directory_->current()),
      next_ticket_(next_ticket) {
  }
  actor_session(const actor_session&) = delete;
  actor_session& operator=(const actor_session&) = delete;

  ~actor_session() override {
    while (!at_gate_.empty()) {
      release(at_gate_.back().ticket);
    }
    for (auto ticket : asked_) {
      caf::anon_send(actor_, release_atom_v, ticket);
    }
  }

  std::optional<immediate_lease> try_acquire(const std::string& model,
                                             revoke_callback revoked) override {
    if (auto generation = directory_->generation(); generation != seen_generation_) {
      // A reload: the new set holds every gate of the old one at the same index.
      seen_generation_ = generation;
      gates_ = directory_->current();
    }
    auto found = gates_->index.find(model);
    if (found == gates_->index.end()) {
      return std::nullopt;
    }
    auto ticket = next_ticket_++;
    auto lease = gates_->gates[found->second]->try_enter(ticket, std::move(revoked));
    if (!lease) {
      return std::nullopt;
    }
    at_gate_.push_back({ticket, found->second});
    return immediate_lease{ticket, std::move(lease)};
  }

  std::uint64_t acquire(const std::string& model, std::chrono::milliseconds timeout,
                        lease_callback done, revoke_callback revoked) override {
    auto ticket = next_ticket_++;
    asked_.push_back(ticket);
    caf::anon_send(actor_, acquire_atom_v, ticket, model,
                   static_cast<std::uint64_t>(timeout.count()),
                   lease_callbacks{std::move(done), std::move(revoked)});
    return ticket;
  }

  void release(std::uint64_t ticket) override {
    auto taken = std::find_if(at_gate_.begin(), at_gate_.end(),
                              [ticket](const gate_ticket& held) { return held.ticket == ticket; });
    if (taken == at_gate_.end()) {
      if (auto asked = std::find(asked_.begin(), asked_.end(), ticket); asked != asked_.end()) {
        asked_.erase(asked);
        caf::anon_send(actor_, release_atom_v, ticket);
      }
      return;
    }
    auto model = taken->model;
    at_gate_.erase(taken);
    if (gates_->gates[model]->leave(ticket)) {
      caf::anon_send(scheduler_, idle_atom_v, static_cast<std::uint64_t>(model));
    }
  }

private:
  struct gate_ticket {
    std::uint64_t ticket;
    std::size_t model;
  };

  session_actor actor_;
  scheduler_actor scheduler_;
  std::shared_ptr<const gate_directory> directory_;
  std::uint64_t seen_generation_;
  std::shared_ptr<const gate_set> gates_;
  std::atomic<std::uint64_t>& next_ticket_;
  /// Leases this connection holds from a gate (rarely more than one).
  std::vector<gate_ticket> at_gate_;
  /// Tickets this connection asked the scheduler for and has not released.
  std::vector<std::uint64_t> asked_;
};

// The gate set for `cfg`'s models after `before` (none: the first): gates of models kept stay
// where they are, new models get new gates appended (listed in `added`, in order).
std::shared_ptr<const gate_set>
make_gates(const config::config& cfg, const gate_set* before = nullptr,
           std::vector<std::shared_ptr<lease_gate>>* added = nullptr) {
  auto made = std::make_shared<gate_set>();
  if (before != nullptr) {
    made->gates = before->gates;
  }
  for (const auto& model : cfg.models) {
    made->names.push_back(model.name);
    if (before != nullptr) {
      if (auto kept = before->index.find(model.name); kept != before->index.end()) {
        made->index.emplace(model.name, kept->second);
        continue;
      }
    }
    made->index.emplace(model.name, made->gates.size());
    made->gates.push_back(std::make_shared<lease_gate>());
    if (added != nullptr) {
      added->push_back(made->gates.back());
    }
  }
  return made;
}

class backend_impl : public actor_backend {
public:
  backend_impl(caf::actor_system& system, const config::config& cfg)
    : system_(system), gates_(std::make_shared<gate_directory>(make_gates(cfg))),
      scheduler_(spawn_scheduler(
        system, cfg, {},
        serving_hooks{[hook = retired_](const engine_address& engine, std::uint64_t epoch) {
                        (*hook)(engine, epoch);
                      },
                      [hook = switch_ended_](const switch_record& record) { (*hook)(record); },
                      gates_->current()->gates, reloads_})),
      warmup_timeout_(warmup_timeout(cfg)), control_bound_(control_reply_bound(cfg)) {
    // As many as CAF has workers: they carry only the requests that wait.
    for (std::size_t i = 0; i < session_actor_count; ++i) {
      session_actors_.push_back(system.spawn(session_impl, scheduler_));
    }
  }

  ~backend_impl() override {
    for (const auto& session : session_actors_) {
      caf::anon_send_exit(session, caf::exit_reason::user_shutdown);
    }
    caf::anon_send_exit(scheduler_, caf::exit_reason::user_shutdown);
  }

  std::unique_ptr<serving_session> open_session() override {
    auto& actor = session_actors_[next_session_++ % session_actors_.size()];
    return std::make_unique<actor_session>(actor, scheduler_, gates_, next_ticket_);
  }

  std::vector<std::string> model_names() const override {
    return gates_->current()->names;
  }

  bool serves(const std::string& model) const override {
    return gates_->serves(model);
  }

  void reload(config::config cfg, std::function<void(reload_outcome)> done) override {
    if (reloading_.exchange(true)) {
      done(reload_outcome{false, "another reload is in progress", {}, {}, {}});
      return;
    }
    std::vector<std::shared_ptr<lease_gate>> added;
    auto before = gates_->current();
    auto next = make_gates(cfg, before.get(), &added);
    {
      std::lock_guard lock(reloads_->mutex);
      reloads_->next = reload_box::pending{std::move(cfg), std::move(added)};
    }
    gates_->publish(next);
    std::function<void(std::optional<reload_outcome>)> answer
      = [this, done = std::move(done)](std::optional<reload_outcome> outcome) {
          reloading_ = false;
          done(outcome ? std::move(*outcome)
                       : reload_outcome{false, "the scheduler did not answer", {}, {}, {}});
        };
    system_.spawn(ask_once<reload_outcome, scheduler_actor, reload_atom>, scheduler_,
                  std::chrono::milliseconds(status_timeout), std::move(answer), reload_atom_v);
  }

  void shutdown(std::chrono::milliseconds grace) override {
    caf::scoped_actor self{system_};
    self
      ->request(scheduler_, grace + shutdown_margin, shutdown_atom_v,
                static_cast<std::uint64_t>(grace.count()))
      .receive([](outcome&) {}, [](caf::error&) {});
  }

  std::uint16_t publish_node(node_settings settings, const std::string& host, std::uint16_t port,
                             std::string& error) override {
    auto node = spawn_node(system_, scheduler_, std::move(settings));
    auto published = system_.middleman().publish(node, port, host.c_str(), true);
    if (!published) {
      error = fmt::format("cannot publish the cluster node on {}:{}: {}", host, port,
                          system_.render(published.error()));
      caf::anon_send_exit(node, caf::exit_reason::user_shutdown);
      return 0;
    }
    return *published;
  }

  std::string warmup() override {
    caf::scoped_actor self{system_};
    std::string error;
    self->request(scheduler_, warmup_timeout_, warmup_atom_v)
      .receive([&](outcome& warmed) { error = warmed.ok ? "" : warmed.error; },
               [&](caf::error& failure) { error = to_string(failure); });
    return error;
  }

  void snapshot(std::function<void(std::optional<scheduler_snapshot>)> done) override {
    system_.spawn(ask_once<scheduler_snapshot, scheduler_actor, status_atom>, scheduler_,
                  std::chrono::milliseconds(status_timeout), std::move(done), status_atom_v);
  }

  void control(control_request request, std::function<void(control_result)> done) override {
    std::function<void(std::optional<control_result>)> answer
      = [done = std::move(done)](std::optional<control_result> result) {
          done(result ? std::move(*result)
                      : control_result{control_error::scheduler_gone,
                                       "the scheduler did not answer in time"});
        };
    system_.spawn(ask_once<control_result, scheduler_actor, control_atom, control_request>,
                  scheduler_, control_bound_, std::move(answer), control_atom_v,
                  std::move(request));
  }

  void on_engine_retired(engine_retired_callback retired) override {
    retired_->set(std::move(retired));
  }

  void on_switch_ended(switch_ended_callback ended) override {
    switch_ended_->set(std::move(ended));
  }

private:
  caf::actor_system& system_;
  std::shared_ptr<late_hook<const engine_address&, std::uint64_t>> retired_
    = std::make_shared<late_hook<const engine_address&, std::uint64_t>>();
  std::shared_ptr<late_hook<const switch_record&>> switch_ended_
    = std::make_shared<late_hook<const switch_record&>>();
  std::shared_ptr<reload_box> reloads_ = std::make_shared<reload_box>();
  std::shared_ptr<gate_directory> gates_;
  scheduler_actor scheduler_;
  std::chrono::milliseconds warmup_timeout_;
  std::chrono::milliseconds control_bound_;
  std::atomic<std::uint64_t> next_ticket_{1};
  /// The session actors, handed to connections in turn.
  std::vector<session_actor> session_actors_;
  std::atomic<std::size_t> next_session_{0};
  std::atomic<bool> reloading_{false};
};

} // namespace

std::unique_ptr<actor_backend> make_actor_backend(caf::actor_system& system,
                                                  const config::config& cfg) {
  return std::make_unique<backend_impl>(system, cfg);
}

} // namespace llmux::actors
