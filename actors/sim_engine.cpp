#include "actors/sim_engine.hpp"

#include <algorithm>
#include <functional>

#include <caf/actor_system.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>
#include <caf/typed_response_promise.hpp>

namespace llmux::actors {

namespace {

class sim_engine_state {
public:
  static constexpr const char* name = "sim_engine";

  explicit sim_engine_state(engine_actor::stateful_pointer<sim_engine_state> self) : self_(self) {
  }

  sim_engine_state(const sim_engine_state&) = delete;
  sim_engine_state& operator=(const sim_engine_state&) = delete;

  ~sim_engine_state() {
    if (deliver_) {
      deliver_("simulated engine stopped");
    }
  }

  engine_actor::behavior_type make_behavior(std::size_t model, sim_costs costs,
                                            std::shared_ptr<sim_timeline> timeline,
                                            std::size_t node) {
    model_ = model;
    node_ = node;
    costs_ = costs;
    timeline_ = std::move(timeline);
    return {
      [this](start_atom) -> caf::result<outcome> {
        if (running_) {
          return outcome{};
        }
        running_ = true;
        return operate<outcome>(sim_operation::kind::start, costs_.cold_start);
      },
      [this](run_atom, const engine_plan& plan) -> caf::result<plan_outcome> {
        return operate<plan_outcome>(
          evicts(plan.steps) ? sim_operation::kind::sleep : sim_operation::kind::wake, took(plan));
      },
      [this](stop_atom) -> caf::result<outcome> {
        if (!running_) {
          return outcome{};
        }
        running_ = false;
        return operate<outcome>(sim_operation::kind::stop, costs_.stop);
      },
      [this](detach_atom) {
        running_ = false;
        return outcome{};
      },
      [](probe_atom) { return outcome{}; },
      [this](tick_atom) { finish(); },
    };
  }

private:
  static outcome failed(outcome, const std::string& why) {
    return outcome::failure(why);
  }
  static plan_outcome failed(plan_outcome, const std::string& why) {
    return {false, 0, why};
  }

  std::chrono::milliseconds took(const engine_plan& plan) const {
    return plan_duration(plan.steps, costs_);
  }

  template <class Result>
  caf::result<Result> operate(sim_operation::kind what, std::chrono::milliseconds duration) {
    if (deliver_) {
      return failed(Result{}, "the simulated engine is busy");
    }
    current_ = {model_, node_, what, self_->clock().now(), {}};
    auto promise = self_->make_response_promise<Result>();
    deliver_ = [promise](const std::string& error) mutable {
      promise.deliver(error.empty() ? Result{} : failed(Result{}, error));
    };
    self_->delayed_send(self_, duration, tick_atom_v);
    return promise;
  }

  void finish() {
    current_.ended = self_->clock().now();
    timeline_->operations.push_back(current_);
    auto deliver = std::move(deliver_);
    deliver_ = nullptr;
    deliver({});
  }

  engine_actor::stateful_pointer<sim_engine_state> self_;
  std::size_t model_ = 0;
  std::size_t node_ = 0;
  sim_costs costs_;
  std::shared_ptr<sim_timeline> timeline_;
  bool running_ = false;
  sim_operation current_;
  /// Answers the operation in progress: success, or the error given.
  std::function<void(const std::string&)> deliver_;
};

engine_actor::behavior_type sim_engine_impl(engine_actor::stateful_pointer<sim_engine_state> self,
                                            std::size_t model, sim_costs costs,
                                            std::shared_ptr<sim_timeline> timeline,
                                            std::size_t node) {
  return self->state.make_behavior(model, costs, std::move(timeline), node);
}

} // namespace

std::chrono::milliseconds plan_duration(const std::vector<engine_step>& steps,
                                        const sim_costs& costs) {
  std::chrono::milliseconds total{0};
  for (auto step : steps) {
    switch (step) {
      case engine_step::vllm_sleep_1:
        total += costs.sleep_level1;
        break;
      case engine_step::vllm_sleep_2:
        total += costs.sleep_level2;
        break;
      case engine_step::vllm_wake_up:
        total += costs.wake_level1;
        break;
      case engine_step::reload_weights:
        total += std::max(costs.wake_level2 - costs.wake_level1, std::chrono::milliseconds(0));
        break;
      case engine_step::cuda_suspend:
      case engine_step::cuda_resume:
        total += costs.cuda_toggle;
        break;
      case engine_step::criu_dump:
        total += costs.criu_dump;
        break;
      case engine_step::criu_restore:
        total += costs.criu_restore;
        break;
      default:
        break; // NCCL, cache reset, transfers: negligible here
    }
  }
  return total;
}

engine_actor spawn_sim_engine(caf::actor_system& system, std::size_t model, sim_costs costs,
                              std::shared_ptr<sim_timeline> timeline, std::size_t node) {
  return system.spawn(sim_engine_impl, model, costs, std::move(timeline), node);
}

} // namespace llmux::actors
