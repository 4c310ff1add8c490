// The scenario suite: the reference's live-deployment scenarios (spec §7.5) and every fault
// the hardening covers, each against a real llmux over mock-vllm engines. Each prints its
// totals and checks that nothing was lost, no lease leaked, no engine outlived llmux and the
// memory stayed put (scenario.hpp).

#include <csignal>
#include <future>
#include <random>
#include <thread>

#include <fmt/format.h>

#include "tests/scenario/scenario.hpp"

namespace llmux::testing_support {
namespace {

// Level-1 and level-2 sleepers that generate `tokens_per_sec` tokens per second.
std::vector<test_model> two_models(std::vector<std::string> alpha_faults = {},
                                   std::vector<std::string> beta_faults = {},
                                   const std::string& tokens_per_sec = "200") {
  std::vector<std::string> alpha{"--mock-tokens-per-sec", tokens_per_sec};
  std::vector<std::string> beta{"--mock-tokens-per-sec", tokens_per_sec};
  alpha.insert(alpha.end(), alpha_faults.begin(), alpha_faults.end());
  beta.insert(beta.end(), beta_faults.begin(), beta_faults.end());
  return {{"alpha", "offload+keep_running", alpha}, {"beta", "discard+keep_running", beta}};
}

constexpr const char* no_cooldown = R"("min_active_secs": 0)";
constexpr const char* fast_liveness
  = R"("timeouts": {"health_interval_ms": 200, "health_timeout_ms": 300, "health_misses": 2,
                    "failure_backoff_secs": 1})";
const std::string long_answer = R"(,"max_tokens":200,"ignore_eos":true)";

// Each scenario first wakes its models once (first starts are not what it measures) and
// measures memory growth from there.
class scenarios : public scenario_test {
protected:
  /// Returns the resident memory after the warm-up.
  std::uint64_t warm_up(const running_daemon& daemon, std::initializer_list<const char*> models) {
    for (auto model : models) {
      EXPECT_EQ(daemon.chat(model).status, 200) << model;
    }
    return rss_kb(daemon);
  }
};

TEST_F(scenarios, switch_under_load) {
  auto daemon = start_daemon(two_models(), no_cooldown);
  auto before = warm_up(daemon, {"alpha", "beta"});
  tally counts;
  auto wave = burst("alpha", 5, 0ms, 0ms, true, long_answer);
  append(wave, burst("beta", 5, 300ms));
  run_wave(daemon, wave, counts);
  EXPECT_EQ(counts.count(ending::ok), 10u);
  finish("switch_under_load", daemon, counts, before);
}

TEST_F(scenarios, rapid_alternation) {
  auto daemon = start_daemon(two_models(), no_cooldown);
  auto before = warm_up(daemon, {"alpha", "beta"});
  tally counts;
  std::vector<scenario_request> wave;
  for (int i = 0; i < 10; ++i) {
    wave.push_back({i % 2 == 0 ? "alpha" : "beta"});
  }
  run_wave(daemon, wave, counts);
  EXPECT_EQ(counts.count(ending::ok), 10u);
  finish("rapid_alternation", daemon, counts, before);
}

TEST_F(scenarios, burst_during_switch) {
  auto daemon = start_daemon(two_models(), no_cooldown);
  auto before = warm_up(daemon, {"alpha", "beta"});
  tally counts;
  std::vector<scenario_request> wave{{"alpha"}};
  for (int i = 0; i < 10; ++i) {
    wave.push_back({i % 2 == 0 ? "alpha" : "beta", i % 3 == 0, {}, 100ms});
  }
  run_wave(daemon, wave, counts);
  EXPECT_EQ(counts.count(ending::ok), 11u);
  finish("burst_during_switch", daemon, counts, before);
}

TEST_F(scenarios, streaming_during_switch) {
  auto daemon = start_daemon(two_models(), no_cooldown);
  auto before = warm_up(daemon, {"beta", "alpha"});
  tally counts;
  std::vector<scenario_request> wave{{"alpha", true, R"(,"max_tokens":500,"ignore_eos":true)"},
                                     {"beta", false, {}, 500ms}};
  run_wave(daemon, wave, counts);
  EXPECT_EQ(counts.count(ending::ok), 2u);
  finish("streaming_during_switch", daemon, counts, before);
}

TEST_F(scenarios, abandoned_streams) {
  auto daemon = start_daemon(two_models(), no_cooldown);
  auto before = warm_up(daemon, {"alpha", "beta"});
  tally counts;
  std::vector<scenario_request> abandoned;
  for (int i = 0; i < 10; ++i) {
    abandoned.push_back({"alpha", true, R"(,"max_tokens":2000,"ignore_eos":true)", 0ms, 500ms});
  }
  run_wave(daemon, abandoned, counts);
  EXPECT_EQ(counts.count(ending::abandoned), 10u);
  auto follow_ups = burst("beta", 10);
  append(follow_ups, burst("alpha", 10, 50ms));
  run_wave(daemon, follow_ups, counts);
  EXPECT_EQ(counts.count(ending::ok), 20u);
  finish("abandoned_streams", daemon, counts, before);
}

TEST_F(scenarios, double_switch_race) {
  auto daemon = start_daemon(two_models(), no_cooldown);
  auto before = warm_up(daemon, {"alpha", "beta"});
  tally counts;
  for (int round = 0; round < 3; ++round) {
    auto wave = burst("alpha", 5);
    append(wave, burst("beta", 5, 200ms));
    run_wave(daemon, wave, counts);
  }
  EXPECT_EQ(counts.count(ending::ok), 30u);
  finish("double_switch_race", daemon, counts, before);
}

TEST_F(scenarios, flood_during_sleep) {
  auto daemon = start_daemon(two_models(), no_cooldown);
  auto before = warm_up(daemon, {"beta", "alpha"});
  tally counts;
  auto wave = burst("alpha", 3, 0ms, 0ms, true, long_answer);
  append(wave, burst("beta", 1, 200ms));
  append(wave, burst("alpha", 30, 400ms, 10ms));
  run_wave(daemon, wave, counts);
  EXPECT_EQ(counts.count(ending::ok), 34u);
  finish("flood_during_sleep", daemon, counts, before);
}

TEST_F(scenarios, engine_overload) {
  auto daemon = start_daemon(two_models(), no_cooldown);
  auto before = warm_up(daemon, {"alpha", "beta"});
  tally counts;
  auto wave = burst("alpha", 100, 0ms, 0ms, false, R"(,"max_tokens":50)");
  append(wave, burst("beta", 100, 100ms, 0ms, true, R"(,"max_tokens":50)"));
  run_wave(daemon, wave, counts);
  EXPECT_EQ(counts.count(ending::ok), 200u);
  finish("engine_overload", daemon, counts, before);
}

TEST_F(scenarios, back_to_back_switches) {
  auto daemon = start_daemon(two_models(), no_cooldown);
  auto before = warm_up(daemon, {"alpha", "beta"});
  tally counts;
  for (int round = 0; round < 10; ++round) {
    run_wave(daemon, {{"alpha"}, {"beta"}}, counts);
  }
  EXPECT_EQ(counts.count(ending::ok), 20u);
  finish("back_to_back_switches", daemon, counts, before);
}

TEST_F(scenarios, endurance_with_random_mixes) {
  auto daemon = start_daemon(two_models(), no_cooldown);
  auto before = warm_up(daemon, {"alpha", "beta"});
  tally counts;
  std::mt19937 random(7);
  for (int iteration = 0; iteration < 6; ++iteration) {
    std::vector<scenario_request> wave;
    auto size = std::uniform_int_distribution<int>(20, 40)(random);
    for (int i = 0; i < size; ++i) {
      wave.push_back({random() % 2 ? "alpha" : "beta", random() % 2 == 0,
                      fmt::format(R"(,"max_tokens":{})", 5 + random() % 100),
                      std::chrono::milliseconds(random() % 500)});
    }
    run_wave(daemon, wave, counts);
  }
  EXPECT_EQ(counts.count(ending::ok), counts.sent());
  finish("endurance_with_random_mixes", daemon, counts, before);
}

// Faults.

TEST_F(scenarios, hung_engine) {
  auto daemon = start_daemon(two_models({}, {}, "50"), no_cooldown, fast_liveness);
  auto before = warm_up(daemon, {"beta", "alpha"});
  tally counts;
  auto wave = burst("alpha", 5, 0ms, 0ms, true, long_answer);
  append(wave, burst("beta", 5, 1000ms));
  run_wave(daemon, wave, counts, [&] {
    std::this_thread::sleep_for(500ms);
    auto pid = engine_pid(engine_port("alpha"));
    ASSERT_GT(pid, 0); // never kill(-1, ...)
    ::kill(pid, SIGSTOP);
  });
  EXPECT_EQ(counts.count(ending::clear_error), 5u); // the hung engine's streams
  EXPECT_EQ(counts.count(ending::ok), 5u);          // the other model's requests
  EXPECT_EQ(daemon.chat_until_served("alpha", 10s).status, 200);
  finish("hung_engine", daemon, counts, before);
}

TEST_F(scenarios, hung_control_call) {
  auto daemon = start_daemon(two_models({"--mock-faults", "hang_sleep=600000"}), no_cooldown,
                             R"("timeouts": {"sleep_timeout_secs": 2})");
  auto before = warm_up(daemon, {"beta", "alpha"});
  tally counts;
  auto wave = burst("alpha", 5);
  append(wave, burst("beta", 5, 300ms));
  append(wave, burst("alpha", 5, 600ms));
  run_wave(daemon, wave, counts);
  EXPECT_EQ(counts.count(ending::ok), 15u); // the hung sleep escalated to a stop
  finish("hung_control_call", daemon, counts, before);
}

TEST_F(scenarios, crash_at_start) {
  auto daemon
    = start_daemon(two_models({}, {"--mock-faults", "crash_at_start"}), no_cooldown, fast_liveness);
  auto before = warm_up(daemon, {"alpha"});
  tally counts;
  auto wave = burst("alpha", 5);
  append(wave, burst("beta", 5, 100ms));
  append(wave, burst("alpha", 5, 200ms));
  run_wave(daemon, wave, counts);
  EXPECT_EQ(counts.count(ending::ok), 10u);
  EXPECT_EQ(counts.count(ending::clear_error), 5u);
  finish("crash_at_start", daemon, counts, before);
}

TEST_F(scenarios, crash_while_serving) {
  auto daemon = start_daemon(two_models({"--mock-faults", "crash_mid_stream=20"}), no_cooldown,
                             fast_liveness);
  auto before = warm_up(daemon, {"beta", "alpha"});
  tally counts;
  auto wave = burst("alpha", 3, 0ms, 0ms, true, long_answer);
  append(wave, burst("beta", 3, 500ms));
  run_wave(daemon, wave, counts);
  EXPECT_EQ(counts.count(ending::clear_error), 3u);
  EXPECT_EQ(counts.count(ending::ok), 3u);
  EXPECT_EQ(daemon.chat_until_served("alpha", 10s).status, 200);
  finish("crash_while_serving", daemon, counts, before);
}

TEST_F(scenarios, failed_sleep_and_failed_wake) {
  auto daemon
    = start_daemon(two_models({"--mock-faults", "fail_sleep=3"}, {"--mock-faults", "fail_wake=3"}),
                   no_cooldown, fast_liveness);
  auto before = warm_up(daemon, {"beta", "alpha"});
  tally counts;
  // alpha's sleep fails (escalates to stop): beta is served. beta then sleeps; its wake fails
  // three times: its waiters get 503, and after the backoff it starts cold.
  run_wave(daemon, burst("beta", 5), counts);
  run_wave(daemon, burst("alpha", 5), counts);
  EXPECT_EQ(daemon.chat_until_served("beta", 10s).status, 200);
  run_wave(daemon, burst("beta", 5), counts);
  EXPECT_EQ(counts.count(ending::ok), 10u);
  EXPECT_EQ(counts.count(ending::clear_error), 5u);
  finish("failed_sleep_and_failed_wake", daemon, counts, before);
}

TEST_F(scenarios, crash_loop) {
  auto daemon = start_daemon(two_models({}, {"--mock-faults", "crash_on_request"}), no_cooldown,
                             R"("timeouts": {"failure_backoff_secs": 5})");
  auto before = warm_up(daemon, {"alpha"});
  tally counts;
  for (int round = 0; round < 5; ++round) {
    auto wave = burst("alpha", 10);
    append(wave, burst("beta", 2, 50ms));
    run_wave(daemon, wave, counts);
  }
  // beta crashes on its first request and then backs off; alpha keeps being served.
  EXPECT_EQ(counts.count(ending::ok), 50u);
  EXPECT_EQ(counts.count(ending::clear_error), 10u);
  simdjson::dom::parser parser;
  std::uint64_t switches = 0;
  EXPECT_FALSE(daemon.status(parser)["switches"].get(switches));
  EXPECT_LE(switches, 4u);
  finish("crash_loop", daemon, counts, before);
}

TEST_F(scenarios, sigkill_of_llmux) {
  auto daemon = start_daemon(two_models(), no_cooldown);
  warm_up(daemon, {"beta", "alpha"});
  std::vector<pid_t> engines;
  for (const auto& [model, port] : engine_ports_) {
    auto pid = engine_pid(port);
    ASSERT_GT(pid, 0) << model;
    engines.push_back(pid);
  }
  tally counts;
  std::size_t cut = 0;
  std::vector<std::future<bool>> clients;
  for (int i = 0; i < 10; ++i) {
    clients.push_back(std::async(std::launch::async, [&daemon, i] {
      auto result = daemon.chat(i % 2 ? "alpha" : "beta", true, long_answer);
      return result.complete;
    }));
  }
  std::this_thread::sleep_for(300ms);
  ::kill(daemon.process->pid(), SIGKILL);
  for (auto& client : clients) {
    cut += client.get() ? 0 : 1; // every client ends: answered before, or cut by the death
  }
  auto orphans = survivors(engines, 2s);
  fmt::print("scenario sigkill_of_llmux: sent 10, answered {}, cut by the kill {}, lost 0, "
             "orphans {}\n",
             10 - cut, cut, orphans);
  EXPECT_EQ(orphans, 0u);
}

} // namespace
} // namespace llmux::testing_support
