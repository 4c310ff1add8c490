#include "config/logging.hpp"

#include <gtest/gtest.h>
#include <spdlog/spdlog.h>

namespace llmux::config {
namespace {

TEST(log_levels, default_and_per_logger_levels) {
  auto levels = parse_log_levels("warn, engine=debug,http = trace");
  ASSERT_TRUE(levels) << levels.error();
  EXPECT_EQ(levels->default_level, spdlog::level::warn);
  ASSERT_EQ(levels->overrides.size(), 2u);
  EXPECT_EQ(levels->overrides[0],
            (std::pair<std::string, spdlog::level::level_enum>{"engine", spdlog::level::debug}));
  EXPECT_EQ(levels->overrides[1].first, "http");
  EXPECT_EQ(levels->overrides[1].second, spdlog::level::trace);
}

TEST(log_levels, empty_text_keeps_info) {
  auto levels = parse_log_levels("");
  ASSERT_TRUE(levels);
  EXPECT_EQ(levels->default_level, spdlog::level::info);
  EXPECT_TRUE(levels->overrides.empty());
}

TEST(log_levels, typos_are_errors_not_silence) {
  auto level = parse_log_levels("inof");
  ASSERT_FALSE(level);
  EXPECT_NE(level.error().find("unknown log level 'inof'"), std::string::npos);
  auto logger = parse_log_levels("engin=debug");
  ASSERT_FALSE(logger);
  EXPECT_NE(logger.error().find("unknown logger 'engin' (did you mean 'engine'?)"),
            std::string::npos);
}

TEST(setup_logging, applies_levels_and_verbose_lowers_only_the_default) {
  auto levels = parse_log_levels("error,engine=trace,http=warn");
  ASSERT_TRUE(levels);
  setup_logging(*levels, false);
  EXPECT_EQ(spdlog::get("sched")->level(), spdlog::level::err);
  EXPECT_EQ(spdlog::get("engine")->level(), spdlog::level::trace);
  setup_logging(*levels, true);
  EXPECT_EQ(spdlog::get("sched")->level(), spdlog::level::debug);
  EXPECT_EQ(spdlog::get("http")->level(), spdlog::level::warn);
  for (auto name : logger_names) {
    EXPECT_NE(spdlog::get(std::string{name}), nullptr) << name;
  }
}

} // namespace
} // namespace llmux::config
