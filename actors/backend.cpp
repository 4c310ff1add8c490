#include "actors/backend.hpp"

#include <atomic>
#include <mutex>
#include <unordered_map>

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>
#include <fmt/format.h>

#include "actors/scheduler.hpp"

namespace llmux::actors {

namespace {

using namespace std::chrono_literals;

constexpr auto status_timeout = 10s;
constexpr auto shutdown_margin = 15min;

/// One request's lease, from its acquire to its release.
///
/// ```
/// (release_atom)                             from the HTTP side: end the ticket
/// (revoke_atom, uint64 ticket, string why)   from the scheduler: the granted lease is taken back
/// ```
///
/// Acquire and release both go out from this actor, so a release never overtakes its acquire;
/// a revocation reaches the HTTP side through it.
using lease_session_actor
  = caf::typed_actor<caf::reacts_to<release_atom>,
                     caf::reacts_to<revoke_atom, std::uint64_t, std::string>>;

/// The HTTP side's callbacks for one acquire.
struct lease_callbacks {
  lease_callback done;
  revoke_callback revoked;
};

class lease_session_state {
public:
  static constexpr const char* name = "lease_session";

  explicit lease_session_state(lease_session_actor::stateful_pointer<lease_session_state> self)
    : self_(self) {
  }

  lease_session_state(const lease_session_state&) = delete;
  lease_session_state& operator=(const lease_session_state&) = delete;

  lease_session_actor::behavior_type make_behavior(scheduler_actor scheduler, std::uint64_t ticket,
                                                   const std::string& model,
                                                   std::chrono::milliseconds timeout,
                                                   lease_callbacks callbacks) {
    scheduler_ = std::move(scheduler);
    ticket_ = ticket;
    callbacks_ = std::move(callbacks);
    auto timeout_ms = static_cast<std::uint64_t>(timeout.count());
    self_
      ->request(scheduler_, acquire_reply_bound(timeout_ms), acquire_atom_v, ticket, model,
                timeout_ms)
      .then([this](lease_outcome& outcome) { answer(std::move(outcome)); },
            [this](caf::error& error) {
              // The scheduler may still hold the ticket: give it back before quitting.
              self_->send(scheduler_, release_atom_v, ticket_);
              released_ = true;
              lease_outcome refused;
              refused.status = 503;
              refused.message = fmt::format("the scheduler did not answer: {}", to_string(error));
              answer(std::move(refused));
            });
    return {
      [this](release_atom) {
        if (!released_) {
          released_ = true;
          self_->send(scheduler_, release_atom_v, ticket_);
        }
        if (answered_) {
          self_->quit();
        }
      },
      [this](revoke_atom, std::uint64_t, const std::string& reason) {
        if (!released_ && callbacks_.revoked) {
          auto revoked = std::move(callbacks_.revoked);
          callbacks_.revoked = nullptr;
          revoked(reason);
        }
      },
    };
  }

private:
  void answer(lease_outcome outcome) {
    answered_ = true;
    bool granted = outcome.granted;
    callbacks_.done(std::move(outcome));
    // A refused ticket is over; a granted one lives until its release.
    if (!granted || released_) {
      self_->quit();
    }
  }

  lease_session_actor::stateful_pointer<lease_session_state> self_;
  scheduler_actor scheduler_;
  std::uint64_t ticket_ = 0;
  lease_callbacks callbacks_;
  bool answered_ = false;
  bool released_ = false;
};

lease_session_actor::behavior_type
lease_session_impl(lease_session_actor::stateful_pointer<lease_session_state> self,
                   scheduler_actor scheduler, std::uint64_t ticket, std::string model,
                   std::chrono::milliseconds timeout, lease_callbacks callbacks) {
  return self->state.make_behavior(std::move(scheduler), ticket, model, timeout,
                                   std::move(callbacks));
}

// Reads the scheduler's status for the HTTP side, without blocking any thread.
caf::behavior status_reader_impl(caf::event_based_actor* self, scheduler_actor scheduler,
                                 std::function<void(std::string)> done) {
  self->request(scheduler, status_timeout, status_atom_v)
    .then(
      [done](std::string& text) { done(std::move(text)); },
      [done](caf::error& error) { done(fmt::format(R"({{"error":"{}"}})", to_string(error))); });
  return {};
}

class backend_impl : public actor_backend {
public:
  backend_impl(caf::actor_system& system, const config::config& cfg)
    : system_(system), scheduler_(spawn_scheduler(system, cfg)),
      warmup_timeout_(warmup_timeout(cfg)) {
    for (const auto& model : cfg.models) {
      names_.push_back(model.name);
    }
  }

  ~backend_impl() override {
    caf::anon_send_exit(scheduler_, caf::exit_reason::user_shutdown);
  }

  std::uint64_t acquire(const std::string& model, std::chrono::milliseconds timeout,
                        lease_callback done, revoke_callback revoked) override {
    auto ticket = next_ticket_++;
    auto session = system_.spawn(lease_session_impl, scheduler_, ticket, model, timeout,
                                 lease_callbacks{std::move(done), std::move(revoked)});
    std::lock_guard lock(sessions_mutex_);
    sessions_.emplace(ticket, std::move(session));
    return ticket;
  }

  void release(std::uint64_t ticket) override {
    lease_session_actor session;
    {
      std::lock_guard lock(sessions_mutex_);
      auto it = sessions_.find(ticket);
      if (it == sessions_.end()) {
        return;
      }
      session = std::move(it->second);
      sessions_.erase(it);
    }
    caf::anon_send(session, release_atom_v);
  }

  const std::vector<std::string>& model_names() const override {
    return names_;
  }

  void shutdown(std::chrono::milliseconds grace) override {
    caf::scoped_actor self{system_};
    self
      ->request(scheduler_, grace + shutdown_margin, shutdown_atom_v,
                static_cast<std::uint64_t>(grace.count()))
      .receive([](outcome&) {}, [](caf::error&) {});
  }

  std::string warmup() override {
    caf::scoped_actor self{system_};
    std::string error;
    self->request(scheduler_, warmup_timeout_, warmup_atom_v)
      .receive([&](outcome& warmed) { error = warmed.ok ? "" : warmed.error; },
               [&](caf::error& failure) { error = to_string(failure); });
    return error;
  }

  void status(std::function<void(std::string)> done) override {
    system_.spawn(status_reader_impl, scheduler_, std::move(done));
  }

private:
  caf::actor_system& system_;
  scheduler_actor scheduler_;
  std::chrono::milliseconds warmup_timeout_;
  std::atomic<std::uint64_t> next_ticket_{1};
  std::vector<std::string> names_;
  /// Every ticket not yet released, with the session actor that holds it.
  std::mutex sessions_mutex_;
  std::unordered_map<std::uint64_t, lease_session_actor> sessions_;
};

} // namespace

std::unique_ptr<actor_backend> make_actor_backend(caf::actor_system& system,
                                                  const config::config& cfg) {
  return std::make_unique<backend_impl>(system, cfg);
}

} // namespace llmux::actors
