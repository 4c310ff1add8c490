// A cluster on loopback, every member a real process: three llmux nodes (each over mock-vllm
// engines on a GPU of its own) and `llmux --gateway` in front of them. The gateway routes each
// request to a node that serves its model, prefers the node where a replicated model is awake,
// takes a killed or stopped node out of rotation, and takes it back when it returns.

#include <algorithm>
#include <atomic>
#include <csignal>
#include <deque>
#include <fstream>
#include <future>
#include <map>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "tests/e2e/browser.hpp"
#include "tests/e2e/daemon.hpp"

namespace llmux::testing_support {
namespace {

constexpr const char* secret = "s3cret";

// One node of the test cluster: its file, its ports and, while it runs, its process.
struct test_node {
  std::string name;
  std::vector<std::string> models;
  std::string secret = testing_support::secret;
  std::uint16_t node_port = 0;
  std::map<std::string, std::uint16_t> engine_ports = {};
  running_daemon daemon = {};
};

class gateway_test : public mock_engine_test {
protected:
  void TearDown() override {
    for (auto& node : nodes_) {
      stop(node, SIGKILL);
    }
  }

  // Each model's engine answers as `NODE/MODEL`, so a reply names the node that served it.
  test_node& add_node(std::string name, std::vector<std::string> models,
                      std::string node_secret = secret) {
    // The node port is the node's own choice at its first start (a port picked here could be
    // taken by a parallel test before the node binds it); restarts keep it.
    test_node node{std::move(name), std::move(models), std::move(node_secret), 0};
    for (const auto& model : node.models) {
      node.engine_ports[model] = unused_port();
    }
    nodes_.push_back(std::move(node));
    return nodes_.back();
  }

  // A free port no other member of this cluster got: free_port may hand out a port again once
  // its probe socket is closed.
  std::uint16_t unused_port() {
    for (;;) {
      auto port = free_port();
      if (std::find(given_.begin(), given_.end(), port) == given_.end()) {
        given_.push_back(port);
        return port;
      }
    }
  }

  // Starts `node` (again, after a kill: same file, same ports) and waits until it serves.
  void start(test_node& node) {
    std::string models;
    for (const auto& model : node.models) {
      models += fmt::format(
        R"({}"{}":{{"model_path":"{}/{}","port":{},)"
        R"("eviction":"offload+keep_running",)"
        R"("extra_args":["--mock-profile","fast","--mock-tokens-per-sec","40"]}})",
        models.empty() ? "" : ",", model, node.name, model, node.engine_ports[model]);
    }
    auto path = scratch_ / (node.name + ".json");
    std::ofstream(path) << fmt::format(
      R"({{"models":{{{}}},"policy":{{"min_active_secs":0}},"vllm_command":"{}",)"
      R"("metrics_port":0,"cluster":{{"node_port":{},"name":"{}","secret":"{}"}}}})",
      models, LLMUX_MOCK_VLLM, node.node_port, node.name, node.secret);
    auto gpu = scratch_ / ("gpu-" + node.name);
    std::filesystem::create_directories(gpu);
    node.daemon = launch({LLMUX_DAEMON, "-c", path, "-p", "0", "--host", "127.0.0.1"},
                         {"LLMUX_MOCK_GPU_DIR=" + gpu}, "model(s) on http://127.0.0.1:");
    auto marker = fmt::format("cluster node {} on 127.0.0.1:", node.name);
    if (auto published = node.daemon.process->wait_for_text(marker, 0s)) {
      node.node_port = static_cast<std::uint16_t>(
        std::stoi(published->substr(published->find(marker) + marker.size())));
    }
  }

  // Ends `node` with `signal` (its engines too: after SIGKILL they would outlive it).
  void stop(test_node& node, int signal) {
    if (!node.daemon.process) {
      return;
    }
    ::kill(node.daemon.process->pid(), signal);
    node.daemon.process->wait_exit(10s);
    for (const auto& [model, port] : node.engine_ports) {
      if (auto pid = engine_pid(port); pid > 0) {
        ::kill(pid, SIGKILL);
      }
    }
    node.daemon.process.reset();
  }

  // `more`: top-level members of its file (JSON).
  running_daemon start_gateway(const std::string& more = {}) {
    std::string members;
    for (auto& node : nodes_) {
      if (node.node_port == 0) {
        node.node_port = unused_port(); // not started yet: it will bind the one listed here
      }
      members += fmt::format(R"({}{{"name":"{}","host":"127.0.0.1","node_port":{}}})",
                             members.empty() ? "" : ",", node.name, node.node_port);
    }
    auto path = scratch_ / "gateway.json";
    std::ofstream(path) << fmt::format(
      R"({{{}{}"cluster":{{"name":"test-gateway","secret":"{}","nodes":[{}]}}}})",
      more.find("metrics_port") == std::string::npos ? R"("metrics_port":0,)" : "",
      more.empty() ? "" : more + ",", secret, members);
    return launch({LLMUX_DAEMON, "--gateway", "-c", path, "-p", "0", "--host", "127.0.0.1"}, {},
                  " node(s) on http://127.0.0.1:");
  }

  running_daemon launch(const std::vector<std::string>& argv, std::vector<std::string> env,
                        std::string_view marker) {
    env.insert(env.end(), {"LLMUX_LOG=info", "VLLM_SERVER_DEV_MODE=1"});
    running_daemon daemon;
    daemon.process = std::make_unique<child_process>(argv, env);
    auto serving = daemon.process->wait_for_text(marker, 20s);
    if (!serving) {
      ADD_FAILURE() << argv[0] << " did not start serving; output:\n" << daemon.process->output();
      return daemon;
    }
    daemon.port = static_cast<std::uint16_t>(
      std::stoi(serving->substr(serving->find(marker) + marker.size())));
    constexpr std::string_view admin_marker = "admin API on http://127.0.0.1:";
    if (auto admin = daemon.process->wait_for_text(admin_marker, 0s)) {
      daemon.admin_port = static_cast<std::uint16_t>(
        std::stoi(admin->substr(admin->find(admin_marker) + admin_marker.size())));
    }
    return daemon;
  }

  // The gateway's view of node `name`: {"state", "in_rotation", ...}.
  static std::string node_state(const running_daemon& gateway, const std::string& name) {
    simdjson::dom::parser parser;
    auto node = gateway.status(parser)["nodes"][name];
    return std::string(text_at(node["state"]));
  }

  static bool serves_everything(const running_daemon& gateway,
                                const std::vector<std::string>& models) {
    simdjson::dom::parser parser;
    auto listed = http::http_request("GET", gateway.url("/v1/models"), {}, {}, 5s);
    return std::all_of(models.begin(), models.end(), [&](const std::string& model) {
      return listed.body.find(fmt::format(R"("id":"{}")", model)) != std::string::npos;
    });
  }

  // Whether the gateway's view of `node` has exactly `awake` (a JSON array) awake.
  static bool awake_as(const running_daemon& gateway, const std::string& node,
                       std::string_view awake) {
    simdjson::dom::parser parser;
    return simdjson::minify(gateway.status(parser)["nodes"][node]["awake"]) == awake;
  }

  // The node that answered: the engine's model name is `NODE/MODEL`.
  static std::string served_by(const http::http_result& answer) {
    simdjson::dom::parser parser;
    std::string_view model;
    if (answer.status != 200 || parser.parse(answer.body)["model"].get(model)) {
      return fmt::format("<HTTP {}: {}>", answer.status, answer.body);
    }
    return std::string(model.substr(0, model.find('/')));
  }

  // A deque: the references add_node returns stay valid.
  std::deque<test_node> nodes_;
  std::vector<std::uint16_t> given_;
};

TEST_F(gateway_test, routes_each_model_to_a_node_that_serves_it_and_prefers_where_it_is_awake) {
  auto& a = add_node("node-a", {"alpha", "shared"});
  auto& b = add_node("node-b", {"beta", "shared"});
  auto& c = add_node("node-c", {"gamma"});
  // The gateway first: nodes and gateway start in any order.
  auto gateway = start_gateway();
  for (auto* node : {&a, &b, &c}) {
    start(*node);
  }
  ASSERT_TRUE(eventually(
    [&] {
      return serves_everything(gateway, {"alpha", "beta", "gamma", "shared"});
    },
    10s))
    << gateway.process->output();
  EXPECT_EQ(served_by(gateway.chat("alpha")), "node-a");
  EXPECT_EQ(served_by(gateway.chat("beta")), "node-b");
  EXPECT_EQ(served_by(gateway.chat("gamma")), "node-c");
  // `shared` is awake on node-b only (woken there directly, behind the gateway's back): the
  // gateway sends it there, not to node-a, listed first, where it would need a switch.
  ASSERT_EQ(served_by(b.daemon.chat("shared")), "node-b");
  ASSERT_TRUE(eventually([&] { return awake_as(gateway, "node-b", R"(["shared"])"); }, 3s));
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(served_by(gateway.chat("shared")), "node-b") << "request " << i;
  }
  // Named in the model-override header only: the node learns it the same way.
  auto by_header
    = http::http_request("POST", gateway.url("/v1/chat/completions"), chat_request("Hello there"),
                         {"Content-Type: application/json", "model-override: gamma"}, 60s);
  EXPECT_EQ(served_by(by_header), "node-c");
  // Unknown to every node: 404, as on a node.
  EXPECT_EQ(gateway.chat("delta").status, 404);
  simdjson::dom::parser parser;
  auto status = gateway.status(parser);
  EXPECT_EQ(number_at(status["nodes"]["node-b"]["routed"]), 6u);
  EXPECT_EQ(number_at(status["nodes"]["node-a"]["routed"]), 1u);
  EXPECT_EQ(text_at(status["nodes"]["node-c"]["state"]), "serving");
}

TEST_F(gateway_test, a_killed_node_leaves_rotation_its_requests_end_and_it_rejoins) {
  auto& a = add_node("node-a", {"alpha", "shared"});
  auto& b = add_node("node-b", {"beta", "shared"});
  auto& c = add_node("node-c", {"gamma"});
  for (auto* node : {&a, &b, &c}) {
    start(*node);
  }
  auto gateway = start_gateway();
  ASSERT_TRUE(eventually(
    [&] {
      return serves_everything(gateway, {"alpha", "beta", "gamma", "shared"});
    },
    10s))
    << gateway.process->output();
  ASSERT_EQ(served_by(a.daemon.chat("shared")), "node-a");
  // Routed only once the gateway sees shared awake on node-a: a request routed before that
  // could wake it on node-b too, and then the requests below would be spread over both.
  ASSERT_TRUE(eventually([&] { return awake_as(gateway, "node-a", R"(["shared"])"); }, 3s));
  ASSERT_EQ(served_by(gateway.chat("shared")), "node-a");
  // A long answer in progress on node-a (400 tokens at 40 per second), and a request queued
  // there behind it (alpha needs a switch, which waits for shared's request to finish).
  // A stream of the same length too.
  auto outstanding_on_a = [&](std::uint64_t count) {
    return eventually(
      [&] {
        simdjson::dom::parser parser;
        return number_at(gateway.status(parser)["nodes"]["node-a"]["outstanding"]) == count;
      },
      3s);
  };
  constexpr const char* long_tokens = R"(,"max_tokens":400,"ignore_eos":true)";
  auto long_answer
    = std::async(std::launch::async, [&] { return gateway.chat("shared", false, long_tokens); });
  // Where the requests went, should they not all be on node-a (rarely seen under ctest -j2).
  auto nodes_now = [&] {
    return http::http_request("GET", gateway.url("/llmux/status")).body + "\n"
           + gateway.process->output();
  };
  ASSERT_TRUE(outstanding_on_a(1)) << nodes_now();
  // The stream's first event must have arrived before the kill: one still waiting for its
  // head gets a 503 like the others instead of an error event.
  std::atomic<bool> stream_began{false};
  auto stream = std::async(std::launch::async, [&] {
    auto body = fmt::format(R"({{"model":"shared",{})",
                            chat_request("Hello there", true, long_tokens).substr(1));
    return gateway.raw_exchange_noting(chat_http_post(body, true), 30s, "chat.completion.chunk",
                                       stream_began);
  });
  ASSERT_TRUE(outstanding_on_a(2)) << nodes_now();
  ASSERT_TRUE(eventually([&] { return stream_began.load(); }, 5s)) << nodes_now();
  auto queued = std::async(std::launch::async, [&] { return gateway.chat("alpha"); });
  ASSERT_TRUE(outstanding_on_a(3)) << nodes_now();
  stop(a, SIGKILL);
  // Out of rotation within a second; every request ends, nothing hangs: the waiting ones with
  // a clear 503, the stream with an error event after what it had.
  EXPECT_TRUE(eventually([&] { return node_state(gateway, "node-a") != "serving"; }, 1s));
  for (auto* pending : {&long_answer, &queued}) {
    ASSERT_EQ(pending->wait_for(5s), std::future_status::ready);
  }
  ASSERT_EQ(stream.wait_for(5s), std::future_status::ready);
  auto cut = long_answer.get();
  auto waiting = queued.get();
  auto streamed = stream.get();
  EXPECT_EQ(cut.status, 503) << cut.body;
  EXPECT_EQ(waiting.status, 503) << waiting.body;
  EXPECT_TRUE(streamed.starts_with("HTTP/1.1 200")) << streamed;
  EXPECT_NE(streamed.find("chat.completion.chunk"), std::string::npos) << streamed;
  EXPECT_NE(streamed.find(R"("error")"), std::string::npos) << streamed;
  EXPECT_NE(streamed.rfind("data: [DONE]"), std::string::npos) << streamed;
  // Its replicated model goes on on the replica; its own model is unavailable, said so.
  EXPECT_EQ(served_by(gateway.chat("shared")), "node-b");
  EXPECT_EQ(served_by(gateway.chat("gamma")), "node-c");
  auto alone = gateway.chat("alpha");
  EXPECT_EQ(alone.status, 503);
  EXPECT_NE(alone.body.find("node_unavailable"), std::string::npos) << alone.body;
  // Back after a restart: joined again, its model served again.
  start(a);
  ASSERT_TRUE(eventually([&] { return node_state(gateway, "node-a") == "serving"; }, 10s))
    << gateway.process->output();
  EXPECT_EQ(served_by(gateway.chat("alpha")), "node-a");
  simdjson::dom::parser parser;
  EXPECT_EQ(number_at(gateway.status(parser)["nodes"]["node-a"]["joins"]), 2u);
}

TEST_F(gateway_test, a_gateway_restart_loses_nothing_on_the_nodes) {
  auto& a = add_node("node-a", {"alpha", "beta"});
  start(a);
  auto first = std::make_unique<running_daemon>(start_gateway());
  ASSERT_EQ(served_by(first->chat_until_served("alpha", 10s)), "node-a");
  simdjson::dom::parser parser;
  auto starts = number_at(a.daemon.status(parser)["models"]["alpha"]["engine_starts"]);
  auto switches = number_at(a.daemon.status(parser)["switches"]);
  ::kill(first->process->pid(), SIGKILL);
  first->process->wait_exit(10s);
  first.reset();
  // The node did not notice beyond its log: alpha is still awake, its engine the same.
  EXPECT_EQ(text_at(a.daemon.status(parser).at_pointer("/awake/0")), "alpha");
  auto second = start_gateway();
  ASSERT_TRUE(eventually([&] { return node_state(second, "node-a") == "serving"; }, 10s));
  EXPECT_EQ(served_by(second.chat("alpha")), "node-a");
  EXPECT_EQ(number_at(a.daemon.status(parser)["models"]["alpha"]["engine_starts"]), starts);
  EXPECT_EQ(number_at(a.daemon.status(parser)["switches"]), switches);
}

TEST_F(gateway_test, a_stopped_node_leaves_rotation_on_missed_heartbeats_and_returns) {
  auto& a = add_node("node-a", {"alpha"});
  start(a);
  auto gateway = start_gateway();
  ASSERT_TRUE(eventually([&] { return node_state(gateway, "node-a") == "serving"; }, 10s));
  ASSERT_EQ(served_by(gateway.chat("alpha")), "node-a");
  // SIGSTOP keeps the link open: only the missing heartbeats tell.
  ::kill(a.daemon.process->pid(), SIGSTOP);
  EXPECT_TRUE(eventually([&] { return node_state(gateway, "node-a") == "silent"; }, 2s));
  EXPECT_EQ(gateway.chat("alpha").status, 503);
  ::kill(a.daemon.process->pid(), SIGCONT);
  EXPECT_TRUE(eventually([&] { return node_state(gateway, "node-a") == "serving"; }, 3s));
  EXPECT_EQ(served_by(gateway.chat("alpha")), "node-a");
}

TEST_F(gateway_test, a_node_with_another_secret_is_refused) {
  auto& a = add_node("node-a", {"alpha"});
  auto& b = add_node("node-b", {"beta"}, "not-the-cluster-secret");
  start(a);
  start(b);
  auto gateway = start_gateway();
  ASSERT_TRUE(eventually([&] { return node_state(gateway, "node-b") == "refused"; }, 10s))
    << gateway.process->output();
  // The two links are made independently: node-a may join after node-b was refused.
  ASSERT_TRUE(eventually([&] { return node_state(gateway, "node-a") == "serving"; }, 10s));
  EXPECT_TRUE(b.daemon.process->wait_for_text("refused test-gateway", 5s))
    << b.daemon.process->output();
  EXPECT_TRUE(gateway.process->wait_for_text("refused us: wrong cluster secret", 2s));
  EXPECT_EQ(served_by(gateway.chat("alpha")), "node-a");
  // Nothing of node-b was shared: its model is unknown to the gateway.
  EXPECT_EQ(gateway.chat("beta").status, 404);
}

TEST_F(gateway_test, the_status_page_shows_the_nodes_live) {
  auto& a = add_node("node-a", {"alpha"});
  auto& b = add_node("node-b", {"beta"});
  start(a);
  start(b);
  auto metrics_port = unused_port();
  auto gateway = start_gateway(fmt::format(R"("admin_port": 0, "metrics_port": {})", metrics_port));
  ASSERT_NE(gateway.admin_port, 0) << gateway.process->output();
  ASSERT_EQ(gateway.chat_until_served("alpha", 10s).status, 200);
  headless_browser browser(fmt::format("http://127.0.0.1:{}/", gateway.admin_port),
                           scratch_ / "chromium");
  ASSERT_TRUE(browser.failure().empty()) << browser.failure();
  constexpr const char* badge = "document.querySelector('tr[data-node=\"{}\"] .badge')"
                                "?.textContent === '{}'";
  ASSERT_TRUE(browser.wait_until(fmt::format(badge, "node-a", "serving") + " && "
                                   + fmt::format(badge, "node-b", "serving"),
                                 20s))
    << browser.failure() << browser.evaluate("document.body.innerText");
  EXPECT_EQ(browser.evaluate("document.querySelector('tr[data-node=\"node-a\"]')"
                             ".cells[3].textContent"),
            R"("alpha")");
  auto up = [&](const char* node) {
    return metric_sample(scrape_metrics(metrics_port),
                         fmt::format("llmux_cluster_node_up{{node=\"{}\"}}", node));
  };
  EXPECT_EQ(up("node-b"), 1);
  EXPECT_GE(
    metric_sample(scrape_metrics(metrics_port), R"(llmux_cluster_routed_total{node="node-a"})"), 1);
  stop(b, SIGKILL);
  EXPECT_TRUE(browser.wait_until(fmt::format(badge, "node-b", "unreachable"), 5s))
    << browser.evaluate("document.body.innerText");
  EXPECT_EQ(up("node-b"), 0);
  EXPECT_EQ(up("node-a"), 1);
  // The admin API's status has the nodes too. The gateway keeps trying the dead node, which is
  // "connecting" while a try runs: out of rotation throughout, "unreachable" between tries.
  http::http_result status;
  EXPECT_TRUE(eventually(
    [&] {
      status = http::http_request(
        "GET", fmt::format("http://127.0.0.1:{}/control/status", gateway.admin_port), {}, {}, 5s);
      return status.body.find(R"("node-b":{"state":"unreachable","in_rotation":false)")
             != std::string::npos;
    },
    5s))
    << status.body;
}

} // namespace
} // namespace llmux::testing_support
