// The admin API: the reference's /control/* endpoints with its bodies and status codes, run
// through the scheduler. Real llmux, real mock-vllm engines.

#include <fmt/format.h>

#include "tests/e2e/daemon.hpp"

namespace llmux::testing_support {
namespace {

class admin_test : public daemon_test {
protected:
  /// Starts llmux with `models` and the admin API on a free port (`more`: more top-level
  /// members).
  running_daemon start_with_admin(const std::vector<test_model>& models,
                                  const std::string& more = {}) {
    auto top = fmt::format(R"("admin_port": 0{})", more.empty() ? "" : "," + more);
    auto daemon = start_daemon(models, R"("min_active_secs": 0)", top);
    admin_port_ = daemon.admin_port;
    EXPECT_NE(admin_port_, 0) << daemon.process->output();
    return daemon;
  }

  http::http_result control(const std::string& method, const std::string& action,
                            const std::string& body = {},
                            const std::vector<std::string>& headers = {}) {
    return http::http_request(
      method, fmt::format("http://127.0.0.1:{}/control/{}", admin_port_, action), body, headers);
  }

  http::http_result post(const std::string& action, const std::string& body = {},
                         const std::vector<std::string>& headers = {}) {
    return control("POST", action, body, headers);
  }

  /// `GET /control/status`, parsed.
  simdjson::dom::element control_status(simdjson::dom::parser& parser) {
    auto status = control("GET", "status");
    EXPECT_EQ(status.status, 200) << status.body;
    return parse_json(parser, status.body);
  }

  std::uint16_t admin_port_ = 0;
};

TEST_F(admin_test, status_pin_manual_mode_and_unpin_as_the_reference_answers) {
  auto daemon = start_with_admin({{"alpha"}, {"beta"}});
  simdjson::dom::parser parser;
  auto idle = control_status(parser);
  EXPECT_EQ(text_at(idle["state"]), "idle");
  EXPECT_TRUE(idle["active_model"].is_null());
  EXPECT_EQ(text_at(idle["mode"]["mode"]), "auto");
  EXPECT_EQ(text_at(idle["models"]["alpha"]["process_state"]), "not_started");
  EXPECT_EQ(number_at(idle["models"]["beta"]["queue_depth"]), 0u);

  auto pinned = post("pin", R"({"model":"alpha"})");
  EXPECT_EQ(pinned.status, 200);
  EXPECT_EQ(pinned.body, R"({"message":"Pinned to model: alpha"})");
  auto status = control_status(parser);
  EXPECT_EQ(text_at(status["state"]), "active:alpha");
  EXPECT_EQ(text_at(status["active_model"]), "alpha");
  EXPECT_EQ(text_at(status["mode"]["mode"]), "manual");
  EXPECT_EQ(text_at(status["mode"]["pinned"]), "alpha");
  EXPECT_EQ(text_at(status["models"]["alpha"]["process_state"]), "running");
  // Manual mode: the pinned model is served, another is refused at once without a switch.
  EXPECT_EQ(daemon.chat("alpha").status, 200);
  auto refused = daemon.chat("beta");
  EXPECT_EQ(refused.status, 503);
  EXPECT_NE(refused.body.find("Manual mode active: model beta not available (active: alpha)"),
            std::string::npos)
    << refused.body;
  EXPECT_NE(refused.body.find(R"("code":"manual_mode")"), std::string::npos) << refused.body;
  EXPECT_EQ(text_at(daemon.status(parser)["active"]), "alpha");

  auto unpinned = post("unpin");
  EXPECT_EQ(unpinned.status, 200);
  EXPECT_EQ(unpinned.body, R"({"message":"Unpinned. Switched to auto mode."})");
  EXPECT_EQ(daemon.chat("beta").status, 200); // the policy switches again
  EXPECT_EQ(text_at(control_status(parser)["state"]), "active:beta");
  EXPECT_EQ(text_at(control_status(parser)["models"]["alpha"]["process_state"]),
            "sleeping:Offload+KeepRunning");
}

TEST_F(admin_test, mode_switch_eviction_sleep_wake_and_history) {
  auto daemon = start_with_admin({{"alpha"}, {"beta"}});
  simdjson::dom::parser parser;
  auto manual = post("mode", R"({"mode":"manual"})");
  EXPECT_EQ(manual.status, 200);
  EXPECT_EQ(manual.body, R"({"message":"Switched to manual mode"})");
  // Manual without a pin serves the active model only; nothing is active yet.
  EXPECT_EQ(daemon.chat("alpha").status, 503);
  auto unknown = post("mode", R"({"mode":"turbo"})");
  EXPECT_EQ(unknown.status, 400);
  EXPECT_EQ(unknown.body, R"({"message":"Unknown mode: turbo. Use 'auto' or 'manual'."})");

  auto switched = post("switch", R"({"model":"beta"})");
  EXPECT_EQ(switched.status, 200);
  EXPECT_EQ(switched.body, R"({"message":"Switched to model: beta"})");
  // In manual mode a switch re-pins.
  EXPECT_EQ(text_at(control_status(parser)["mode"]["pinned"]), "beta");
  EXPECT_EQ(daemon.chat("beta").status, 200);
  auto back_to_auto = post("mode", R"({"mode":"auto"})");
  EXPECT_EQ(back_to_auto.body, R"({"message":"Switched to auto mode"})");

  auto set = post("eviction",
                  R"({"model":"beta","eviction":{"weights":"discard","process":"keep_running"}})");
  EXPECT_EQ(set.status, 200);
  EXPECT_EQ(set.body, R"({"message":"Eviction policy for beta set to EvictionPolicy { weights: )"
                      R"(Discard, process: KeepRunning }"})");
  auto evictions = control("GET", "eviction");
  ASSERT_EQ(evictions.status, 200);
  auto listed = parse_json(parser, evictions.body);
  EXPECT_EQ(text_at(listed["models"]["beta"]["eviction"]["weights"]), "discard");
  EXPECT_EQ(text_at(listed["models"]["beta"]["eviction"]["process"]), "keep_running");
  EXPECT_EQ(text_at(listed["models"]["beta"]["process_state"]), "running");

  // A sleep goes through the scheduler: afterwards nothing is active, and a request wakes the
  // model again instead of reaching a sleeping engine.
  auto slept = post("sleep", R"({"model":"beta"})");
  EXPECT_EQ(slept.status, 200);
  EXPECT_EQ(slept.body, R"({"message":"Model beta sleeping with policy EvictionPolicy { )"
                        R"(weights: Discard, process: KeepRunning }"})");
  auto after_sleep = control_status(parser);
  EXPECT_EQ(text_at(after_sleep["state"]), "idle");
  EXPECT_EQ(text_at(after_sleep["models"]["beta"]["process_state"]),
            "sleeping:Discard+KeepRunning");
  auto served = daemon.chat("beta");
  EXPECT_EQ(served.status, 200) << served.body;

  auto woken = post("wake", R"({"model":"alpha"})");
  EXPECT_EQ(woken.status, 200);
  EXPECT_EQ(woken.body, R"({"message":"Model alpha woken"})");
  EXPECT_EQ(text_at(control_status(parser)["state"]), "active:alpha");
  // Waking the active model again is nothing to do.
  EXPECT_EQ(post("wake", R"({"model":"alpha"})").status, 200);

  auto history = control("GET", "history");
  ASSERT_EQ(history.status, 200);
  std::vector<std::string> directions;
  // The array is held in a local: a range-for over `.value()` of a temporary result dangles.
  simdjson::dom::array switches;
  ASSERT_FALSE(parse_json(parser, history.body)["switches"].get(switches));
  for (auto record : switches) {
    auto end = [](simdjson::dom::element name) {
      return name.is_null() ? std::string{"-"} : std::string{text_at(name)};
    };
    directions.push_back(end(record["from"]) + ">" + end(record["to"]));
  }
  // The cold start of beta, its sleep to an idle GPU, its wake, then alpha.
  EXPECT_EQ(directions, (std::vector<std::string>{"->beta", "beta>-", "->beta", "beta>alpha"}));

  // beta sleeps in its engine while alpha serves: a sleep with stop ends that engine too.
  ASSERT_GT(engine_pid(engine_port("beta")), 0);
  EXPECT_EQ(text_at(control_status(parser)["models"]["beta"]["process_state"]),
            "sleeping:Discard+KeepRunning");
  auto stopped
    = post("sleep", R"({"model":"beta","eviction":{"weights":"retain","process":"stop"}})");
  EXPECT_EQ(stopped.status, 200) << stopped.body;
  EXPECT_EQ(stopped.body, R"({"message":"Model beta sleeping with policy EvictionPolicy { )"
                          R"(weights: Retain, process: Stop }"})");
  EXPECT_EQ(engine_pid(engine_port("beta")), -1);
  EXPECT_EQ(text_at(control_status(parser)["models"]["beta"]["process_state"]), "not_started");
  EXPECT_EQ(text_at(control_status(parser)["state"]), "active:alpha"); // alpha kept serving
  EXPECT_EQ(daemon.chat("beta").status, 200); // a cold start brings beta back
}

TEST_F(admin_test, bad_requests_get_the_reference_rejections) {
  auto daemon = start_with_admin({{"alpha"}});
  EXPECT_EQ(post("pin", R"({"model":"alpha"})", {"Content-Type: text/plain"}).status, 415);
  auto malformed = post("pin", R"({"model":)");
  EXPECT_EQ(malformed.status, 400);
  EXPECT_TRUE(malformed.body.starts_with("Failed to parse the request body as JSON"))
    << malformed.body;
  auto missing = post("switch", R"({"name":"alpha"})");
  EXPECT_EQ(missing.status, 422);
  EXPECT_NE(missing.body.find("missing field `model`"), std::string::npos) << missing.body;
  EXPECT_EQ(post("switch", R"({"model":7})").status, 422);
  EXPECT_EQ(
    post("eviction", R"({"model":"alpha","eviction":{"weights":"some","process":"stop"}})").status,
    422);
  auto unknown = post("switch", R"({"model":"zeta"})");
  EXPECT_EQ(unknown.status, 404);
  EXPECT_EQ(unknown.body, R"({"error":"Model not found: zeta"})");
  EXPECT_EQ(post("pin", R"({"model":"zeta"})").status, 404);
  EXPECT_EQ(post("sleep", R"({"model":"zeta"})").status, 404);
  EXPECT_EQ(post("wake", R"({"model":"zeta"})").status, 404);
  EXPECT_EQ(
    post("eviction", R"({"model":"zeta","eviction":{"weights":"retain","process":"stop"}})").status,
    404);
  EXPECT_EQ(control("GET", "pin").status, 405);
  EXPECT_EQ(control("POST", "status").status, 405);
  auto nowhere = control("GET", "nowhere");
  EXPECT_EQ(nowhere.status, 404);
  EXPECT_EQ(nowhere.body, "");
}

TEST_F(admin_test, a_pin_whose_switch_fails_restores_the_mode_and_a_wake_retries_a_failed_model) {
  // beta's engine exits at once on start: its start fails, and it backs off.
  auto daemon = start_with_admin(
    {{"alpha"}, {"beta", "offload+keep_running", {"--mock-faults", "crash_at_start"}}});
  simdjson::dom::parser parser;
  auto failed = post("pin", R"({"model":"beta"})");
  EXPECT_EQ(failed.status, 500);
  EXPECT_TRUE(failed.body.starts_with(R"({"error":"Failed to switch to pinned model: )"))
    << failed.body;
  EXPECT_EQ(text_at(control_status(parser)["mode"]["mode"]), "auto"); // restored
  EXPECT_TRUE(
    control_status(parser)["models"]["beta"]["process_state"].get_string().value().starts_with(
      "failed:"));
  auto refused = daemon.chat("beta");
  EXPECT_EQ(refused.status, 503); // backing off
  // An operator's wake does not wait for the backoff: it tries again at once (and fails again).
  auto retried = post("wake", R"({"model":"beta"})");
  EXPECT_EQ(retried.status, 500);
  EXPECT_TRUE(retried.body.starts_with(R"({"error":"Failed to wake model: )")) << retried.body;
  EXPECT_EQ(number_at(daemon.status(parser)["models"]["beta"]["engine_starts"]), 2u);
}

TEST_F(admin_test, a_token_guards_every_control_call_and_the_environment_wins) {
  daemon_env_ = {"LLMUX_ADMIN_TOKEN=from-the-environment"};
  auto daemon = start_with_admin({{"alpha"}}, R"("admin_token": "from-the-file")");
  auto without = control("GET", "status");
  EXPECT_EQ(without.status, 401);
  EXPECT_NE(without.body.find("admin token"), std::string::npos) << without.body;
  EXPECT_EQ(control("GET", "status", {}, {"Authorization: Bearer from-the-file"}).status, 401);
  EXPECT_EQ(control("GET", "status", {}, {"Authorization: Bearer from-the-environment-"}).status,
            401);
  EXPECT_EQ(post("pin", R"({"model":"alpha"})", {"Authorization: Bearer wrong"}).status, 401);
  EXPECT_EQ(control("GET", "status", {}, {"Authorization: Bearer from-the-environment"}).status,
            200);
  auto pinned
    = post("pin", R"({"model":"alpha"})",
           {"Authorization: Bearer from-the-environment", "Content-Type: application/json"});
  EXPECT_EQ(pinned.status, 200) << pinned.body;
  // Never logged.
  EXPECT_EQ(daemon.process->output().find("from-the-environment"), std::string::npos);
  EXPECT_EQ(daemon.process->output().find("from-the-file"), std::string::npos);
}

} // namespace
} // namespace llmux::testing_support
