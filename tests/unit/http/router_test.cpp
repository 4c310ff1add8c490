#include "http/router.hpp"

#include <gtest/gtest.h>

#include "http/errors.hpp"

namespace llmux::http {
namespace {

route route_of(std::string_view method, std::string_view target) {
  return route_request(method, target).what;
}

TEST(router, local_and_forwarded_paths) {
  EXPECT_EQ(route_of("GET", "/health"), route::health);
  EXPECT_EQ(route_of("GET", "/v1/models"), route::model_list);
  EXPECT_EQ(route_of("GET", "/models/"), route::model_list);
  EXPECT_EQ(route_of("POST", "/v1/models"), route::method_not_allowed);
  EXPECT_EQ(route_of("HEAD", "/health"), route::health);
  EXPECT_EQ(route_of("HEAD", "/v1/models"), route::model_list);
  EXPECT_EQ(route_of("DELETE", "/health"), route::method_not_allowed);
  EXPECT_EQ(route_of("GET", "/ping"), route::health);
  EXPECT_EQ(route_of("POST", "/ping"), route::health);
  EXPECT_EQ(route_of("PUT", "/ping"), route::method_not_allowed);
  EXPECT_EQ(route_of("GET", "/llmux/status"), route::status);
  EXPECT_EQ(route_of("POST", "/v1/chat/completions"), route::proxy);
  EXPECT_EQ(route_of("POST", "/v1/embeddings"), route::proxy);
  EXPECT_EQ(route_of("POST", "/tokenize"), route::proxy);
  EXPECT_EQ(route_of("GET", "/v1/responses/resp_0aF-9"), route::proxy);
  EXPECT_EQ(route_of("POST", "/v1/responses/resp_1/cancel"), route::proxy);
  // Each forwarded route takes the method vLLM's does (HEAD wherever GET).
  EXPECT_EQ(route_of("GET", "/v1/chat/completions"), route::method_not_allowed);
  EXPECT_EQ(route_of("OPTIONS", "/v1/embeddings"), route::method_not_allowed);
  EXPECT_EQ(route_of("POST", "/v1/responses/resp_1"), route::method_not_allowed);
  EXPECT_EQ(route_of("GET", "/v1/responses/resp_1/cancel"), route::method_not_allowed);
  EXPECT_EQ(route_of("HEAD", "/version"), route::proxy);
  EXPECT_EQ(route_of("POST", "/load"), route::method_not_allowed);
  EXPECT_EQ(allowed_methods("/v1/chat/completions"), "POST");
  EXPECT_EQ(allowed_methods("/tokenizer_info"), "GET, HEAD");
  EXPECT_EQ(allowed_methods("/health"), "GET, HEAD");
  EXPECT_EQ(allowed_methods("/ping"), "GET, HEAD, POST");
  EXPECT_EQ(allowed_methods("/sleep"), "");
  EXPECT_EQ(route_of("GET", "/metrics"), route::not_found);
  EXPECT_EQ(route_of("GET", "/"), route::not_found);
  EXPECT_EQ(route_of("GET", "/v1/responses/a/b"), route::not_found);
  EXPECT_EQ(route_of("GET", "/v1/responses/a%20b"), route::not_found);
}

TEST(router, forwards_the_normalised_path_with_the_query_as_sent) {
  auto decided = route_request("POST", "/v1/./chat//completions/?x=%2F&y");
  EXPECT_EQ(decided.what, route::proxy);
  EXPECT_EQ(decided.path(), "/v1/chat/completions");
  EXPECT_EQ(decided.target, "/v1/chat/completions?x=%2F&y");
  decided = route_request("POST", "http://engine:8000/v1/%63ompletions");
  EXPECT_EQ(decided.what, route::proxy);
  EXPECT_EQ(decided.target, "/v1/completions");
  EXPECT_EQ(route_request("GET", "/version#frag").target, "/version");
  decided = route_request("GET", "/./health?probe=1");
  EXPECT_EQ(decided.what, route::health);
  EXPECT_EQ(decided.path(), "/health");
}

// Every spelling the engine would route to a control endpoint, and some it would not route at
// all: none is forwarded.
TEST(router, engine_control_is_unreachable_however_spelled) {
  for (auto target : {"/sleep",
                      "/sleep?level=1",
                      "/%73leep?level=1",
                      "/%77ake_up",
                      "/wake_up/",
                      "/%63ollective_rpc",
                      "/reset%5Fprefix%5Fcache",
                      "/reset_prefix_cache",
                      "/is_sleeping",
                      "/SLEEP",
                      "/Sleep",
                      "/v1/../sleep",
                      "/v1/%2e%2e/sleep",
                      "/v1/%2E%2E/wake_up",
                      "//sleep",
                      "/./sleep",
                      "/sleep;x=1",
                      "/sleep%3Bx",
                      "/v1/chat/completions/../../collective_rpc",
                      "/v1%2f..%2fsleep",
                      "http://127.0.0.1:8001/sleep",
                      "HTTP://x/collective_rpc",
                      "/pause",
                      "/scale_elastic_ep",
                      "/v1/load_lora_adapter",
                      "/server_info"}) {
    auto decided = route_request("POST", target);
    EXPECT_EQ(decided.what, route::not_found) << target;
  }
}

TEST(router, targets_that_name_no_path_are_bad) {
  for (auto target : {"", "*", "example.com:443", "/v1/chat%2", "/v1/chat%zzcompletions",
                      "/v1%00/chat/completions", "/v1/chat/completions%0a", "ftp//x"}) {
    EXPECT_EQ(route_of("POST", target), route::bad_target) << target;
  }
}

TEST(router, normalisation_follows_rfc_3986_dot_segments) {
  auto normal = [](std::string_view target) { return normalize_target(target)->path; };
  EXPECT_EQ(normal("/a/b/c/./../../g"), "/a/g");
  EXPECT_EQ(normal("/../../x"), "/x");
  EXPECT_EQ(normal("/a/.."), "/");
  EXPECT_EQ(normal("/a%2Fb"), "/a/b");
  EXPECT_EQ(normal("/%7euser"), "/~user");
  EXPECT_EQ(normalize_target("/p?q=1?2")->query, "q=1?2");
  // Paths that are normal already pass unchanged; the ones that only look so do not.
  EXPECT_EQ(normal("/v1/chat/completions"), "/v1/chat/completions");
  EXPECT_EQ(normal("/"), "/");
  EXPECT_EQ(normal("/v1/..x/.y"), "/v1/..x/.y");
  EXPECT_EQ(normal("/v1/"), "/v1");
  EXPECT_EQ(normal("//v1"), "/v1");
  EXPECT_EQ(normal("/v1/."), "/v1");
  EXPECT_EQ(normal("/v1/.."), "/");
  EXPECT_EQ(normal("/v1//models"), "/v1/models");
  EXPECT_EQ(normal("/Tokenizer_info-2?a=/b"), "/Tokenizer_info-2");
  EXPECT_FALSE(normalize_target("/v1/a\x01b"));
}

TEST(errors, openai_shape_with_type_and_code_from_the_status) {
  EXPECT_EQ(openai_error(404, "The model `x` does not exist.", "model"),
            R"({"error":{"message":"The model `x` does not exist.","type":"invalid_request_error",)"
            R"("param":"model","code":"model_not_found"}})");
  EXPECT_EQ(openai_error(504, "late"),
            R"({"error":{"message":"late","type":"timeout","param":null,"code":"model_timeout"}})");
  EXPECT_NE(openai_error(404, "x").find(R"("code":"not_found")"), std::string::npos);
  // What llmux answers before it has read a request names its cause too.
  EXPECT_NE(
    openai_error(408, "x").find(R"("type":"timeout","param":null,"code":"request_timeout")"),
    std::string::npos);
  EXPECT_NE(openai_error(505, "x").find(R"("code":"http_version_not_supported")"),
            std::string::npos);
}

TEST(errors, a_failed_stream_ends_in_its_apis_own_framing) {
  EXPECT_EQ(event_dialect_of("/v1/messages"), event_dialect::anthropic);
  EXPECT_EQ(event_dialect_of("/v1/chat/completions"), event_dialect::openai);
  EXPECT_EQ(event_dialect_of("/v1/responses"), event_dialect::openai);
  EXPECT_EQ(event_dialect_of("/v1/messages?beta=true"), event_dialect::anthropic);
  EXPECT_EQ(stream_error_event(event_dialect::openai, 503, "gone"),
            "data: " + openai_error(503, "gone") + "\n\ndata: [DONE]\n\n");
  EXPECT_EQ(stream_error_event(event_dialect::anthropic, 503, "gone"),
            "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\","
            "\"message\":\"gone\"}}\n\ndata: [DONE]\n\n");
  EXPECT_NE(stream_error_event(event_dialect::anthropic, 504, "late").find("timeout_error"),
            std::string::npos);
  EXPECT_NE(stream_error_event(event_dialect::anthropic, 502, "cut").find("api_error"),
            std::string::npos);
  // An engine's own error body goes out as it came, named as the dialect names errors.
  EXPECT_EQ(error_event(event_dialect::anthropic, R"({"type":"error"})"),
            "event: error\ndata: {\"type\":\"error\"}\n\ndata: [DONE]\n\n");
}

} // namespace
} // namespace llmux::http
