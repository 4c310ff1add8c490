// async_read_drained on real loopback connections: what async_read_some gives, and reads that
// wait after a read drained the socket still complete when the peer sends, ends or is cut;
// async_read_drained_late's room.

#include "http/drained_read.hpp"

#include <array>
#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include <boost/asio/error.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <gtest/gtest.h>

namespace llmux::http {
namespace {

namespace net = boost::asio;
using tcp = net::ip::tcp;
using namespace std::chrono_literals;

struct read_result {
  boost::system::error_code ec;
  std::size_t bytes = 0;
};

class drained_read_test : public ::testing::Test {
protected:
  drained_read_test() : acceptor_(io_, {net::ip::address_v4::loopback(), 0}), client_(io_) {
    client_.connect(acceptor_.local_endpoint());
    served_.emplace(acceptor_.accept());
  }

  // Starts a read into the first `room` bytes of `room_`; `result` is set when it completes.
  void start(std::optional<read_result>& result, std::size_t room = 64) {
    async_read_drained(*served_, net::buffer(room_.data(), room),
                       [&result](boost::system::error_code ec, std::size_t bytes) {
                         result = read_result{ec, bytes};
                       });
  }

  void run_for(std::chrono::milliseconds time) {
    io_.restart();
    io_.run_for(time);
  }

  // A read, run until it completes (at most 2 s).
  std::optional<read_result> read(std::size_t room) {
    std::optional<read_result> result;
    start(result, room);
    run_for(2s);
    return result;
  }

  void send(std::string_view bytes) {
    net::write(client_, net::buffer(bytes));
  }

  net::io_context io_;
  tcp::acceptor acceptor_;
  tcp::socket client_;
  std::optional<tcp::socket> served_;
  std::array<char, 64> room_{};
};

TEST_F(drained_read_test, a_short_read_then_a_read_that_waits_for_the_next_bytes) {
  send("first");
  auto first = read(64);
  ASSERT_TRUE(first);
  EXPECT_FALSE(first->ec);
  EXPECT_EQ(std::string_view(room_.data(), first->bytes), "first");
  // The socket was drained: this read waits for epoll, and the bytes sent meanwhile end it.
  std::optional<read_result> second;
  start(second);
  run_for(50ms);
  EXPECT_FALSE(second); // nothing sent yet
  send("second");
  run_for(2s);
  ASSERT_TRUE(second);
  EXPECT_FALSE(second->ec);
  EXPECT_EQ(std::string_view(room_.data(), second->bytes), "second");
}

// The bytes come while the first read waits, so that epoll reports them then and nothing is
// left to report: only a read that knows its full room left more behind finds the rest.
TEST_F(drained_read_test, a_read_that_fills_its_room_leaves_the_rest_for_the_next) {
  std::optional<read_result> full;
  start(full, 16);
  run_for(20ms);
  ASSERT_FALSE(full);
  send("0123456789abcdefXYZ");
  run_for(2s);
  ASSERT_TRUE(full);
  EXPECT_EQ(std::string_view(room_.data(), full->bytes), "0123456789abcdef");
  auto rest = read(16);
  ASSERT_TRUE(rest);
  EXPECT_EQ(std::string_view(room_.data(), rest->bytes), "XYZ");
}

TEST_F(drained_read_test, the_peers_end_reaches_a_read_that_waits_after_a_drained_one) {
  send("last words");
  auto words = read(64);
  ASSERT_TRUE(words);
  client_.shutdown(tcp::socket::shutdown_send);
  auto end = read(64);
  ASSERT_TRUE(end);
  EXPECT_EQ(end->ec, net::error::eof);
  EXPECT_EQ(end->bytes, 0U);
}

TEST_F(drained_read_test, a_waiting_read_is_cancelled_by_the_sockets_cancel) {
  send("x");
  ASSERT_TRUE(read(64));
  std::optional<read_result> waiting;
  start(waiting);
  run_for(20ms);
  ASSERT_FALSE(waiting);
  served_->cancel();
  run_for(2s);
  ASSERT_TRUE(waiting);
  EXPECT_EQ(waiting->ec, net::error::operation_aborted);
}

// A room made for each try of the read, and told when the try found nothing.
struct counted_room {
  std::array<char, 64>* storage;
  int* made;
  int* found_nothing;
  bool drains = true;
  net::mutable_buffer make() const {
    ++*made;
    return net::buffer(*storage);
  }
  void nothing_came() const {
    ++*found_nothing;
  }
  bool may_drain() const {
    return drains;
  }
};

TEST_F(drained_read_test, a_late_room_is_made_for_each_try_and_told_when_one_found_nothing) {
  int made = 0;
  int found_nothing = 0;
  std::optional<read_result> result;
  async_read_drained_late(*served_, counted_room{&room_, &made, &found_nothing},
                          [&result](boost::system::error_code ec, std::size_t bytes) {
                            result = read_result{ec, bytes};
                          });
  run_for(20ms);
  ASSERT_FALSE(result);
  EXPECT_EQ(made, found_nothing); // each try so far found nothing and said so
  send("late");
  run_for(2s);
  ASSERT_TRUE(result);
  EXPECT_FALSE(result->ec);
  EXPECT_EQ(std::string_view(room_.data(), result->bytes), "late");
  EXPECT_EQ(made, found_nothing + 1); // the last try found the bytes
  EXPECT_GE(made, 1);
}

// A new connection's request and its client's end (a half-close right after the request) can
// come in one epoll event that the reactor takes before the connection's first read is
// started; no later event tells of the end. A room that may not drain leaves the next read
// trying at once, so that it finds the end.
TEST_F(drained_read_test, after_a_read_that_may_not_drain_the_next_finds_an_end_told_before) {
  send("request");
  client_.shutdown(tcp::socket::shutdown_send);
  net::steady_timer tick(io_, 20ms); // the reactor waits in epoll, with no read on the socket
  tick.async_wait([](boost::system::error_code) {});
  run_for(2s);
  int made = 0;
  int found_nothing = 0;
  std::optional<read_result> first;
  async_read_drained_late(*served_, counted_room{&room_, &made, &found_nothing, false},
                          [&first](boost::system::error_code ec, std::size_t bytes) {
                            first = read_result{ec, bytes};
                          });
  run_for(2s);
  ASSERT_TRUE(first);
  EXPECT_EQ(std::string_view(room_.data(), first->bytes), "request");
  auto end = read(64);
  ASSERT_TRUE(end) << "the end of the stream was not found";
  EXPECT_EQ(end->ec, net::error::eof);
}

TEST_F(drained_read_test, an_empty_room_completes_at_once) {
  auto nothing = read(0);
  ASSERT_TRUE(nothing);
  EXPECT_FALSE(nothing->ec);
  EXPECT_EQ(nothing->bytes, 0U);
}

} // namespace
} // namespace llmux::http
