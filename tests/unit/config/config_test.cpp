#include "config/config.hpp"

#include <gtest/gtest.h>

namespace llmux::config {
namespace {

model_config with_args(std::vector<std::string> args) {
  model_config model;
  model.extra_args = std::move(args);
  return model;
}

TEST(tensor_parallel_size, recognises_every_spelling_vllm_accepts) {
  EXPECT_EQ(tensor_parallel_size(with_args({})), 1u);
  EXPECT_EQ(tensor_parallel_size(with_args({"--tensor-parallel-size", "2"})), 2u);
  EXPECT_EQ(tensor_parallel_size(with_args({"--tensor-parallel-size=4"})), 4u);
  EXPECT_EQ(tensor_parallel_size(with_args({"-tp", "8"})), 8u);
}

TEST(tensor_parallel_size, first_valid_match_wins_and_junk_is_skipped) {
  EXPECT_EQ(tensor_parallel_size(with_args({"--tensor-parallel-size", "x", "-tp", "2"})), 2u);
  EXPECT_EQ(tensor_parallel_size(with_args({"-tp", "2", "-tp", "4"})), 2u);
  EXPECT_EQ(tensor_parallel_size(with_args({"--tensor-parallel-size"})), 1u);
  EXPECT_EQ(tensor_parallel_size(with_args({"--tensor-parallel-size=-2"})), 1u);
}

TEST(engine_arguments, serve_the_model_on_loopback_with_sleep_mode_then_extra_args) {
  model_config model;
  model.model_path = "org/model";
  model.port = 8001;
  model.extra_args = {"--max-model-len", "4096"};
  EXPECT_EQ(engine_arguments(model),
            (std::vector<std::string>{"serve", "org/model", "--port", "8001", "--host", "127.0.0.1",
                                      "--enable-sleep-mode", "--max-model-len", "4096"}));
}

TEST(find_model, by_public_name) {
  config cfg;
  for (auto [name, path] : {std::pair{"a", "pa"}, std::pair{"b", "pb"}}) {
    model_config model;
    model.name = name;
    model.model_path = path;
    cfg.models.push_back(model);
  }
  ASSERT_NE(cfg.find_model("b"), nullptr);
  EXPECT_EQ(cfg.find_model("b")->model_path, "pb");
  EXPECT_EQ(cfg.find_model("pa"), nullptr);
}

} // namespace
} // namespace llmux::config
