// The scheduler with real actors and no engine processes: its supervision of model actors.

#include "actors/scheduler.hpp"

#include <chrono>
#include <mutex>
#include <thread>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>
#include <gtest/gtest.h>

#include "actors/sim_engine.hpp"
#include "config/logging.hpp"

namespace llmux::actors {
namespace {

using namespace std::chrono_literals;

class scheduler_test : public ::testing::Test {
protected:
  scheduler_test() : system_(init_config()) {
    config::setup_logging(*config::parse_log_levels("off"), false);
  }

  static caf::actor_system_config& init_config() {
    static caf::actor_system_config cfg;
    static bool once = [] {
      cfg.set("scheduler.max-threads", 2);
      cfg.add_message_types<caf::id_block::llmux>();
      return true;
    }();
    (void)once;
    return cfg;
  }

  // A configuration whose engine command does not exist: every start fails at once.
  static config::config broken_engines() {
    config::config cfg;
    config::model_config model;
    model.name = "m";
    model.model_path = "org/m";
    model.port = 1;
    cfg.models.push_back(model);
    cfg.vllm_command = "/nonexistent/vllm";
    return cfg;
  }

  lease_outcome acquire(const scheduler_actor& scheduler, std::uint64_t ticket) {
    caf::scoped_actor self{system_};
    lease_outcome result;
    self->request(scheduler, 30s, acquire_atom_v, ticket, std::string{"m"}, std::uint64_t{20000})
      .receive([&](lease_outcome& outcome) { result = outcome; },
               [&](caf::error& error) { ADD_FAILURE() << to_string(error); });
    return result;
  }

  caf::actor_system system_;
};

TEST_F(scheduler_test, a_crashed_model_actor_is_replaced_and_keeps_answering) {
  std::mutex mutex;
  std::vector<model_actor> made;
  auto factory
    = [&](caf::actor_system& system, const config::model_config& model, caf::actor scheduler) {
        auto actor = spawn_model(system, model, {5s, 120s, 120s},
                                 vllm_engines("/nonexistent/vllm", {5s, 120s, 120s}, {}),
                                 std::move(scheduler));
        std::lock_guard<std::mutex> lock(mutex);
        made.push_back(actor);
        return actor;
      };
  auto scheduler = spawn_scheduler(system_, broken_engines(), factory);
  auto first = acquire(scheduler, 1);
  EXPECT_EQ(first.reason, refusal::backing_off);
  EXPECT_NE(first.message.find("cannot run '/nonexistent/vllm'"), std::string::npos)
    << first.message;
  model_actor crashed;
  {
    std::lock_guard<std::mutex> lock(mutex);
    ASSERT_EQ(made.size(), 1u);
    crashed = made.front();
  }
  caf::anon_send_exit(crashed, caf::exit_reason::kill);
  for (int i = 0; i < 500; ++i) {
    {
      std::lock_guard<std::mutex> lock(mutex);
      if (made.size() == 2) {
        break;
      }
    }
    std::this_thread::sleep_for(10ms);
  }
  {
    std::lock_guard<std::mutex> lock(mutex);
    ASSERT_EQ(made.size(), 2u) << "the scheduler did not replace the model actor";
    EXPECT_NE(made.back(), crashed);
  }
  // The replacement answers: another start attempt, failing the same way (after the backoff).
  auto second = acquire(scheduler, 2);
  EXPECT_EQ(second.reason, refusal::backing_off);
  EXPECT_NE(second.message.find("cannot run"), std::string::npos) << second.message;
  caf::anon_send_exit(scheduler, caf::exit_reason::user_shutdown);
}

TEST_F(scheduler_test, a_model_actor_that_dies_while_activating_fails_the_switch_at_once) {
  std::mutex mutex;
  std::vector<model_actor> made;
  auto timeline = std::make_shared<sim_timeline>();
  auto factory
    = [&](caf::actor_system& system, const config::model_config& model, caf::actor scheduler) {
        // An engine whose cold start takes an hour: the activation is still running when the
        // model actor is killed.
        sim_costs slow;
        slow.cold_start = std::chrono::hours(1);
        auto engines
          = [slow, timeline](caf::actor_system& sys, const config::model_config&, caf::actor) {
              return spawn_sim_engine(sys, 0, slow, timeline);
            };
        auto actor = spawn_model(system, model, {std::chrono::hours(2), 120s, 120s}, engines,
                                 std::move(scheduler));
        std::lock_guard<std::mutex> lock(mutex);
        made.push_back(actor);
        return actor;
      };
  auto scheduler = spawn_scheduler(system_, broken_engines(), factory);
  caf::scoped_actor self{system_};
  auto pending = self->request(scheduler, 30s, acquire_atom_v, std::uint64_t{1}, std::string{"m"},
                               std::uint64_t{20000});
  std::this_thread::sleep_for(200ms);
  {
    std::lock_guard<std::mutex> lock(mutex);
    ASSERT_EQ(made.size(), 1u);
    caf::anon_send_exit(made.front(), caf::exit_reason::kill);
  }
  auto began = std::chrono::steady_clock::now();
  pending.receive(
    [](lease_outcome& outcome) {
      EXPECT_EQ(outcome.reason, refusal::backing_off); // not its own 20 s timeout
      EXPECT_NE(outcome.message.find("the model actor of m ended"), std::string::npos)
        << outcome.message;
    },
    [](caf::error& error) { ADD_FAILURE() << to_string(error); });
  EXPECT_LT(std::chrono::steady_clock::now() - began, 10s);
  caf::anon_send_exit(scheduler, caf::exit_reason::user_shutdown);
}

TEST_F(scheduler_test, unknown_models_are_refused_and_stray_releases_ignored) {
  auto scheduler = spawn_scheduler(system_, broken_engines());
  caf::scoped_actor self{system_};
  self
    ->request(scheduler, 10s, acquire_atom_v, std::uint64_t{1}, std::string{"other"},
              std::uint64_t{1000})
    .receive([](lease_outcome& outcome) { EXPECT_EQ(outcome.reason, refusal::unknown_model); },
             [](caf::error& error) { ADD_FAILURE() << to_string(error); });
  // A release of a ticket the scheduler never saw changes nothing: the acquire that follows
  // is decided as usual (here, refused because the engine cannot start).
  caf::anon_send(scheduler, release_atom_v, std::uint64_t{7});
  auto later = acquire(scheduler, 7);
  EXPECT_FALSE(later.granted);
  EXPECT_NE(later.reason, refusal::cancelled) << later.message;
  caf::anon_send_exit(scheduler, caf::exit_reason::user_shutdown);
}

// With no models the shutdown is answered while it is being asked for; the answer must still
// reach the caller (it used to be read from a promise that had already been handed out).
TEST_F(scheduler_test, a_shutdown_without_models_is_answered) {
  config::config empty;
  auto scheduler = spawn_scheduler(system_, empty);
  caf::scoped_actor self{system_};
  bool answered = false;
  self->request(scheduler, 10s, shutdown_atom_v, std::uint64_t{0})
    .receive([&](outcome& done) { answered = done.ok; },
             [](caf::error& error) { ADD_FAILURE() << to_string(error); });
  EXPECT_TRUE(answered);
}

} // namespace
} // namespace llmux::actors
