#include "http/session.hpp"

#include "http/drained_read.hpp"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/asio/error.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/http/error.hpp>
#include <gtest/gtest.h>

namespace llmux::http {
namespace {

namespace bhttp = boost::beast::http;

std::string request_of(std::size_t body_size) {
  return "POST /v1/completions HTTP/1.1\r\nContent-Length: " + std::to_string(body_size)
         + "\r\n\r\n" + std::string(body_size, 'x');
}

// Reads `input` through `read` as a socket would deliver it: as much as each room takes (at
// most `per_read`), then the end of the stream. Returns the size of every room offered.
template <class Parser>
std::vector<std::size_t> feed(buffered_read<Parser>& read, std::string_view input,
                              std::size_t per_read = SIZE_MAX) {
  std::vector<std::size_t> rooms;
  while (read.needs_bytes()) {
    auto room = read.room();
    rooms.push_back(room.size());
    auto n = std::min({room.size(), input.size(), per_read});
    if (n == 0) {
      read.took({beast::error_code(boost::asio::error::eof), std::size_t{0}});
      continue;
    }
    std::memcpy(room.data(), input.data(), n);
    input.remove_prefix(n);
    read.took({beast::error_code{}, n});
  }
  return rooms;
}

TEST(buffered_read, a_message_already_buffered_needs_no_read) {
  beast::flat_buffer buffer;
  auto input = request_of(10);
  auto room = buffer.prepare(input.size());
  std::memcpy(room.data(), input.data(), input.size());
  buffer.commit(input.size());
  client_request_parser parser;
  buffered_read read(buffer, parser, read_until::message);
  EXPECT_FALSE(read.needs_bytes());
  EXPECT_FALSE(read.result());
  EXPECT_EQ(parser.get().body(), std::string(10, 'x'));
}

// A long body is not read 512 bytes at a time: a read that fills its room doubles the next,
// up to 16 KB.
TEST(buffered_read, reads_that_fill_their_room_grow_up_to_16_kb) {
  beast::flat_buffer buffer;
  buffer.reserve(4096);
  client_request_parser parser;
  parser.body_limit(UINT64_MAX);
  buffered_read read(buffer, parser, read_until::message);
  auto rooms = feed(read, request_of(400'000));
  EXPECT_FALSE(read.result()) << read.result().message();
  ASSERT_TRUE(parser.is_done());
  EXPECT_EQ(parser.get().body().size(), 400'000u);
  ASSERT_GE(rooms.size(), 5u);
  EXPECT_EQ(rooms[0], 4096u);
  EXPECT_EQ(rooms[1], 8192u);
  EXPECT_EQ(rooms[2], 16384u);
  EXPECT_EQ(*std::max_element(rooms.begin(), rooms.end()), 16384u);
  EXPECT_LE(rooms.size(), 30u); // 400 KB in 512-byte reads would be 782
}

// Reads that come in smaller than the room (an engine's events, one by one) leave it as it is.
TEST(buffered_read, reads_that_do_not_fill_their_room_leave_it_as_it_is) {
  beast::flat_buffer buffer;
  buffer.reserve(4096);
  client_request_parser parser;
  buffered_read read(buffer, parser, read_until::message);
  auto rooms = feed(read, request_of(20'000), 1000);
  EXPECT_FALSE(read.result());
  EXPECT_EQ(parser.get().body().size(), 20'000u);
  EXPECT_EQ(*std::max_element(rooms.begin(), rooms.end()), 4096u);
}

TEST(buffered_read, the_end_of_the_stream_ends_a_body_without_length_or_is_an_error) {
  {
    beast::flat_buffer buffer;
    std::string fields;
    engine_response_parser parser(fields);
    buffered_read read(buffer, parser, read_until::message);
    feed(read, "HTTP/1.1 200 OK\r\n\r\nuntil the end");
    EXPECT_FALSE(read.result());
    EXPECT_TRUE(parser.is_done());
    EXPECT_EQ(parser.body_size(), 13u);
  }
  {
    beast::flat_buffer buffer;
    std::string fields;
    engine_response_parser parser(fields);
    buffered_read read(buffer, parser, read_until::message);
    feed(read, "");
    EXPECT_EQ(read.result(), bhttp::error::end_of_stream);
  }
  {
    beast::flat_buffer buffer;
    std::string fields;
    engine_response_parser parser(fields);
    buffered_read read(buffer, parser, read_until::message);
    feed(read, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort");
    EXPECT_EQ(read.result(), bhttp::error::partial_message);
  }
}

// A peer that closed or reset is told from one that sent what no HTTP parser takes.
TEST(buffered_read, a_malformed_message_is_told_from_a_closed_connection) {
  beast::flat_buffer buffer;
  std::string fields;
  engine_response_parser parser(fields);
  buffered_read read(buffer, parser, read_until::header);
  feed(read, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n");
  EXPECT_TRUE(malformed_message(read.result())) << read.result().message();
  EXPECT_TRUE(malformed_message(bhttp::error::header_limit));
  EXPECT_FALSE(malformed_message(bhttp::error::end_of_stream));
  EXPECT_FALSE(malformed_message(bhttp::error::partial_message));
  EXPECT_FALSE(malformed_message(boost::asio::error::connection_reset));
  EXPECT_FALSE(malformed_message(boost::asio::error::eof));
  EXPECT_FALSE(malformed_message({}));
}

// A late read room on a real loopback connection: the buffer holds no memory while the read
// waits, and the bytes land in the room made when they came.
TEST(late_read_room, a_waiting_read_holds_no_buffer_and_its_bytes_land_in_the_buffer) {
  boost::asio::io_context io;
  tcp::acceptor acceptor(io, {boost::asio::ip::address_v4::loopback(), 0});
  tcp::socket client(io);
  client.connect(acceptor.local_endpoint());
  auto served = acceptor.accept();
  beast::flat_buffer buffer;
  std::optional<std::pair<beast::error_code, std::size_t>> done;
  async_read_drained_late(
    served, late_read_room{&buffer},
    [&done](beast::error_code ec, std::size_t got) { done.emplace(ec, got); });
  io.run_for(std::chrono::milliseconds(50)); // tried at once, found nothing, waits for epoll
  ASSERT_FALSE(done);
  EXPECT_EQ(buffer.capacity(), 0U);
  boost::asio::write(client, boost::asio::buffer(std::string_view("GET / HTTP/1.1\r\n")));
  io.restart();
  io.run_for(std::chrono::seconds(2));
  ASSERT_TRUE(done);
  EXPECT_FALSE(done->first) << done->first.message();
  buffer.commit(done->second);
  EXPECT_EQ(beast::buffers_to_string(buffer.data()), "GET / HTTP/1.1\r\n");
}

} // namespace
} // namespace llmux::http
