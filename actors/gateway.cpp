#include "actors/gateway.hpp"

#include <atomic>
#include <thread>
#include <unordered_set>

#include <caf/actor_system.hpp>
#include <caf/send.hpp>

#include "actors/gateway_actor.hpp"

namespace llmux::actors {

namespace {

using namespace std::chrono_literals;

constexpr auto status_timeout = 10s;

/// One client connection's way to the gateway. The gateway answers every acquire at once (the
/// nodes queue), so nothing here waits.
class gateway_session : public serving_session {
public:
  /// What the backend counts over all sessions.
  struct shared_counts {
    std::atomic<bool> stopped{false};
    std::atomic<std::uint64_t> next_ticket{1};
    /// Tickets acquired and not yet released.
    std::atomic<std::int64_t> held{0};
  };

  gateway_session(gateway_actor gateway, shared_counts& counts)
    : gateway_(std::move(gateway)), counts_(counts) {
  }

  ~gateway_session() override {
    for (auto ticket : held_) {
      caf::anon_send(gateway_, release_atom_v, ticket);
      --counts_.held;
    }
  }

  std::optional<immediate_lease> try_acquire(const std::string&, revoke_callback) override {
    return std::nullopt;
  }

  std::uint64_t acquire(const std::string& model, std::chrono::milliseconds, lease_callback done,
                        revoke_callback revoked) override {
    auto ticket = counts_.next_ticket++;
    if (counts_.stopped) {
      lease_outcome refused;
      refused.reason = refusal::shutting_down;
      refused.message = "the gateway is stopping";
      done(std::move(refused));
      return ticket;
    }
    held_.insert(ticket);
    ++counts_.held;
    caf::anon_send(gateway_, acquire_atom_v, ticket, model,
                   lease_callbacks{std::move(done), std::move(revoked)});
    return ticket;
  }

  void release(std::uint64_t ticket) override {
    if (held_.erase(ticket) > 0) {
      caf::anon_send(gateway_, release_atom_v, ticket);
      --counts_.held;
    }
  }

private:
  gateway_actor gateway_;
  shared_counts& counts_;
  std::unordered_set<std::uint64_t> held_;
};

class gateway_backend_impl : public gateway_backend {
public:
  gateway_backend_impl(caf::actor_system& system, gateway_settings settings)
    : system_(system), gateway_(spawn_gateway(system, std::move(settings), directory_, retired_)) {
  }

  ~gateway_backend_impl() override {
    shutdown(std::chrono::milliseconds(0));
  }

  void shutdown(std::chrono::milliseconds grace) override {
    if (counts_.stopped.exchange(true)) {
      return;
    }
    auto deadline = std::chrono::steady_clock::now() + grace;
    while (counts_.held > 0 && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(20ms);
    }
    caf::anon_send_exit(gateway_, caf::exit_reason::user_shutdown);
  }

  std::unique_ptr<serving_session> open_session() override {
    return std::make_unique<gateway_session>(gateway_, counts_);
  }

  std::vector<std::string> model_names() const override {
    return directory_->get();
  }

  bool serves(const std::string& model) const override {
    return directory_->has(model);
  }

  void snapshot(std::function<void(std::optional<scheduler_snapshot>)> done) override {
    system_.spawn(ask_once<scheduler_snapshot, gateway_actor, status_atom>, gateway_,
                  std::chrono::milliseconds(status_timeout), std::move(done), status_atom_v);
  }

  void control(control_request, std::function<void(control_result)> done) override {
    done(control_result{control_error::failed,
                        "a gateway has no engines of its own: send switches, sleeps and wakes to "
                        "the node's admin API"});
  }

  void on_engine_retired(engine_retired_callback retired) override {
    retired_->set(std::move(retired));
  }

  void on_switch_ended(switch_ended_callback) override {
    // Switches happen on the nodes; their own metrics count them.
  }

private:
  caf::actor_system& system_;
  std::shared_ptr<model_directory> directory_ = std::make_shared<model_directory>();
  std::shared_ptr<late_hook<const engine_address&, std::uint64_t>> retired_
    = std::make_shared<late_hook<const engine_address&, std::uint64_t>>();
  gateway_session::shared_counts counts_;
  gateway_actor gateway_;
};

} // namespace

std::unique_ptr<gateway_backend> make_gateway_backend(caf::actor_system& system,
                                                      gateway_settings settings) {
  return std::make_unique<gateway_backend_impl>(system, std::move(settings));
}

} // namespace llmux::actors
