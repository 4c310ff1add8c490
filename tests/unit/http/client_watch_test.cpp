// watch_client_leaving on real loopback connections.

#include "http/session.hpp"

#include <chrono>
#include <optional>
#include <string_view>
#include <sys/socket.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <gtest/gtest.h>

namespace llmux::http {
namespace {

using namespace std::chrono_literals;

class client_watch_test : public ::testing::Test {
protected:
  client_watch_test() : acceptor_(io_, {net::ip::address_v4::loopback(), 0}), client_(io_) {
    client_.connect(acceptor_.local_endpoint());
    served_.emplace(acceptor_.accept());
  }

  void watch() {
    watch_client_leaving(
      *served_, false, [this] { return watching_; }, [this] { ++left_; });
  }

  void run_for(std::chrono::milliseconds time) {
    io_.restart();
    io_.run_for(time);
  }

  net::io_context io_;
  tcp::acceptor acceptor_;
  tcp::socket client_;
  std::optional<tcp::socket> served_;
  bool watching_ = true;
  int left_ = 0;
};

// The request's bytes were read without Asio (as a connection's first request is) after its
// reactor had already taken epoll's report of them: that report comes to the watch, which must
// not end on it.
TEST_F(client_watch_test, a_readiness_for_bytes_already_read_does_not_end_the_watch) {
  constexpr std::string_view request = "GET / HTTP/1.1\r\n\r\n";
  net::write(client_, net::buffer(request));
  // Runs after the reactor's next poll, which finds the bytes.
  net::post(io_, [this, size = request.size()] {
    char taken[64];
    ASSERT_EQ(::recv(served_->native_handle(), taken, sizeof taken, MSG_DONTWAIT),
              static_cast<ssize_t>(size));
    watch();
  });
  run_for(50ms);
  EXPECT_EQ(left_, 0);
  client_.close();
  run_for(2s);
  EXPECT_EQ(left_, 1);
}

TEST_F(client_watch_test, bytes_the_client_sends_end_the_watch_without_reading_them) {
  watch();
  net::write(client_, net::buffer(std::string_view("next")));
  run_for(50ms);
  client_.close();
  run_for(100ms);
  EXPECT_EQ(left_, 0); // the watch ended with the bytes
  char next[8];
  EXPECT_EQ(::recv(served_->native_handle(), next, sizeof next, MSG_DONTWAIT), 4);
}

TEST_F(client_watch_test, a_watch_no_longer_wanted_does_not_call_back) {
  watch();
  watching_ = false;
  client_.close();
  run_for(100ms);
  EXPECT_EQ(left_, 0);
}

} // namespace
} // namespace llmux::http
