#include "http/client_request.hpp"

#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/buffer.hpp>
#include <boost/beast/http/error.hpp>
#include <gtest/gtest.h>
#include <simdjson.h>

namespace llmux::http {
namespace {

namespace bhttp = boost::beast::http;
using boost::system::error_code;

// Parses `input` whole, `piece` bytes at a time (the bytes a parse did not take are offered
// again with the next piece, as a connection's buffer does); the error of the last parse.
error_code parse(client_request_parser& parser, std::string_view input, std::size_t piece) {
  parser.eager(true);
  std::string pending;
  std::size_t offered = 0;
  error_code ec;
  while (!parser.is_done()) {
    if (offered < input.size()) {
      auto next = input.substr(offered, piece);
      pending += next;
      offered += next.size();
    } else if (ec == bhttp::error::need_more) {
      return ec;
    }
    ec = {};
    auto used = parser.put(boost::asio::buffer(pending), ec);
    pending.erase(0, used);
    if (ec && ec != bhttp::error::need_more) {
      return ec;
    }
  }
  return {};
}

std::vector<std::string> forwarded(const client_request& request) {
  std::vector<std::string> lines;
  request.for_each_forwarded([&](std::string_view line) { lines.emplace_back(line); });
  return lines;
}

constexpr std::string_view chat = "POST /v1/chat/completions?x=1 HTTP/1.1\r\n"
                                  "Host: llmux:8080\r\n"
                                  "Authorization: Bearer k1\r\n"
                                  "Content-Type: application/json\r\n"
                                  "X-Api-Key: k2\r\n"
                                  "Model-Override: other\r\n"
                                  "Accept: */*\r\n"
                                  "Connection: keep-alive\r\n"
                                  "Content-Length: 15\r\n"
                                  "X-Trace: a\r\n"
                                  "X-Trace: b\r\n"
                                  "\r\n"
                                  "{\"model\":\"m\"}\r\n";

TEST(client_request_parser, keeps_request_line_headers_and_body_in_any_pieces) {
  for (std::size_t piece : {std::size_t{1}, std::size_t{7}, chat.size()}) {
    client_request_parser parser;
    ASSERT_FALSE(parse(parser, chat, piece)) << "piece " << piece;
    const auto& request = parser.get();
    EXPECT_EQ(request.method(), bhttp::verb::post);
    EXPECT_EQ(request.method_string(), "POST");
    EXPECT_EQ(request.target(), "/v1/chat/completions?x=1");
    EXPECT_EQ(request.version(), 11u);
    EXPECT_TRUE(request.keep_alive());
    EXPECT_EQ(request.body(), "{\"model\":\"m\"}\r\n");
    EXPECT_EQ(request[bhttp::field::authorization], "Bearer k1");
    EXPECT_EQ(request["x-api-key"], "k2");
    EXPECT_EQ(request["MODEL-OVERRIDE"], "other");
    EXPECT_EQ(request[bhttp::field::content_type], "application/json");
    EXPECT_EQ(request["x-trace"], "a"); // the first of repeated lines
    EXPECT_EQ(request[bhttp::field::expect], "");
    EXPECT_EQ(request["x-absent"], "");
    // Credentials, hop-by-hop headers and llmux's own stay behind; the rest keep their order.
    EXPECT_EQ(forwarded(request),
              (std::vector<std::string>{"Content-Type: application/json\r\n", "Accept: */*\r\n",
                                        "X-Trace: a\r\n", "X-Trace: b\r\n"}));
  }
}

TEST(client_request_parser, a_request_filled_again_keeps_nothing_of_the_one_before) {
  client_request_parser first;
  ASSERT_FALSE(parse(first, chat, chat.size()));
  auto used = first.release();
  const auto* text_memory = used.target().data();
  const auto* body_memory = used.body().data();
  std::string_view next = "GET /health HTTP/1.0\r\nAccept: */*\r\n\r\n";
  client_request_parser again(std::move(used));
  ASSERT_FALSE(parse(again, next, next.size()));
  const auto& request = again.get();
  EXPECT_EQ(request.method(), bhttp::verb::get);
  EXPECT_EQ(request.target(), "/health");
  EXPECT_EQ(request.version(), 10u);
  EXPECT_FALSE(request.keep_alive());
  EXPECT_EQ(request.body(), "");
  EXPECT_EQ(request[bhttp::field::authorization], "");
  EXPECT_EQ(request["x-trace"], "");
  EXPECT_EQ(forwarded(request), (std::vector<std::string>{"Accept: */*\r\n"}));
  // In the memory the first one had.
  EXPECT_EQ(request.target().data(), text_memory);
  EXPECT_EQ(request.body().data(), body_memory);
}

TEST(client_request_parser, leaves_room_for_parsing_a_known_length_body_in_place) {
  EXPECT_GE(client_request::body_slack, simdjson::SIMDJSON_PADDING);
  client_request_parser parser;
  ASSERT_FALSE(parse(parser, chat, chat.size()));
  const auto& body = parser.get().body();
  EXPECT_GE(body.capacity(), body.size() + client_request::body_slack);
}

TEST(client_request_parser, a_waiting_requests_head_gives_back_its_spare_room) {
  client_request_parser parser;
  ASSERT_FALSE(parse(parser, chat, chat.size()));
  auto request = parser.release();
  auto body_capacity = request.body().capacity();
  auto before = request.capacity();
  request.shrink_head_to_fit();
  EXPECT_LT(request.capacity(), before);
  EXPECT_EQ(request.body().capacity(), body_capacity); // the parser's padding stays
  EXPECT_EQ(request.target(), "/v1/chat/completions?x=1");
  EXPECT_EQ(request["x-api-key"], "k2");
  EXPECT_EQ(request[bhttp::field::content_type], "application/json");
  EXPECT_EQ(forwarded(request),
            (std::vector<std::string>{"Content-Type: application/json\r\n", "Accept: */*\r\n",
                                      "X-Trace: a\r\n", "X-Trace: b\r\n"}));
}

TEST(client_request_parser, reads_keep_alive_as_the_version_and_connection_say) {
  struct {
    std::string_view head;
    bool keep_alive;
  } cases[] = {
    {"GET / HTTP/1.1\r\n\r\n", true},
    {"GET / HTTP/1.1\r\nConnection: close\r\n\r\n", false},
    {"GET / HTTP/1.0\r\n\r\n", false},
    {"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", true},
  };
  for (const auto& each : cases) {
    client_request_parser parser;
    ASSERT_FALSE(parse(parser, each.head, each.head.size())) << each.head;
    EXPECT_EQ(parser.get().keep_alive(), each.keep_alive) << each.head;
  }
}

TEST(client_request_parser, keeps_a_method_beast_does_not_name_and_a_chunked_body) {
  constexpr std::string_view input = "BREW /pot HTTP/1.1\r\n"
                                     "Transfer-Encoding: chunked\r\n"
                                     "\r\n"
                                     "3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n";
  client_request_parser parser;
  ASSERT_FALSE(parse(parser, input, 5));
  const auto& request = parser.get();
  EXPECT_EQ(request.method(), bhttp::verb::unknown);
  EXPECT_EQ(request.method_string(), "BREW");
  EXPECT_EQ(request.target(), "/pot");
  EXPECT_EQ(request.body(), "abcde");
  EXPECT_TRUE(forwarded(request).empty());
}

TEST(client_request_parser, judges_lines_beyond_the_first_64_by_name) {
  std::string input = "POST /v1/completions HTTP/1.1\r\n";
  for (int i = 0; i < 70; ++i) {
    input += "X-N" + std::to_string(i) + ": v\r\n";
  }
  input += "Authorization: Bearer late\r\nX-Last: z\r\nContent-Length: 0\r\n\r\n";
  client_request_parser parser;
  ASSERT_FALSE(parse(parser, input, input.size()));
  auto lines = forwarded(parser.get());
  ASSERT_EQ(lines.size(), 71u);
  EXPECT_EQ(lines[69], "X-N69: v\r\n");
  EXPECT_EQ(lines[70], "X-Last: z\r\n");
  EXPECT_EQ(parser.get()[bhttp::field::authorization], "Bearer late");
}

TEST(client_request_parser, fails_as_beast_does_on_limits_and_malformed_input) {
  client_request_parser limited;
  limited.header_limit(32);
  EXPECT_EQ(parse(limited, chat, chat.size()), bhttp::error::header_limit);

  client_request_parser small_body;
  small_body.body_limit(4);
  EXPECT_EQ(parse(small_body, chat, chat.size()), bhttp::error::body_limit);

  client_request_parser malformed;
  EXPECT_TRUE(parse(malformed, "GET / HTTP/1.1\r\nBad Header\r\n\r\n", 64));
}

// Beast reads a request whose final coding is not chunked as having no body, so the body's
// bytes would be parsed as the next request: only "chunked" alone is accepted.
TEST(client_request_parser, accepts_no_transfer_coding_but_chunked_alone) {
  auto with = [](std::string_view codings) {
    return "POST /v1/completions HTTP/1.1\r\n" + std::string(codings) + "\r\n3\r\nabc\r\n0\r\n\r\n";
  };
  client_request_parser any_case;
  EXPECT_FALSE(parse(any_case, with("Transfer-Encoding: Chunked\r\n"), 7));
  EXPECT_EQ(any_case.get().body(), "abc");

  for (std::string_view framing :
       {"Transfer-Encoding: chunked, identity\r\n", "Transfer-Encoding: gzip\r\n",
        "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n",
        "Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n"}) {
    client_request_parser ambiguous;
    EXPECT_EQ(parse(ambiguous, with(framing), 7), bhttp::error::bad_transfer_encoding) << framing;
    EXPECT_FALSE(ambiguous.unsupported_transfer_coding()) << framing;
  }

  client_request_parser compressed;
  EXPECT_EQ(parse(compressed, with("Transfer-Encoding: gzip, chunked\r\n"), 7),
            bhttp::error::bad_transfer_encoding);
  EXPECT_TRUE(compressed.unsupported_transfer_coding());
}

TEST(client_request, made_by_hand_answers_like_a_parsed_one) {
  client_request request{bhttp::verb::post, "/v1/completions", 10};
  request.insert("Content-Type", "application/json");
  request.insert("Authorization", "Bearer k");
  EXPECT_EQ(request.method_string(), "POST");
  EXPECT_EQ(request.target(), "/v1/completions");
  EXPECT_FALSE(request.keep_alive());
  EXPECT_EQ(request[bhttp::field::authorization], "Bearer k");
  EXPECT_EQ(forwarded(request), std::vector<std::string>{"Content-Type: application/json\r\n"});

  client_request unread;
  EXPECT_EQ(unread.version(), 11u);
  EXPECT_EQ(unread.target(), "");
  EXPECT_EQ(unread[bhttp::field::authorization], "");
}

} // namespace
} // namespace llmux::http
