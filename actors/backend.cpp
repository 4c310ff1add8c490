#include "actors/backend.hpp"

#include <atomic>

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>
#include <fmt/format.h>

#include "actors/scheduler.hpp"

namespace llmux::actors {

namespace {

using namespace std::chrono_literals;

/// The scheduler answers every acquire by its own timeout; this only guards against its death.
constexpr auto session_margin = 30s;
constexpr auto status_timeout = 10s;
constexpr auto shutdown_margin = 15min;

// One request's wait for a lease: asks the scheduler and hands the answer to the HTTP side.
caf::behavior session_impl(caf::event_based_actor* self, scheduler_actor scheduler,
                           std::uint64_t ticket, std::string model,
                           std::chrono::milliseconds timeout, lease_callback done) {
  self
    ->request(scheduler, timeout + session_margin, acquire_atom_v, ticket, model,
              static_cast<std::uint64_t>(timeout.count()))
    .then([done](lease_outcome& outcome) { done(std::move(outcome)); },
          [done](caf::error& error) {
            lease_outcome refused;
            refused.status = 503;
            refused.message = fmt::format("the scheduler did not answer: {}", to_string(error));
            done(std::move(refused));
          });
  return {};
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
                        lease_callback done) override {
    auto ticket = next_ticket_++;
    system_.spawn(session_impl, scheduler_, ticket, model, timeout, std::move(done));
    return ticket;
  }

  void release(std::uint64_t ticket) override {
    caf::anon_send(scheduler_, release_atom_v, ticket);
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
};

} // namespace

std::unique_ptr<actor_backend> make_actor_backend(caf::actor_system& system,
                                                  const config::config& cfg) {
  return std::make_unique<backend_impl>(system, cfg);
}

} // namespace llmux::actors
