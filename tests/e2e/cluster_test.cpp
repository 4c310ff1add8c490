// llmux as a cluster node: a gateway (here the test, a separate process with an actor system
// of its own) reaches the node actor over CAF's middleman, proves the cluster secret, and gets
// the node's view, then a view at every heartbeat. A wrong secret gets nothing.

#include <chrono>
#include <optional>
#include <string>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/io/middleman.hpp>
#include <caf/scoped_actor.hpp>
#include <fmt/format.h>
#include <gtest/gtest.h>

#include "actors/node.hpp"
#include "tests/e2e/daemon.hpp"

namespace llmux::testing_support {
namespace {

using actors::node_view;

// A gateway's side of the link to the node published on `port`, in this process.
class gateway {
public:
  explicit gateway(std::uint16_t port) : system_(configured(config_)), self_(system_) {
    auto node = system_.middleman().remote_actor<actors::node_actor>("127.0.0.1", port);
    if (node) {
      node_ = *node;
    } else {
      ADD_FAILURE() << "cannot reach the node: " << system_.render(node.error());
    }
  }

  bool reached() const {
    return node_.has_value();
  }

  // Joins with `secret` and returns the answer (a view that says whether it was accepted).
  node_view join(const std::string& secret) {
    node_view answer;
    self_->request(*node_, std::chrono::seconds(5), actors::join_atom_v, secret, "test-gateway")
      .receive([&](node_view& view) { answer = std::move(view); },
               [&](caf::error& error) { ADD_FAILURE() << system_.render(error); });
    return answer;
  }

  // The next view pushed within `timeout`, if any.
  std::optional<node_view> next_view(std::chrono::milliseconds timeout) {
    std::optional<node_view> pushed;
    self_->receive([&](actors::view_atom, node_view& view) { pushed = std::move(view); },
                   caf::after(timeout) >> [] {});
    return pushed;
  }

private:
  static caf::actor_system_config& configured(caf::actor_system_config& cfg) {
    cfg.add_message_types<caf::id_block::llmux>();
    cfg.load<caf::io::middleman>();
    return cfg;
  }

  caf::actor_system_config config_;
  caf::actor_system system_;
  caf::scoped_actor self_;
  std::optional<actors::node_actor> node_;
};

class cluster_test : public daemon_test {
protected:
  // The port the daemon published its node on, from its log.
  static std::uint16_t node_port(running_daemon& daemon) {
    constexpr std::string_view marker = " on 127.0.0.1:";
    auto line = daemon.process->wait_for_text("cluster node gpu-a on 127.0.0.1:", 5s);
    if (!line) {
      ADD_FAILURE() << "no node published:\n" << daemon.process->output();
      return 0;
    }
    return static_cast<std::uint16_t>(std::stoi(line->substr(line->find(marker) + marker.size())));
  }
};

constexpr const char* node_config
  = R"("cluster": {"node_port": 0, "name": "gpu-a", "secret": "s3cret"})";

TEST_F(cluster_test, a_gateway_with_the_secret_gets_the_view_and_then_every_heartbeat) {
  auto daemon = start_daemon({{"alpha"}, {"beta"}}, R"("min_active_secs": 0)", node_config);
  gateway side(node_port(daemon));
  ASSERT_TRUE(side.reached());
  auto view = side.join("s3cret");
  ASSERT_TRUE(view.accepted) << view.error;
  EXPECT_EQ(view.node, "gpu-a");
  EXPECT_EQ(view.proxy_host, "127.0.0.1");
  EXPECT_EQ(view.proxy_port, daemon.port);
  ASSERT_EQ(view.snapshot.models.size(), 2u);
  EXPECT_EQ(view.snapshot.models[0].name, "alpha");
  EXPECT_TRUE(view.snapshot.awake.empty());
  // A request on the node's proxy shows in the next views.
  ASSERT_EQ(daemon.chat("alpha").status, 200);
  std::optional<node_view> pushed;
  auto until = std::chrono::steady_clock::now() + 3s;
  while (std::chrono::steady_clock::now() < until
         && !(pushed && pushed->snapshot.awake == std::vector<std::string>{"alpha"})) {
    if (auto next = side.next_view(500ms)) {
      pushed = std::move(next);
    }
  }
  ASSERT_TRUE(pushed) << "no view pushed within 3 s";
  EXPECT_EQ(pushed->snapshot.awake, std::vector<std::string>{"alpha"});
  EXPECT_TRUE(pushed->accepted);
}

TEST_F(cluster_test, a_wrong_secret_is_refused_logged_and_gets_nothing_more) {
  auto daemon = start_daemon({{"alpha"}}, R"("min_active_secs": 0)", node_config);
  gateway side(node_port(daemon));
  ASSERT_TRUE(side.reached());
  auto view = side.join("guess");
  EXPECT_FALSE(view.accepted);
  EXPECT_EQ(view.error, "wrong cluster secret");
  EXPECT_TRUE(view.snapshot.models.empty()); // nothing shared
  EXPECT_TRUE(daemon.process->wait_for_text("refused test-gateway", 2s))
    << daemon.process->output();
  EXPECT_EQ(daemon.process->output().find("guess"), std::string::npos); // never logged
  EXPECT_FALSE(side.next_view(1000ms));                                 // not subscribed
}

TEST_F(cluster_test, a_node_without_a_secret_does_not_start) {
  write_config({{"alpha"}}, R"("min_active_secs": 0)", R"("cluster": {"node_port": 0})");
  auto env = environment();
  child_process llmux({LLMUX_DAEMON, "-c", scratch_ / "llmux.json", "-p", "0"}, env);
  EXPECT_EQ(llmux.wait_exit(20s), 1);
  EXPECT_NE(llmux.output().find("cluster.node_port needs a cluster secret"), std::string::npos)
    << llmux.output();
}

TEST_F(cluster_test, the_environment_secret_wins_over_the_file) {
  daemon_env_.push_back("LLMUX_CLUSTER_SECRET=from-env");
  auto daemon = start_daemon({{"alpha"}}, R"("min_active_secs": 0)", node_config);
  gateway side(node_port(daemon));
  ASSERT_TRUE(side.reached());
  EXPECT_FALSE(side.join("s3cret").accepted);
  EXPECT_TRUE(side.join("from-env").accepted);
}

} // namespace
} // namespace llmux::testing_support
