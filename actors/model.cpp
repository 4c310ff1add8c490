#include "actors/model.hpp"

#include <algorithm>
#include <optional>

#include <caf/actor_cast.hpp>
#include <caf/actor_system.hpp>
#include <caf/send.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>
#include <caf/typed_response_promise.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "actors/engine.hpp"
#include "actors/eviction_plan.hpp"
#include "actors/lifecycle.hpp"
#include "checkpoint/criu.hpp"

namespace llmux::actors {

namespace {

using namespace std::chrono_literals;

class model_state {
public:
  static constexpr const char* name = "model";

  explicit model_state(model_actor::stateful_pointer<model_state> self) : self_(self) {
  }

  model_state(const model_state&) = delete;
  model_state& operator=(const model_state&) = delete;

  // The engine (and with it the process) ends with the model actor.
  ~model_state() {
    if (engine_) {
      caf::anon_send_exit(engine_, caf::exit_reason::user_shutdown);
    }
  }

  model_actor::behavior_type make_behavior(const config::model_config& model,
                                           const engine_deadlines& deadlines,
                                           const engine_factory& make_engine, caf::actor scheduler,
                                           bool object_store);

private:
  caf::result<outcome> activate();
  void cold_start(caf::typed_response_promise<outcome> promise, std::string fallback);
  void wake_failed(caf::typed_response_promise<outcome> promise, std::optional<engine_step> step,
                   const std::string& error);
  caf::result<outcome> evict(const config::eviction_policy& eviction);
  void evict_failed(caf::typed_response_promise<outcome> promise, std::string_view step,
                    const std::string& error);
  caf::result<outcome> stop();
  caf::result<outcome> warmup();
  void on_engine_down(const std::string& reason);
  // Stops the engine after a failed step and answers `promise` with `result`.
  void stop_then(caf::typed_response_promise<outcome> promise, lifecycle_event event,
                 outcome result);
  void enter(lifecycle_event event);

  model_actor::stateful_pointer<model_state> self_;
  config::model_config model_;
  engine_deadlines deadlines_;
  caf::actor scheduler_;
  engine_actor engine_;
  std::shared_ptr<spdlog::logger> log_;
  plan_facts facts_;
  lifecycle state_ = lifecycle::stopped;
  /// While sleeping: the eviction the engine rests in, which decides the wake.
  std::optional<config::eviction_policy> rests_in_;
};

void model_state::enter(lifecycle_event event) {
  auto next = next_state(state_, event);
  if (!next) {
    log_->error("{}: lifecycle event {} is impossible in state {}", model_.name, to_string(event),
                to_string(state_));
    return;
  }
  log_->debug("{}: {} -> {} ({})", model_.name, to_string(state_), to_string(*next),
              to_string(event));
  state_ = *next;
  if (state_ == lifecycle::stopped) {
    rests_in_.reset(); // whatever it rested in, it starts cold now
  }
}

model_actor::behavior_type model_state::make_behavior(const config::model_config& model,
                                                      const engine_deadlines& deadlines,
                                                      const engine_factory& make_engine,
                                                      caf::actor scheduler, bool object_store) {
  model_ = model;
  facts_ = {config::tensor_parallel_size(model), object_store};
  if (model.checkpoint_path) {
    // Its images are restored on the first activation, as if it had been evicted to them.
    state_ = lifecycle::sleeping;
    rests_in_ = checkpoint::checkpointed_eviction(model);
  }
  deadlines_ = deadlines;
  scheduler_ = std::move(scheduler);
  log_ = spdlog::get("model");
  engine_ = make_engine(self_->system(), model, caf::actor_cast<caf::actor>(self_));
  return {
    [this](activate_atom) { return activate(); },
    [this](evict_atom, const config::eviction_policy& eviction) { return evict(eviction); },
    [this](stop_atom) { return stop(); },
    [this](warmup_atom) { return warmup(); },
    [this](detach_atom) -> caf::result<outcome> {
      auto promise = self_->make_response_promise<outcome>();
      self_->request(engine_, engine_deadlines::margin, detach_atom_v)
        .then(
          [this, promise](outcome& detached) mutable {
            enter(lifecycle_event::stopped);
            promise.deliver(detached);
          },
          [promise](caf::error& error) mutable {
            promise.deliver(outcome::failure(to_string(error)));
          });
      return promise;
    },
    [this](down_atom, const std::string& reason) { on_engine_down(reason); },
  };
}

caf::result<outcome> model_state::activate() {
  if (state_ == lifecycle::active) {
    return outcome{};
  }
  if (state_ != lifecycle::stopped && state_ != lifecycle::sleeping) {
    return outcome::failure(fmt::format("{} is busy ({})", model_.name, to_string(state_)));
  }
  auto promise = self_->make_response_promise<outcome>();
  bool cold = state_ == lifecycle::stopped || !rests_in_;
  enter(lifecycle_event::activate);
  if (cold) {
    cold_start(promise, {});
    return promise;
  }
  engine_plan plan{wake_plan(*rests_in_, facts_)};
  if (plan.steps.empty()) {
    enter(lifecycle_event::woken); // retain+keep_running: it never left
    promise.deliver(outcome{});
    return promise;
  }
  self_->request(engine_, deadlines_.run_reply(plan), run_atom_v, plan)
    .then(
      [this, promise, plan](plan_outcome& ran) mutable {
        if (ran.ok) {
          enter(lifecycle_event::woken);
          promise.deliver(outcome{true, {}, {}, ran.gpu_memory_mib});
          return;
        }
        wake_failed(promise, plan.steps.at(ran.completed), ran.error);
      },
      [this, promise](caf::error& error) mutable {
        wake_failed(promise, std::nullopt, to_string(error));
      });
  return promise;
}

void model_state::cold_start(caf::typed_response_promise<outcome> promise, std::string fallback) {
  self_->request(engine_, deadlines_.start_reply(), start_atom_v)
    .then(
      [this, promise, fallback](outcome& started) mutable {
        if (started.ok) {
          enter(lifecycle_event::started);
          promise.deliver(outcome{true, {}, fallback, started.gpu_memory_mib});
          return;
        }
        stop_then(
          promise, lifecycle_event::start_failed,
          outcome::failure(fmt::format("{} failed to start: {}", model_.name, started.error)));
      },
      [this, promise](caf::error& error) mutable {
        stop_then(
          promise, lifecycle_event::start_failed,
          outcome::failure(fmt::format("{} failed to start: {}", model_.name, to_string(error))));
      });
}

// A step that brings the process back failed (download, restore, CUDA resume): what is left of
// the engine is stopped and it starts cold, so the waiting requests are still served. A vLLM
// step of a live engine that fails fails the wake: the model backs off.
void model_state::wake_failed(caf::typed_response_promise<outcome> promise,
                              std::optional<engine_step> step, const std::string& error) {
  if (!step || !restores_process(*step)) {
    stop_then(promise, lifecycle_event::wake_failed,
              outcome::failure(fmt::format("{} failed to wake: {}", model_.name, error)));
    return;
  }
  auto fallback
    = fmt::format("{} failed ({}); started the engine cold instead", to_string(*step), error);
  log_->warn("{}: {}", model_.name, fallback);
  auto start_over = [this, promise, fallback]() mutable {
    enter(lifecycle_event::stopped);
    rests_in_.reset();
    enter(lifecycle_event::activate);
    cold_start(promise, fallback);
  };
  self_->request(engine_, deadlines_.stop_reply(), stop_atom_v)
    .then([start_over](outcome&) mutable { start_over(); },
          [start_over](caf::error&) mutable { start_over(); });
}

caf::result<outcome> model_state::evict(const config::eviction_policy& eviction) {
  if (state_ != lifecycle::active) {
    return outcome{};
  }
  enter(lifecycle_event::evict);
  engine_plan plan{eviction_plan(eviction, facts_)};
  if (plan.steps.empty()) {
    // retain+keep_running: the engine keeps everything, nothing to call. Answered here, so no
    // promise is made (a promise made and dropped would never answer).
    rests_in_ = eviction;
    enter(lifecycle_event::slept);
    return outcome{};
  }
  auto promise = self_->make_response_promise<outcome>();
  if (plan.steps.front() == engine_step::stop) {
    rests_in_.reset();
    stop_then(promise, lifecycle_event::stopped, outcome{});
    return promise;
  }
  self_->request(engine_, deadlines_.run_reply(plan), run_atom_v, plan)
    .then(
      [this, promise, plan, eviction](plan_outcome& ran) mutable {
        if (ran.ok) {
          rests_in_ = eviction;
          enter(lifecycle_event::slept);
          promise.deliver(outcome{true, {}, {}, ran.gpu_memory_mib});
          return;
        }
        evict_failed(promise, to_string(plan.steps.at(ran.completed)), ran.error);
      },
      [this, promise](caf::error& error) mutable {
        evict_failed(promise, "the eviction", to_string(error));
      });
  return promise;
}

// An eviction always frees the GPU: a step that failed escalates to stopping the engine, and
// the answer says so.
void model_state::evict_failed(caf::typed_response_promise<outcome> promise, std::string_view step,
                               const std::string& error) {
  auto fallback = fmt::format("{} failed ({}); stopped the engine instead", step, error);
  log_->warn("{}: {}", model_.name, fallback);
  rests_in_.reset();
  stop_then(promise, lifecycle_event::stopped, outcome{true, {}, fallback, 0});
}

void model_state::stop_then(caf::typed_response_promise<outcome> promise, lifecycle_event event,
                            outcome result) {
  self_->request(engine_, deadlines_.stop_reply(), stop_atom_v)
    .then(
      [this, promise, event, result](outcome&) mutable {
        enter(event);
        promise.deliver(result);
      },
      [this, promise, event, result](caf::error& error) mutable {
        log_->error("{}: stopping the engine failed: {}", model_.name, to_string(error));
        enter(event);
        promise.deliver(result);
      });
}

caf::result<outcome> model_state::stop() {
  auto promise = self_->make_response_promise<outcome>();
  self_->request(engine_, deadlines_.stop_reply(), stop_atom_v)
    .then(
      [this, promise](outcome& stopped) mutable {
        enter(lifecycle_event::stopped);
        promise.deliver(stopped);
      },
      [this, promise](caf::error& error) mutable {
        enter(lifecycle_event::stopped);
        promise.deliver(outcome::failure(to_string(error)));
      });
  return promise;
}

// Warmup leaves the engine in its evicted state, so the first real request wakes it instead of
// cold-starting it. Each step goes through this actor's own handlers.
caf::result<outcome> model_state::warmup() {
  auto promise = self_->make_response_promise<outcome>();
  auto self = self_;
  auto fail = [promise](std::string why) mutable { promise.deliver(outcome::failure(why)); };
  self_
    ->request(model_actor{self_}, deadlines_.activate() + engine_deadlines::margin, activate_atom_v)
    .then(
      [this, self, promise, fail](outcome& active) mutable {
        if (!active.ok) {
          fail(active.error);
          return;
        }
        self->request(engine_, deadlines_.probe_reply(), probe_atom_v)
          .then(
            [this, self, promise, fail](outcome& probed) mutable {
              if (!probed.ok) {
                fail(probed.error);
                return;
              }
              self
                ->request(model_actor{self}, deadlines_.evict() + engine_deadlines::margin,
                          evict_atom_v, model_.eviction)
                .then([promise](outcome& evicted) mutable { promise.deliver(evicted); },
                      [fail](caf::error& error) mutable { fail(to_string(error)); });
            },
            [fail](caf::error& error) mutable { fail(to_string(error)); });
      },
      [fail](caf::error& error) mutable { fail(to_string(error)); });
  return promise;
}

void model_state::on_engine_down(const std::string& reason) {
  log_->warn("{}: {}", model_.name, reason);
  // A death while starting or waking fails that activation, which reports it; any other
  // (serving, sleeping, or found during an eviction) would go unnoticed by the scheduler.
  bool unreported
    = state_ != lifecycle::starting && state_ != lifecycle::waking && state_ != lifecycle::stopped;
  if (state_ != lifecycle::stopped) {
    enter(lifecycle_event::engine_died);
  }
  if (unreported) {
    caf::anon_send(scheduler_, down_atom_v, model_.name, reason);
  }
}

model_actor::behavior_type model_impl(model_actor::stateful_pointer<model_state> self,
                                      config::model_config model, engine_deadlines deadlines,
                                      engine_factory make_engine, caf::actor scheduler,
                                      bool object_store) {
  return self->state.make_behavior(model, deadlines, make_engine, std::move(scheduler),
                                   object_store);
}

} // namespace

engine_factory vllm_engines(std::string vllm_command, const engine_deadlines& deadlines,
                            const config::timeouts_config& timeouts,
                            std::optional<config::checkpoint_config> checkpoint,
                            bool measure_gpu_memory) {
  return [vllm_command = std::move(vllm_command), deadlines, timeouts,
          checkpoint = std::move(checkpoint), measure_gpu_memory](
           caf::actor_system& system, const config::model_config& model, caf::actor owner) {
    return spawn_vllm_engine(system, model, vllm_command, deadlines, timeouts, checkpoint,
                             measure_gpu_memory, std::move(owner));
  };
}

model_actor spawn_model(caf::actor_system& system, const config::model_config& model,
                        const engine_deadlines& deadlines, engine_factory make_engine,
                        caf::actor scheduler, bool object_store) {
  return system.spawn(model_impl, model, deadlines, std::move(make_engine), std::move(scheduler),
                      object_store);
}

} // namespace llmux::actors
