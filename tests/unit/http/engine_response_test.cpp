#include "http/engine_response.hpp"

#include <array>
#include <string>
#include <string_view>
#include <utility>

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

// Parses `input` given whole; returns the error the parse stopped with (none when done).
error_code parse_whole(engine_response_parser& parser, std::string_view input) {
  parser.eager(true);
  error_code ec;
  while (!ec && !parser.is_done()) {
    parser.clear_body();
    auto used = parser.put(boost::asio::buffer(input), ec);
    input.remove_prefix(used);
    if (ec == bhttp::error::need_buffer) {
      ec = {};
    }
  }
  return ec;
}

TEST(engine_response, framing_it_cannot_be_sure_of_is_an_error) {
  const std::pair<std::string_view, bhttp::error> cases[] = {
    // RFC 9112 section 5.2: a proxy may refuse a folded line with a 502.
    {"HTTP/1.1 200 OK\r\nX-A: 1\r\n  2\r\nContent-Length: 0\r\n\r\n", bhttp::error::bad_obs_fold},
    {"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", bhttp::error::bad_transfer_encoding},
    {"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
     bhttp::error::bad_transfer_encoding},
    {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
     bhttp::error::bad_transfer_encoding},
    {"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
     bhttp::error::bad_transfer_encoding},
    {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n",
     bhttp::error::bad_content_length},
    {"HTTP/1.1 200 OK\r\nContent-Length: 3, 4\r\n\r\n", bhttp::error::multiple_content_length},
    {"HTTP/1.1 200 OK\r\nContent-Length: 3,\r\n\r\n", bhttp::error::bad_content_length},
    {"HTTP/1.1 200 OK\r\nContent-Length: +3\r\n\r\n", bhttp::error::bad_content_length},
    {"HTTP/1.1 200 OK\r\nContent-Length: 18446744073709551616\r\n\r\n",
     bhttp::error::bad_content_length},
    {"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nX-A: a\rb\r\n\r\n", bhttp::error::bad_value},
    {"HTTP/1.1 200 OK\r\nX A: 1\r\n\r\n", bhttp::error::bad_field},
    {"HTTP/1.1 200 OK\r\n: 1\r\n\r\n", bhttp::error::bad_field},
    {"HTTP/2.0 200 OK\r\n\r\n", bhttp::error::bad_version},
    {"HTTP/1.1 099 Low\r\n\r\n", bhttp::error::bad_status},
    {"HTTP/1.1 200OK\r\n\r\n", bhttp::error::bad_status},
    {"HTTP/1.1 200 O\x01K\r\n\r\n", bhttp::error::bad_reason},
    {"\r\nHTTP/1.1 200 OK\r\n\r\n", bhttp::error::bad_version},
    {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello!\r\n0\r\n\r\n",
     bhttp::error::bad_chunk},
    {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nx\r\n", bhttp::error::bad_chunk},
    {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1 x\r\n",
     bhttp::error::bad_chunk_extension},
    {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n11111111111111111\r\n",
     bhttp::error::bad_chunk},
    {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\nx\r\n",
     bhttp::error::bad_line_ending},
  };
  for (auto [input, expected] : cases) {
    std::string fields;
    engine_response_parser parser(fields);
    EXPECT_EQ(parse_whole(parser, input), expected) << input;
  }
}

// A bare LF is found as soon as it arrives, not when the head would be long enough to end.
TEST(engine_response, a_bare_line_feed_is_an_error_at_once) {
  std::string fields;
  engine_response_parser parser(fields);
  error_code ec;
  std::string_view part = "HTTP/1.1 200 OK\nServer: x";
  EXPECT_EQ(parser.put(boost::asio::buffer(part), ec), 0u);
  EXPECT_EQ(ec, bhttp::error::bad_line_ending);
}

TEST(engine_response, a_head_is_taken_only_whole_and_within_the_limit) {
  std::string head = "HTTP/1.1 200 OK\r\nX-Long: " + std::string(100, 'a') + "\r\n";
  std::string fields;
  engine_response_parser parser(fields);
  error_code ec;
  for (std::size_t size = 1; size < head.size(); ++size) {
    EXPECT_EQ(parser.put(boost::asio::buffer(head.data(), size), ec), 0u);
    ASSERT_EQ(ec, bhttp::error::need_more) << size;
    EXPECT_TRUE(parser.got_some());
    EXPECT_FALSE(parser.is_header_done());
  }
  head += "\r\n";
  EXPECT_EQ(parser.put(boost::asio::buffer(head), ec), head.size());
  EXPECT_FALSE(ec);
  EXPECT_TRUE(parser.is_header_done());
  EXPECT_EQ(fields, "X-Long: " + std::string(100, 'a') + "\r\n");

  std::string huge
    = "HTTP/1.1 200 OK\r\nX-Long: " + std::string(engine_response_parser::header_limit, 'a');
  engine_response_parser limited(fields);
  limited.put(boost::asio::buffer(huge), ec);
  EXPECT_EQ(ec, bhttp::error::header_limit);
}

TEST(engine_response, lenient_where_framing_is_not_at_stake) {
  std::string fields;
  engine_response_parser parser(fields);
  // No reason phrase at all; a length repeated alike; tabs and obs-text in values; trailing
  // blanks trimmed.
  EXPECT_FALSE(parse_whole(parser, "HTTP/1.1 200\r\n"
                                   "Content-Length: 2, 2\r\n"
                                   "content-length:2\r\n"
                                   "X-Text:\tcaf\xc3\xa9 \t\r\n"
                                   "\r\nok"));
  EXPECT_EQ(parser.status(), 200);
  EXPECT_EQ(parser.reason(), "");
  EXPECT_EQ(parser.content_length().value_or(0), 2u);
  EXPECT_EQ(fields, "X-Text: caf\xc3\xa9\r\n");
  ASSERT_EQ(parser.body_pieces().size(), 1u);
  EXPECT_EQ(parser.body_pieces()[0], "ok");
}

TEST(engine_response, chunk_extensions_and_trailers_are_passed_by) {
  std::string fields;
  engine_response_parser parser(fields);
  constexpr std::string_view input = "HTTP/1.1 200 OK\r\nTransfer-Encoding: Chunked\r\n\r\n"
                                     "3 ; name=\"va;lue\"\r\nabc\r\n"
                                     "A\r\n0123456789\r\n"
                                     "0;last\r\nX-Trailer: 1\r\nany line at all\r\n\r\n"
                                     "HTTP/1.1 next answer";
  auto body = parse(parser, input, 3);
  ASSERT_TRUE(parser.is_done());
  EXPECT_EQ(body, "abc0123456789");
  EXPECT_EQ(fields, "");
  EXPECT_TRUE(parser.keep_alive());
  // What follows the answer is the next one's: the parse did not take it.
  std::string whole_fields;
  engine_response_parser whole(whole_fields);
  whole.eager(true);
  error_code ec;
  std::size_t used = 0;
  while (!whole.is_done() && !ec) {
    whole.clear_body();
    used += whole.put(boost::asio::buffer(input.substr(used)), ec);
  }
  EXPECT_EQ(input.substr(used), "HTTP/1.1 next answer");
}

TEST(engine_response, whether_the_connection_carries_the_next_request) {
  const std::pair<std::string_view, bool> cases[] = {
    {"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", true},
    {"HTTP/1.1 200 OK\r\nConnection: x, Close\r\nContent-Length: 0\r\n\r\n", false},
    {"HTTP/1.1 200 OK\r\nProxy-Connection: close\r\nContent-Length: 0\r\n\r\n", false},
    {"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n", false},
    {"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n", true},
    // A body that ends with the connection ends it.
    {"HTTP/1.1 200 OK\r\n\r\n", false},
  };
  for (auto [input, keep] : cases) {
    std::string fields;
    engine_response_parser parser(fields);
    error_code ec;
    parser.put(boost::asio::buffer(input), ec);
    ASSERT_FALSE(ec) << input;
    parser.put_eof(ec);
    ASSERT_FALSE(ec) << input;
    EXPECT_EQ(parser.keep_alive(), keep) << input;
  }
}

// 204, 304 and the answer to HEAD have no body whatever their fields say; the length they
// announce is still told (HEAD's is GET's).
TEST(engine_response, answers_without_a_body) {
  for (std::string_view input : {"HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n",
                                 "HTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\n\r\n"}) {
    std::string fields;
    engine_response_parser parser(fields);
    error_code ec;
    EXPECT_EQ(parser.put(boost::asio::buffer(input), ec), input.size());
    EXPECT_TRUE(parser.is_done()) << input;
    EXPECT_EQ(parser.content_length().value_or(0), 5u);
  }
  std::string fields;
  engine_response_parser parser(fields);
  parser.skip(true);
  error_code ec;
  std::string_view head = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
  EXPECT_EQ(parser.put(boost::asio::buffer(head), ec), head.size());
  EXPECT_TRUE(parser.is_done());
}

TEST(engine_response, the_end_of_the_connection_ends_only_an_open_body) {
  const std::pair<std::string_view, bool> cases[] = {
    {"HTTP/1.1 200 OK\r\n\r\nuntil the end", true},
    {"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort", false},
    {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab", false},
    {"HTTP/1.1 200 OK\r\nContent-Le", false},
  };
  for (auto [input, whole] : cases) {
    std::string fields;
    engine_response_parser parser(fields);
    parser.eager(true);
    error_code ec;
    parser.put(boost::asio::buffer(input), ec);
    parser.put_eof(ec);
    EXPECT_EQ(ec, whole ? error_code{} : error_code(bhttp::error::partial_message)) << input;
    EXPECT_EQ(parser.is_done(), whole) << input;
  }
}

} // namespace
} // namespace llmux::http
