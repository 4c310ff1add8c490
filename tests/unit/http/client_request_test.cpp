#include "http/client_request.hpp"

#include <algorithm>
#include <cctype>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/buffer.hpp>
#include <boost/beast/http/error.hpp>
#include <gtest/gtest.h>
#include <simdjson.h>

#include "http/headers.hpp"

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

// The parser judges the names it reads itself (framing, credentials, Expect, Content-Type) by
// their length and text: for those and every other name Beast knows, in any case, it forwards
// what forwards_request_header says.
TEST(client_request_parser, forwards_what_the_header_filter_says_for_every_known_name) {
  std::size_t kept_from_engine = 0;
  for (auto number = 1u; number <= static_cast<unsigned>(bhttp::field::xref); ++number) {
    auto text = bhttp::to_string(static_cast<bhttp::field>(number));
    std::string name(text.data(), text.size());
    auto upper = name;
    std::transform(upper.begin(), upper.end(), upper.begin(),
                   [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
    for (const auto& spelled : {name, upper}) {
      bool framing = iequals_lower(name, "transfer-encoding");
      std::string input = "POST / HTTP/1.1\r\n" + spelled + ": "
                          + (framing                                 ? "chunked"
                             : iequals_lower(name, "content-length") ? "0"
                                                                     : "v")
                          + "\r\n\r\n" + (framing ? "0\r\n\r\n" : "");
      client_request_parser parser;
      ASSERT_FALSE(parse(parser, input, input.size())) << spelled;
      auto lines = forwarded(parser.get());
      EXPECT_EQ(lines.size(), forwards_request_header(name) ? 1u : 0u) << spelled;
    }
    kept_from_engine += forwards_request_header(name) ? 0 : 1;
  }
  EXPECT_GE(kept_from_engine, 20u); // the filter keeps many of them from the engine
  client_request_parser parser;
  std::string_view input = "GET / HTTP/1.1\r\nSec-Fetch-Mode: cors\r\ntraceparent: 00-1\r\n\r\n";
  ASSERT_FALSE(parse(parser, input, input.size()));
  EXPECT_EQ(forwarded(parser.get()), std::vector<std::string>{"traceparent: 00-1\r\n"});
}

// What a body's end depends on is read strictly: a request whose end is in doubt would have
// its bytes read as the next request (a smuggled one).
TEST(client_request_parser, refuses_what_leaves_the_end_of_a_request_in_doubt) {
  struct {
    std::string_view input;
    bhttp::error error;
  } cases[] = {
    {"GET / HTTP/1.1\r\nX-A: 1\r\n folded\r\n\r\n", bhttp::error::bad_obs_fold},
    {"GET / HTTP/1.1\nHost: x\r\n\r\n", bhttp::error::bad_line_ending},
    {"GET / HTTP/1.1\r\nHost: x\n\r\n", bhttp::error::bad_line_ending},
    {"GET / HTTP/1.1\r\nHost: x\r\n\n", bhttp::error::bad_line_ending},
    {"POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
     bhttp::error::bad_content_length},
    {"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n",
     bhttp::error::bad_content_length},
    {"POST / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd",
     bhttp::error::multiple_content_length},
    {"POST / HTTP/1.1\r\nContent-Length: +3\r\n\r\nabc", bhttp::error::bad_content_length},
    {"POST / HTTP/1.1\r\nContent-Length: 3 3\r\n\r\nabc", bhttp::error::bad_content_length},
    {"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcd\r\n0\r\n\r\n",
     bhttp::error::bad_chunk},
    {"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\nabc\r\n0\r\n\r\n",
     bhttp::error::bad_line_ending},
    {"GET /a\x01 HTTP/1.1\r\n\r\n", bhttp::error::bad_target},
    {"GET /caf\xc3\xa9 HTTP/1.1\r\n\r\n", bhttp::error::bad_target},
    {"GET  / HTTP/1.1\r\n\r\n", bhttp::error::bad_target},
    {"GE(T / HTTP/1.1\r\n\r\n", bhttp::error::bad_method},
    {"GET / HTTP/1.1 \r\n\r\n", bhttp::error::bad_version},
    {"GET / HTTP/11\r\n\r\n", bhttp::error::bad_version},
    {"GET / HTTP/1.1\r\nBad Name: x\r\n\r\n", bhttp::error::bad_field},
    {"GET / HTTP/1.1\r\nName: a\x7f\r\n\r\n", bhttp::error::bad_value},
  };
  for (const auto& each : cases) {
    for (std::size_t piece : {std::size_t{1}, each.input.size()}) {
      client_request_parser parser;
      EXPECT_EQ(parse(parser, each.input, piece), each.error) << each.input << " piece " << piece;
    }
  }
}

TEST(client_request_parser, tells_a_version_it_does_not_speak_from_a_malformed_one) {
  client_request_parser two;
  EXPECT_EQ(parse(two, "GET / HTTP/2.0\r\n\r\n", 64), bhttp::error::bad_version);
  EXPECT_TRUE(two.unsupported_version());
  client_request_parser garbled;
  EXPECT_EQ(parse(garbled, "GET / HTTQ/1.1\r\n\r\n", 64), bhttp::error::bad_version);
  EXPECT_FALSE(garbled.unsupported_version());
  // A later 1.x is read as 1.1 (RFC 9110, section 2.5).
  client_request_parser later;
  ASSERT_FALSE(parse(later, "GET / HTTP/1.2\r\n\r\n", 64));
  EXPECT_EQ(later.get().version(), 11u);
  EXPECT_TRUE(later.get().keep_alive());
}

TEST(client_request_parser, takes_what_is_lenient_by_the_rfc) {
  // Empty lines before the request line (RFC 9112, section 2.2), a length repeated, blanks
  // around a value, a value left empty, a chunk extension and trailer lines.
  std::string_view input = "\r\n\r\nPOST /v1/completions HTTP/1.1\r\n"
                           "Content-Type:application/json  \r\n"
                           "X-Empty:\r\n"
                           "Transfer-Encoding: chunked\r\n"
                           "\r\n"
                           "3;name=value\r\nabc\r\n0\r\nX-Trailer: t\r\n\r\n";
  for (std::size_t piece : {std::size_t{1}, std::size_t{5}, input.size()}) {
    client_request_parser parser;
    ASSERT_FALSE(parse(parser, input, piece)) << piece;
    const auto& request = parser.get();
    EXPECT_EQ(request.target(), "/v1/completions");
    EXPECT_EQ(request[bhttp::field::content_type], "application/json");
    EXPECT_EQ(request["x-empty"], "");
    EXPECT_EQ(request.body(), "abc");
    EXPECT_EQ(forwarded(request),
              (std::vector<std::string>{"Content-Type: application/json\r\n", "X-Empty: \r\n"}));
  }
  client_request_parser repeated;
  ASSERT_FALSE(
    parse(repeated, "POST / HTTP/1.1\r\nContent-Length: 3, 3\r\nContent-Length: 3\r\n\r\nabc", 4));
  EXPECT_EQ(repeated.get().body(), "abc");
}

// The head is taken only whole: until its empty line arrives a parse takes nothing, so a
// request's first bytes can be left where they are and the head read again with more.
TEST(client_request_parser, takes_a_head_only_whole_and_within_its_limit) {
  std::string_view head = "POST / HTTP/1.1\r\nContent-Length: 2\r\nX-A: 1\r\n\r\n";
  client_request_parser parser;
  for (std::size_t size = 1; size < head.size(); ++size) {
    error_code ec;
    EXPECT_EQ(parser.put(boost::asio::buffer(head.data(), size), ec), 0u) << size;
    EXPECT_EQ(ec, bhttp::error::need_more) << size;
  }
  error_code ec;
  EXPECT_EQ(parser.put(boost::asio::buffer(head.data(), head.size()), ec), head.size());
  EXPECT_FALSE(ec);
  EXPECT_TRUE(parser.is_header_done());
  EXPECT_FALSE(parser.is_done());
  EXPECT_EQ(parser.content_length(), 2u);

  // The limit counts the whole head: the request line, the fields, the empty line.
  for (std::uint32_t limit :
       {static_cast<std::uint32_t>(head.size()), static_cast<std::uint32_t>(head.size() - 1)}) {
    client_request_parser limited;
    limited.header_limit(limit);
    error_code error;
    limited.put(boost::asio::buffer(head), error);
    EXPECT_EQ(error == bhttp::error::header_limit, limit < head.size()) << limit;
  }
  // A body over the limit is refused with the head when its length is known, else as it comes.
  client_request_parser announced;
  announced.body_limit(1);
  announced.put(boost::asio::buffer(head), ec);
  EXPECT_EQ(ec, bhttp::error::body_limit);
  client_request_parser chunked;
  chunked.body_limit(4);
  EXPECT_EQ(
    parse(chunked,
          "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n",
          64),
    bhttp::error::body_limit);
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
