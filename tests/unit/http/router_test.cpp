#include "http/router.hpp"

#include <gtest/gtest.h>

#include "http/errors.hpp"

namespace llmux::http {
namespace {

TEST(router, local_and_forwarded_paths) {
  EXPECT_EQ(route_of("GET", "/health"), route::health);
  EXPECT_EQ(route_of("GET", "/v1/models"), route::model_list);
  EXPECT_EQ(route_of("GET", "/models/"), route::model_list);
  EXPECT_EQ(route_of("POST", "/v1/models"), route::method_not_allowed);
  EXPECT_EQ(route_of("GET", "/llmux/status"), route::status);
  EXPECT_EQ(route_of("POST", "/v1/chat/completions"), route::proxy);
  EXPECT_EQ(route_of("POST", "/v1/embeddings"), route::proxy);
  EXPECT_EQ(route_of("GET", "/metrics"), route::proxy);
}

TEST(router, engine_control_paths_are_never_forwarded) {
  for (auto path : {"/sleep", "/wake_up", "/is_sleeping", "/collective_rpc", "/reset_prefix_cache",
                    "/reset_mm_cache", "/server_info", "/sleep/"}) {
    EXPECT_EQ(route_of("POST", path), route::engine_control) << path;
  }
}

TEST(errors, openai_shape_with_type_and_code_from_the_status) {
  EXPECT_EQ(openai_error(404, "The model `x` does not exist.", "model"),
            R"({"error":{"message":"The model `x` does not exist.","type":"invalid_request_error",)"
            R"("param":"model","code":"model_not_found"}})");
  EXPECT_EQ(openai_error(504, "late"),
            R"({"error":{"message":"late","type":"timeout","param":null,"code":"model_timeout"}})");
  EXPECT_NE(openai_error(404, "x").find(R"("code":"not_found")"), std::string::npos);
}

} // namespace
} // namespace llmux::http
