#include "http/headers.hpp"

#include <string_view>

#include <gtest/gtest.h>

namespace llmux::http {
namespace {

TEST(headers, what_the_engine_never_sees) {
  for (auto name : {"Authorization",
                    "authorization",
                    "X-Api-Key",
                    "api-key",
                    "Cookie",
                    "Origin",
                    "Referer",
                    "Sec-Fetch-Mode",
                    "sec-fetch-site",
                    "sec-ch-ua",
                    "Sec-CH-UA-Platform",
                    "If-None-Match",
                    "if-modified-since",
                    "If-Match",
                    "If-Unmodified-Since",
                    "If-Range",
                    "Model-Override",
                    "X-Forwarded-Proto",
                    "x-forwarded-for",
                    "Connection",
                    "Keep-Alive",
                    "Transfer-Encoding",
                    "Content-Length",
                    "Host",
                    "TE",
                    "Upgrade",
                    "Proxy-Authorization",
                    "Expect"}) {
    EXPECT_FALSE(forwards_request_header(name)) << name;
  }
}

TEST(headers, what_the_engine_gets) {
  for (auto name : {"Content-Type", "Accept", "User-Agent", "X-Request-Id", "OpenAI-Organization",
                    "Accept-Encoding", "traceparent", "Expect-CT", "x-api-keys"}) {
    EXPECT_TRUE(forwards_request_header(name)) << name;
  }
}

TEST(headers, responses_lose_only_hop_by_hop_headers) {
  EXPECT_TRUE(forwards_response_header("Content-Type"));
  EXPECT_TRUE(forwards_response_header("Set-Cookie"));
  EXPECT_TRUE(forwards_response_header("x-request-id"));
  EXPECT_FALSE(forwards_response_header("Transfer-Encoding"));
  EXPECT_FALSE(forwards_response_header("connection"));
  EXPECT_FALSE(forwards_response_header("Content-Length"));
}

TEST(headers, iequals_lower_compares_names_and_values_in_any_case) {
  EXPECT_TRUE(iequals_lower("Content-Length", "content-length"));
  EXPECT_TRUE(iequals_lower("TRANSFER-ENCODING", "transfer-encoding")); // more than 8 bytes
  EXPECT_TRUE(iequals_lower("keep-Alive", "keep-alive"));
  EXPECT_TRUE(iequals_lower("", ""));
  EXPECT_FALSE(iequals_lower("content-lengths", "content-length"));
  EXPECT_FALSE(iequals_lower("content_length", "content-length"));
  EXPECT_FALSE(iequals_lower("Content-Lengtx", "content-length")); // in the 8-byte tail
  EXPECT_FALSE(iequals_lower("Conte\xeet-Length", "content-length"));
  EXPECT_TRUE(iequals_lower("CLOSE", "close"));
  EXPECT_FALSE(iequals_lower("c1ose", "close"));
  EXPECT_FALSE(iequals_lower("Close\t", "close-"));
}

} // namespace
} // namespace llmux::http
