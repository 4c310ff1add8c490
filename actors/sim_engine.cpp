#include "actors/sim_engine.hpp"

#include <optional>

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
    if (pending_) {
      pending_->deliver(outcome::failure("simulated engine stopped"));
    }
  }

  engine_actor::behavior_type make_behavior(std::size_t model, sim_costs costs,
                                            std::shared_ptr<sim_timeline> timeline) {
    model_ = model;
    costs_ = costs;
    timeline_ = std::move(timeline);
    return {
      [this](start_atom) -> caf::result<outcome> {
        if (running_) {
          return outcome{};
        }
        running_ = true;
        return operate(sim_operation::kind::start, costs_.cold_start);
      },
      [this](sleep_atom, std::int32_t level) -> caf::result<outcome> {
        return operate(sim_operation::kind::sleep,
                       level == 1 ? costs_.sleep_level1 : costs_.sleep_level2);
      },
      [this](wake_atom, std::int32_t level) -> caf::result<outcome> {
        auto took = level == 1   ? costs_.wake_level1
                    : level == 2 ? costs_.wake_level2
                                 : std::chrono::milliseconds(0);
        return operate(sim_operation::kind::wake, took);
      },
      [this](stop_atom) -> caf::result<outcome> {
        if (!running_) {
          return outcome{};
        }
        running_ = false;
        return operate(sim_operation::kind::stop, costs_.stop);
      },
      [](probe_atom) { return outcome{}; },
      [this](tick_atom) { finish(); },
    };
  }

private:
  caf::result<outcome> operate(sim_operation::kind what, std::chrono::milliseconds took) {
    if (pending_) {
      return outcome::failure("the simulated engine is busy");
    }
    current_ = {model_, what, self_->clock().now(), {}};
    pending_ = self_->make_response_promise<outcome>();
    self_->delayed_send(self_, took, tick_atom_v);
    return *pending_;
  }

  void finish() {
    current_.ended = self_->clock().now();
    timeline_->operations.push_back(current_);
    auto promise = std::move(*pending_);
    pending_.reset();
    promise.deliver(outcome{});
  }

  engine_actor::stateful_pointer<sim_engine_state> self_;
  std::size_t model_ = 0;
  sim_costs costs_;
  std::shared_ptr<sim_timeline> timeline_;
  bool running_ = false;
  sim_operation current_;
  std::optional<caf::typed_response_promise<outcome>> pending_;
};

engine_actor::behavior_type sim_engine_impl(engine_actor::stateful_pointer<sim_engine_state> self,
                                            std::size_t model, sim_costs costs,
                                            std::shared_ptr<sim_timeline> timeline) {
  return self->state.make_behavior(model, costs, std::move(timeline));
}

} // namespace

engine_actor spawn_sim_engine(caf::actor_system& system, std::size_t model, sim_costs costs,
                              std::shared_ptr<sim_timeline> timeline) {
  return system.spawn(sim_engine_impl, model, costs, std::move(timeline));
}

} // namespace llmux::actors
