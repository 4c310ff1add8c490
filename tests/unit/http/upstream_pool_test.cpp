#include "http/upstream_pool.hpp"

#include <chrono>
#include <string>

#include <gtest/gtest.h>

#include "actors/serving.hpp"

namespace {

using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;
using pool = llmux::http::upstream_pool<std::string>;

const auto t0 = clock_type::time_point{} + 1h;

pool make_pool(std::size_t per_engine = 2) {
  return pool{{per_engine, 4s}};
}

TEST(upstream_pool, reuses_the_most_recent_connection_of_the_same_engine_and_epoch) {
  auto idle = make_pool();
  EXPECT_FALSE(idle.take(8001, 1, t0));
  idle.put(8001, 1, "a", t0);
  idle.put(8001, 1, "b", t0 + 1s);
  idle.put(8002, 1, "c", t0 + 1s);
  EXPECT_EQ(idle.take(8001, 1, t0 + 2s), "b");
  EXPECT_EQ(idle.take(8001, 1, t0 + 2s), "a");
  EXPECT_FALSE(idle.take(8001, 1, t0 + 2s));
  EXPECT_EQ(idle.take(8002, 1, t0 + 2s), "c");
  EXPECT_EQ(idle.size(), 0u);
}

TEST(upstream_pool, never_reuses_a_connection_across_epochs) {
  auto idle = make_pool();
  idle.put(8001, 1, "old", t0);
  // The engine was evicted and woken again (or restarted): epoch 2.
  EXPECT_FALSE(idle.take(8001, 2, t0));
  EXPECT_EQ(idle.size(), 0u);
  idle.put(8001, 2, "new", t0);
  // A relay of the old epoch that ends now does not put its connection back.
  idle.put(8001, 1, "late", t0);
  EXPECT_EQ(idle.size(), 1u);
  EXPECT_FALSE(idle.take(8001, 1, t0));
  idle.put(8001, 3, "newer", t0);
  EXPECT_EQ(idle.size(), 1u);
  EXPECT_EQ(idle.take(8001, 3, t0), "newer");
}

TEST(upstream_pool, closes_connections_idle_past_the_limit) {
  auto idle = make_pool();
  idle.put(8001, 1, "a", t0);
  idle.put(8001, 1, "b", t0 + 3s);
  EXPECT_EQ(idle.take(8001, 1, t0 + 5s), "b");
  EXPECT_FALSE(idle.take(8001, 1, t0 + 5s)); // "a" idled 5 s: closed, not handed out
  idle.put(8001, 1, "c", t0);
  idle.put(8002, 1, "d", t0 + 2s);
  idle.expire(t0 + 4s);
  EXPECT_EQ(idle.size(), 1u);
  EXPECT_EQ(idle.take(8002, 1, t0 + 4s), "d");
}

TEST(upstream_pool, keeps_at_most_the_limit_per_engine) {
  auto idle = make_pool(2);
  idle.put(8001, 1, "a", t0);
  idle.put(8001, 1, "b", t0);
  idle.put(8001, 1, "c", t0);
  idle.put(8002, 1, "d", t0);
  EXPECT_EQ(idle.size(), 3u);
  EXPECT_EQ(idle.take(8001, 1, t0), "c");
  EXPECT_EQ(idle.take(8001, 1, t0), "b"); // "a", the oldest, was closed
  auto none = make_pool(0);
  none.put(8001, 1, "a", t0);
  EXPECT_EQ(none.size(), 0u);
}

TEST(upstream_pool, a_retired_epoch_is_never_kept_again_even_by_connections_then_in_use) {
  auto idle = make_pool();
  idle.put(8001, 3, "idle", t0);
  idle.put(8002, 3, "other engine", t0);
  // The engine on 8001 is evicted while a relay still uses a connection of epoch 3.
  idle.retire(8001, 3);
  EXPECT_EQ(idle.size(), 1u);
  EXPECT_FALSE(idle.take(8001, 3, t0));
  idle.put(8001, 3, "came back late", t0);
  EXPECT_EQ(idle.size(), 1u);
  // The next activation's connections are kept again.
  idle.put(8001, 4, "new", t0);
  EXPECT_EQ(idle.take(8001, 4, t0), "new");
  EXPECT_EQ(idle.take(8002, 3, t0), "other engine");
}

// Behind a gateway the engines are nodes' proxies: the same port on two hosts is two engines.
TEST(upstream_pool, engines_are_told_apart_by_host_and_port) {
  using address = llmux::actors::engine_address;
  llmux::http::upstream_pool<std::string, address, llmux::actors::engine_address_hash> idle{
    {2, 4s}};
  idle.put(address{"10.0.0.1", 3000}, 1, "a", t0);
  idle.put(address{"10.0.0.2", 3000}, 1, "b", t0);
  idle.retire(address{"10.0.0.1", 3000}, 1);
  EXPECT_FALSE(idle.take(address{"10.0.0.1", 3000}, 1, t0 + 1s));
  EXPECT_EQ(idle.take(address{"10.0.0.2", 3000}, 1, t0 + 1s), "b");
  EXPECT_FALSE(idle.take(address{{}, 3000}, 1, t0 + 1s));
}

} // namespace
