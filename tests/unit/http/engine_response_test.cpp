#include "http/engine_response.hpp"

#include <array>
#include <string>
#include <string_view>

#include <boost/asio/buffer.hpp>
#include <boost/beast/http/error.hpp>
#include <gtest/gtest.h>

namespace llmux::http {
namespace {

namespace bhttp = boost::beast::http;
using boost::system::error_code;

// Feeds `input` to `parser` in pieces of at most `piece` bytes, as the relay does: the bytes a
// parse did not take are offered again, and the body is read out of the input before the input
// moves. Returns the body; `parses` counts the parses that took some.
std::string parse(engine_response_parser& parser, std::string_view input, std::size_t piece,
                  std::size_t* parses = nullptr) {
  std::string body;
  std::string pending;
  std::size_t offered = 0;
  error_code ec;
  while (!parser.is_done()) {
    parser.clear_body();
    ec = {};
    auto used = parser.put(boost::asio::buffer(pending), ec);
    std::size_t taken = 0;
    for (auto part : parser.body_pieces()) {
      body += part;
      taken += part.size();
    }
    EXPECT_EQ(taken, parser.body_size());
    if (parses != nullptr && taken > 0) {
      ++*parses;
    }
    pending.erase(0, used);
    if (ec == bhttp::error::need_buffer) {
      continue;
    }
    if (ec && ec != bhttp::error::need_more) {
      return body;
    }
    if (ec == bhttp::error::need_more || used == 0) {
      if (offered == input.size()) {
        return body;
      }
      auto more = input.substr(offered, piece);
      pending += more;
      offered += more.size();
    }
  }
  return body;
}

constexpr std::string_view length_framed = "HTTP/1.1 200 OK\r\n"
                                           "Server: engine\r\n"
                                           "Content-Type: application/json\r\n"
                                           "Content-Length: 25\r\n"
                                           "Connection: keep-alive\r\n"
                                           "Keep-Alive: timeout=5\r\n"
                                           "X-Request-Id: abc\r\n"
                                           "\r\n"
                                           "{\"choices\":[],\"id\":\"x-1\"}";

TEST(engine_response, keeps_the_head_the_client_gets_and_no_more) {
  std::string fields;
  engine_response_parser parser(fields);
  auto body = parse(parser, length_framed, length_framed.size());
  ASSERT_TRUE(parser.is_done());
  EXPECT_EQ(parser.status(), 200);
  EXPECT_EQ(parser.reason(), "OK");
  EXPECT_FALSE(parser.event_stream());
  // Framing and connection headers are the relay's to set; the rest passes in order.
  EXPECT_EQ(parser.forwarded_fields(),
            "Server: engine\r\nContent-Type: application/json\r\nX-Request-Id: abc\r\n");
  EXPECT_EQ(body, "{\"choices\":[],\"id\":\"x-1\"}");
  EXPECT_TRUE(parser.keep_alive());
  EXPECT_EQ(parser.content_length().value_or(0), 25u);
}

// An interim answer (1xx) has no body and is followed by the final answer on the same
// connection: after restart_after_interim the parser reads that one from scratch.
TEST(engine_response, an_interim_answer_gives_way_to_the_final_one) {
  constexpr std::string_view early_hints
    = "HTTP/1.1 103 Early Hints\r\nLink: </hints.css>; rel=preload\r\n\r\n";
  for (bool head : {false, true}) {
    std::string fields;
    engine_response_parser parser(fields);
    EXPECT_FALSE(parser.answered_some());
    error_code ec;
    auto used = parser.put(boost::asio::buffer(early_hints.data(), early_hints.size()), ec);
    ASSERT_FALSE(ec) << ec.message();
    EXPECT_EQ(used, early_hints.size());
    ASSERT_TRUE(parser.is_done());
    EXPECT_TRUE(parser.interim());
    EXPECT_EQ(parser.status(), 103);
    parser.restart_after_interim(head);
    EXPECT_FALSE(parser.is_done());
    EXPECT_TRUE(parser.answered_some()) << "the engine has the request";
    EXPECT_EQ(fields, "");
    auto body = parse(parser, length_framed, 7);
    ASSERT_TRUE(parser.is_done()) << head;
    EXPECT_FALSE(parser.interim());
    EXPECT_EQ(parser.status(), 200);
    EXPECT_EQ(fields, "Server: engine\r\nContent-Type: application/json\r\nX-Request-Id: abc\r\n");
    // After HEAD the head is all: its Content-Length announces no bytes that follow.
    EXPECT_EQ(body, head ? "" : "{\"choices\":[],\"id\":\"x-1\"}") << head;
  }
}

TEST(engine_response, fields_go_to_the_callers_memory_emptied_first) {
  std::string fields = "X-From-Before: stale\r\n";
  fields.reserve(1024);
  const auto* memory = fields.data();
  engine_response_parser parser(fields);
  parse(parser, length_framed, length_framed.size());
  ASSERT_TRUE(parser.is_done());
  EXPECT_EQ(fields, "Server: engine\r\nContent-Type: application/json\r\nX-Request-Id: abc\r\n");
  EXPECT_EQ(parser.forwarded_fields().data(), memory); // no allocation of its own
}

TEST(engine_response, a_body_arriving_in_pieces_is_whole_and_in_order) {
  for (std::size_t piece : {1u, 7u, 1000u}) {
    std::string fields;
    engine_response_parser parser(fields);
    auto body = parse(parser, length_framed, piece);
    EXPECT_TRUE(parser.is_done()) << piece;
    EXPECT_EQ(body, "{\"choices\":[],\"id\":\"x-1\"}") << piece;
  }
}

TEST(engine_response, a_parse_takes_at_most_max_pieces_chunks) {
  std::string stream = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
  std::string expected;
  for (char c = 'a'; c < 'a' + 20; ++c) {
    stream += std::string("2\r\n") + c + "\n\r\n";
    expected += std::string(1, c) + "\n";
  }
  stream += "0\r\n\r\n";
  std::string fields;
  engine_response_parser parser(fields);
  parser.eager(true); // else a parse stops after each chunk
  std::size_t parses = 0;
  // All of it at once: 20 chunks need as many parses as it takes at max_pieces each.
  auto body = parse(parser, stream, stream.size(), &parses);
  ASSERT_TRUE(parser.is_done());
  EXPECT_EQ(body, expected);
  constexpr auto max = engine_response_parser::max_pieces;
  EXPECT_EQ(parses, (20 + max - 1) / max);
}

TEST(engine_response, chunked_event_stream) {
  constexpr std::string_view stream = "HTTP/1.1 200 OK\r\n"
                                      "content-type: text/event-stream; charset=utf-8\r\n"
                                      "Transfer-Encoding: chunked\r\n"
                                      "\r\n"
                                      "f\r\ndata: {\"a\":1}\n\n\r\n"
                                      "e\r\ndata: [DONE]\n\n\r\n"
                                      "0\r\n\r\n";
  std::string fields;
  engine_response_parser parser(fields);
  auto body = parse(parser, stream, 5);
  ASSERT_TRUE(parser.is_done());
  EXPECT_TRUE(parser.event_stream());
  EXPECT_TRUE(parser.chunked());
  EXPECT_EQ(parser.forwarded_fields(), "content-type: text/event-stream; charset=utf-8\r\n");
  EXPECT_EQ(body, "data: {\"a\":1}\n\ndata: [DONE]\n\n");
}

TEST(engine_response, unknown_status_and_empty_reason_pass_as_sent) {
  std::string fields;
  engine_response_parser parser(fields);
  auto body = parse(parser, "HTTP/1.1 599 \r\nContent-Length: 0\r\n\r\n", 100);
  ASSERT_TRUE(parser.is_done());
  EXPECT_EQ(parser.status(), 599);
  EXPECT_EQ(parser.reason(), "");
  EXPECT_EQ(parser.forwarded_fields(), "");
  EXPECT_EQ(body, "");
}

TEST(engine_response, the_body_is_a_view_of_the_input_not_a_copy) {
  std::string fields;
  engine_response_parser parser(fields);
  error_code ec;
  std::string_view head = "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n";
  auto used = parser.put(boost::asio::buffer(head), ec);
  ASSERT_FALSE(ec);
  EXPECT_EQ(used, head.size());
  EXPECT_TRUE(parser.is_header_done());
  std::string_view input = "abc";
  used = parser.put(boost::asio::buffer(input), ec);
  ASSERT_FALSE(ec);
  EXPECT_EQ(used, 3u);
  ASSERT_EQ(parser.body_pieces().size(), 1u);
  EXPECT_EQ(parser.body_pieces()[0].data(), input.data());
  EXPECT_TRUE(parser.is_done());
}

TEST(engine_response, malformed_heads_are_errors) {
  for (std::string_view bad :
       {"HTTP/1.1 2000 OK\r\n\r\n", "HTP/1.1 200 OK\r\n\r\n",
        "HTTP/1.1 200 OK\r\nBad Header: x\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n"}) {
    std::string fields;
    engine_response_parser parser(fields);
    error_code ec;
    parser.put(boost::asio::buffer(bad), ec);
    EXPECT_TRUE(ec && ec != bhttp::error::need_more) << bad;
  }
}

} // namespace
} // namespace llmux::http
