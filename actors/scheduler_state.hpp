#pragma once

// Internal to actors/: the scheduler actor's state, shared by scheduler.cpp (queues and
// switches), scheduler_failures.cpp (revocation, backoff, engines down, drain deadlines),
// scheduler_lifecycle.cpp (supervision, warmup, shutdown, status), scheduler_memory.cpp (the
// awake set under a memory budget), scheduler_control.cpp and scheduler_reload.cpp.

#include <algorithm>
#include <chrono>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>
#include <caf/typed_response_promise.hpp>
#include <spdlog/spdlog.h>

#include "actors/expiry_timer.hpp"
#include "actors/memory_budget.hpp"
#include "actors/model.hpp"
#include "actors/policy.hpp"
#include "actors/scheduler.hpp"
#include "actors/snapshot.hpp"
#include "actors/switch_ledger.hpp"
#include "actors/switch_plan.hpp"

namespace llmux::actors::detail {

/// A request waiting for its model, with the promise its acquire is answered through.
struct waiter {
  std::uint64_t ticket;
  caf::typed_response_promise<lease_outcome> promise;
  clock_type::time_point since;
  /// When it times out, if it does.
  std::optional<clock_type::time_point> deadline;
  /// The actor that asked: it hears `revoke_atom` if the lease is taken back.
  caf::strong_actor_ptr holder;
  /// Arrival order across all models: tells requests that came before an event (a switch
  /// beginning, a model getting the GPU) from those after it, even at the same instant.
  std::uint64_t order;
};

/// Everything the scheduler keeps per model.
struct model_slot {
  config::model_config config;
  model_actor actor;
  std::deque<waiter> waiting;
  /// Granted leases, each with the actor that holds it.
  std::map<std::uint64_t, caf::strong_actor_ptr> leases;
  /// Failures in a row (a start or wake that failed, the engine dying while it served).
  std::uint32_t failures = 0;
  /// While this lies ahead, requests for the model are refused at once (503, Retry-After).
  std::optional<clock_type::time_point> retry_at;
  std::optional<clock_type::time_point> last_failed_at;
  std::string last_failure;
  /// Set each time the model becomes active; leases carry it (`lease_outcome::engine_epoch`).
  std::uint64_t epoch = 0;
  /// Where requests take leases without asking while the scheduler keeps it open; may be null.
  std::shared_ptr<lease_gate> gate;
  /// Where its engine is, as the scheduler's requests to its model actor left it.
  lifecycle state = lifecycle::stopped;
  bool started_once = false;
  /// On the GPU and serving; several models are at once when the memory budget lets them.
  bool awake = false;
  clock_type::time_point activated_at;
  /// Requests ordered before this arrived before the model got the GPU.
  std::uint64_t arrivals_before_activation = 0;
  /// The eviction of its last eviction, and the same as `weights+process`.
  config::eviction_policy rests_with;
  std::string evicted_with;
  /// GPU memory its engine was measured to hold awake, and asleep after each kind of eviction
  /// (by `weights+process`), in MiB.
  std::optional<std::uint64_t> measured_awake_mib;
  std::map<std::string, std::uint64_t> measured_asleep_mib;
  /// A reload took the model out: it is drained and stopped, and no name resolves to it (its
  /// index stays, so that indexes held elsewhere stay valid).
  bool removed = false;
  /// A reload changed its settings: the model is restarted with these once off the GPU and
  /// idle.
  std::optional<config::model_config> replacement;
  /// Its engine is being stopped for a removal or a replacement.
  bool stopping = false;
  /// Counted since llmux started (snapshot.hpp).
  std::uint64_t failures_total = 0;
  std::uint64_t engine_starts = 0;
  std::uint64_t leases_cut = 0;
  std::uint64_t fallbacks_total = 0;
  std::string last_fallback;
  /// When a lease for it was last granted or returned through the scheduler (the gate keeps
  /// its own), for its idle TTL.
  clock_type::time_point last_activity;
  /// Names the idle watch of its current activation: the checks of an earlier one are stale.
  std::uint64_t idle_watch = 0;
  std::uint64_t idle_evictions = 0;
};

/// `slot` left the GPU with `eviction`: its engine rests stopped (the next activation is a cold
/// start), or asleep (in its process, suspended, or checkpointed to images it is restored
/// from).
inline void rest(model_slot& slot, const config::eviction_policy& eviction) {
  slot.state
    = eviction.process == config::process_strategy::stop ? lifecycle::stopped : lifecycle::sleeping;
  slot.awake = false;
  slot.rests_with = eviction;
  slot.evicted_with = config::to_spec(eviction);
}

/// Where a model's engine is before llmux has run it: stopped, or checkpointed to the images
/// its `checkpoint_path` names (restored on its first activation).
void rest_initially(model_slot& slot);

/// `slot` left the GPU as `evicted` says: with `eviction`, or stopped when that fell back.
inline void rest(model_slot& slot, const config::eviction_policy& eviction,
                 const outcome& evicted) {
  rest(slot, evicted.fallback.empty()
               ? eviction
               : config::eviction_policy{eviction.weights, config::process_strategy::stop});
}

/// A switch the admin API asked for: it bypasses the policy and the mode (not the cooldown or
/// the drain) and its answer waits for its end.
struct forced_switch {
  std::size_t model;
  /// Free the GPU from `model` (a sleep) rather than put it there.
  bool to_idle = false;
  /// For a sleep: the eviction to use instead of the model's own.
  std::optional<config::eviction_policy> eviction;
  /// The admin request waiting for it; none for a reload's.
  std::optional<caf::typed_response_promise<control_result>> answer;

  void reply(control_result result) {
    if (answer) {
      answer->deliver(std::move(result));
      answer.reset();
    }
  }
  /// A pin's earlier mode and pin, restored if its switch fails.
  std::optional<std::pair<serving_mode, std::optional<std::size_t>>> restore_on_failure;
};

/// The one switch in progress.
struct switch_run {
  std::size_t target;
  /// The models that leave the GPU for it, in order: awake ones are evicted, sleeping ones (that
  /// left memory behind) have their engines stopped.
  std::vector<std::size_t> victims;
  /// The model it comes from, for policies and switch costs: the first awake victim.
  std::optional<std::size_t> from;
  switch_phase phase = switch_phase::cooldown;
  clock_type::time_point began;
  /// Tells this switch's answers from those of a switch that has already ended.
  std::uint64_t serial = 0;
  /// Requests ordered before this arrived before the switch began.
  std::uint64_t arrivals_before = 0;
  /// See `decision::serve_held`.
  bool serve_held = true;
  /// Set when the admin API asked for it; `to_idle` there: `target` is only evicted.
  std::optional<forced_switch> forced;

  /// How many victims have left so far.
  std::size_t evicted = 0;

  bool to_idle() const {
    return forced && forced->to_idle;
  }
  bool evicts(std::size_t model) const {
    return std::find(victims.begin(), victims.end(), model) != victims.end();
  }
};

/// An acquire answered without a lease.
inline lease_outcome refused(refusal reason, std::string message) {
  lease_outcome out;
  out.reason = reason;
  out.message = std::move(message);
  return out;
}

/// The scheduler actor's state (scheduler.hpp documents the protocol).
class scheduler_state {
public:
  static constexpr const char* name = "scheduler";

  explicit scheduler_state(scheduler_actor::stateful_pointer<scheduler_state> self)
    : self_(self), ledger_(self->clock().now()) {
  }

  scheduler_state(const scheduler_state&) = delete;
  scheduler_state& operator=(const scheduler_state&) = delete;

  // CAF destroys the state when the actor ends: every waiting request gets an answer (a
  // dropped promise answers nothing in CAF 0.17) and the model actors end with it.
  ~scheduler_state() {
    for (std::size_t i = 0; i < models_.size(); ++i) {
      fail_all(i, refused(refusal::shutting_down, "llmux is shutting down"));
      caf::anon_send_exit(models_[i].actor, caf::exit_reason::user_shutdown);
    }
    if (shutdown_) {
      shutdown_->deliver(outcome{});
    }
    if (switch_ && switch_->forced) {
      switch_->forced->reply(
        control_result{control_error::shutting_down, "llmux is shutting down"});
    }
    refuse_forced(control_error::shutting_down, "llmux is shutting down");
    end_warmup(outcome::failure("llmux is shutting down"));
  }

  scheduler_actor::behavior_type make_behavior(const config::config& cfg, model_factory factory,
                                               serving_hooks hooks);

private:
  void supervise(std::size_t model);
  void on_model_exit(const caf::down_msg& message);
  caf::result<outcome> warmup();
  void warm_next(std::size_t model);
  /// Answers the warmup request, once.
  void end_warmup(outcome result);
  caf::result<lease_outcome> acquire(std::uint64_t ticket, const std::string& model,
                                     std::uint64_t timeout_ms);
  void release(std::uint64_t ticket);
  /// A lease of `model` ended (released, or the last one taken at its closed gate).
  void lease_ended(std::size_t model);
  /// Granted leases of `model`, its gate's included.
  static std::size_t in_flight(const model_slot& slot);
  /// When a lease of `slot` was last taken or returned, through the scheduler or at its gate.
  static clock_type::time_point last_used(const model_slot& slot) {
    return slot.gate ? std::max(slot.last_activity, slot.gate->last_activity())
                     : slot.last_activity;
  }
  /// Opens the gate of the model that may take leases without asking (active, no switch, no
  /// request waiting anywhere, no concurrency limit, not shutting down) and closes the others.
  void publish_gates();
  /// Answers every waiting request whose deadline has passed and watches the soonest left.
  void expire_due();
  /// Makes sure the scheduler looks at the waiting requests' deadlines by `deadline`.
  void watch_deadline(clock_type::time_point deadline);
  void on_model_down(const std::string& model, const std::string& reason);
  /// Takes back every granted lease of `model`: their holders end the requests with `reason`.
  void revoke_leases(std::size_t model, const std::string& reason);
  /// The model failed (`why`): it backs off, exponentially with failures in a row.
  void note_failure(std::size_t model, const std::string& why);
  /// Counts and logs what `result` says was done instead of what was asked, if anything.
  void note_fallback(std::size_t model, const outcome& result);
  /// Starts watching the model that just became active for its idle TTL.
  void watch_idle(std::size_t model);
  /// One check of that watch: evicts the model when it has been idle its TTL, else checks
  /// again when it could have been.
  void check_idle(std::size_t model, std::uint64_t watch);
  /// `429`: the model's queue holds `max_queue` requests; Retry-After is the expected wait.
  lease_outcome queue_full(std::size_t model) const;
  /// The drain of the switch numbered `serial` reached its deadline.
  void on_drain_deadline(std::uint64_t serial);
  /// The refusal for a request while `model` backs off, if it does.
  std::optional<lease_outcome> backing_off(std::size_t model) const;
  caf::result<outcome> shutdown(std::uint64_t grace_ms);

  void consider(std::size_t target);
  void begin_switch(std::size_t target, bool serve_held = true,
                    std::optional<forced_switch> forced = std::nullopt);
  void advance();
  /// Evicts (or, asleep, stops) the next victim of the switch; once none is left, advances.
  void evict_next();
  /// Whether a victim of the running switch still has requests in flight.
  bool victims_busy() const;
  void activate_target();
  void finish_switch(bool ok, const std::string& error);
  void pick_next();
  /// True while the switch numbered `serial` is the one in progress.
  bool is_current(std::uint64_t serial) const {
    return switch_ && switch_->serial == serial;
  }
  /// Whether `model` takes new requests now: it is awake, and no switch evicting it has passed
  /// its cooldown.
  bool admits(std::size_t model) const;
  bool any_awake() const {
    return std::any_of(models_.begin(), models_.end(),
                       [](const model_slot& slot) { return slot.awake; });
  }
  /// The awake model that got the GPU last, if any.
  std::optional<std::size_t> latest_awake() const;
  /// GPU memory `model`'s engine holds awake: measured, else declared, else (unknown) the
  /// whole budget.
  std::uint64_t awake_mib(std::size_t model) const;
  /// GPU memory `model` holds now: awake, asleep in its process, or none.
  std::uint64_t holds_mib(std::size_t model) const;
  /// What must leave the GPU for `target` to get it: every awake model without a budget, else
  /// what the budget needs (memory_budget.hpp).
  room_plan room_for(std::size_t target) const;
  /// The awake model a policy weighs against `target` (any waiting model when none is named):
  /// the first that would leave the GPU for it.
  std::optional<std::size_t> incumbent(std::optional<std::size_t> target) const;
  /// Under a budget, starts a waiting model that fits beside the awake ones without evicting
  /// any (no policy needs to weigh that); whether one started.
  bool bring_up_beside();
  /// Remembers the GPU memory an engine was measured to hold after an activation or eviction.
  void note_memory(std::size_t model, const outcome& result, bool awake);
  /// Whether the active `model` still holds back, by its concurrency limit, requests that were
  /// waiting before it got the GPU.
  bool holds_backlog(std::size_t model) const;
  /// Whether `slot` is below its concurrency limit.
  static bool has_room(const model_slot& slot);
  /// Grants `model`'s waiting requests, oldest first, up to its concurrency limit (and only
  /// those ordered before `ordered_before`, when given).
  void admit_waiting(std::size_t model, std::optional<std::uint64_t> ordered_before = std::nullopt);
  /// Answers every waiting request of `model` with `refused`.
  void fail_all(std::size_t model, const lease_outcome& refused);
  void finish_shutdown_when_idle(bool deadline_passed);
  scheduler_snapshot snapshot() const;
  caf::result<control_result> control(const control_request& request);
  /// Starts the first forced switch that has something to do (answering those that have
  /// not); whether one started. Only while no switch runs.
  bool start_forced();
  /// Answers the admin request behind `run`, if there is one.
  void answer_forced(switch_run& run, bool ok, const std::string& error);
  /// The answer to a sleep: the eviction it used (or would have), as `weights+process`.
  control_result slept_with(const forced_switch& sleep) const;
  /// Asks `model`'s actor to stop its engine; `done` gets the answer (a failure when none
  /// came within the stop's deadline).
  void stop_engine(std::size_t model, std::function<void(const outcome&)> done);
  /// Stops the engine of a model that sleeps in it, for a sleep with `stop` asked of it.
  void stop_sleeping(forced_switch sleep);
  /// Answers every forced switch not started yet with `error`.
  void refuse_forced(control_error error, const std::string& why);
  /// In manual mode, the refusal of a request for `model` that is not the one served.
  std::optional<lease_outcome> manual_refusal(std::size_t model) const;
  caf::result<reload_outcome> reload();
  /// Carries out what reloads left to do: removed and changed models that are off the GPU are
  /// stopped (then dropped or restarted); an active one leaves the GPU once it may.
  void apply_reload_changes();
  /// The engine of removed or changed `model` has stopped.
  void replaced(std::size_t model);
  /// Whether a switch to `model` may begin (it is served, not being replaced).
  bool switchable(std::size_t model) const;
  /// Makes the model actors for `cfg`'s engines, unless the factory was given from outside.
  void use_engines_of(const config::config& cfg);
  /// The switch in progress entered `phase` (its model states and the ledger follow).
  void entered(switch_phase phase);
  scheduler_view view(std::vector<queue_view>& queues, std::optional<std::size_t> target) const;
  void apply(const decision& decided);
  void on_tick(bool periodic);
  void on_deferred(std::size_t model);

  /// The actor clock: real time in the daemon, virtual time in simulations and tests.
  clock_type::time_point now() const {
    return self_->clock().now();
  }
  lease_outcome grant(std::size_t model) const;
  /// The model's engine no longer serves it: tells whoever keeps connections to it.
  void retire(std::size_t model) const;
  std::optional<std::size_t> index_of(const std::string& model) const;

  scheduler_actor::stateful_pointer<scheduler_state> self_;
  std::shared_ptr<spdlog::logger> log_;
  config::policy_config settings_;
  std::unique_ptr<policy> policy_;
  std::vector<model_slot> models_;
  /// `gpu_memory_budget_mib`; none: one model awake at a time.
  std::optional<std::uint64_t> budget_mib_;
  std::uint64_t arrivals_ = 0;
  /// The waiting requests' timeouts, one timer for all: a timeout is met at most 10 ms late.
  expiry_timer expiries_{std::chrono::milliseconds(10)};
  std::optional<switch_run> switch_;
  std::uint64_t switch_serial_ = 0;
  engine_deadlines deadlines_;
  config::timeouts_config timeouts_;
  /// Counts activations, for `model_slot::epoch`.
  std::uint64_t epochs_ = 0;
  serving_mode mode_ = serving_mode::automatic;
  std::optional<std::size_t> pinned_;
  std::deque<forced_switch> forced_;
  engine_retired_callback retired_;
  switch_ended_callback switch_ended_;
  switch_ledger ledger_;
  /// Measured switch costs per direction, for the snapshot (policies keep their own).
  switch_costs costs_{clock_type::duration{}};
  std::optional<caf::typed_response_promise<outcome>> shutdown_;
  /// The warmup request, while the models are being warmed.
  std::optional<caf::typed_response_promise<outcome>> warming_;
  model_factory factory_;
  /// Whether `factory_` is llmux's own (vLLM engines per the config), which a reload renews.
  bool own_factory_ = false;
  /// Whether the policy's periodic tick is scheduled.
  bool ticking_ = false;
  std::shared_ptr<reload_box> reloads_;
  bool stopping_engines_ = false;
};

} // namespace llmux::actors::detail
