#include "config/cli.hpp"

#include <vector>

#include <gtest/gtest.h>

namespace llmux::config {
namespace {

std::variant<cli_options, int> parse(std::vector<const char*> args) {
  args.insert(args.begin(), "llmux");
  return parse_command_line(static_cast<int>(args.size()), args.data());
}

TEST(cli, defaults) {
  auto result = parse({});
  ASSERT_TRUE(std::holds_alternative<cli_options>(result));
  const auto& options = std::get<cli_options>(result);
  EXPECT_EQ(options.config_path, "config.json");
  EXPECT_EQ(options.port, std::nullopt);
  EXPECT_FALSE(options.verbose);
  EXPECT_FALSE(options.check_config);
}

TEST(cli, every_option_short_and_long) {
  for (auto args :
       {std::vector<const char*>{"-c", "x.json", "-p", "4000", "-v", "--check-config"},
        std::vector<const char*>{"--config", "x.json", "--port", "4000", "--verbose",
                                 "--check-config"},
        std::vector<const char*>{"--config=x.json", "--port=4000", "-v", "--check-config"}}) {
    auto result = parse(args);
    ASSERT_TRUE(std::holds_alternative<cli_options>(result));
    const auto& options = std::get<cli_options>(result);
    EXPECT_EQ(options.config_path, "x.json");
    EXPECT_EQ(options.port, 4000);
    EXPECT_TRUE(options.verbose);
    EXPECT_TRUE(options.check_config);
  }
}

TEST(cli, help_and_version_exit_zero) {
  testing::internal::CaptureStdout();
  auto help = parse({"--help"});
  auto help_text = testing::internal::GetCapturedStdout();
  EXPECT_EQ(std::get<int>(help), 0);
  EXPECT_NE(help_text.find("--check-config"), std::string::npos);
  testing::internal::CaptureStdout();
  auto version = parse({"--version"});
  auto version_text = testing::internal::GetCapturedStdout();
  EXPECT_EQ(std::get<int>(version), 0);
  EXPECT_EQ(version_text.rfind("llmux ", 0), 0u) << version_text;
}

TEST(cli, usage_errors_exit_two) {
  testing::internal::CaptureStderr();
  EXPECT_EQ(std::get<int>(parse({"--bogus"})), usage_error_status);
  EXPECT_EQ(std::get<int>(parse({"--port", "70000"})), usage_error_status);
  EXPECT_EQ(std::get<int>(parse({"--port", "abc"})), usage_error_status);
  EXPECT_EQ(std::get<int>(parse({"--config"})), usage_error_status);
  testing::internal::GetCapturedStderr();
}

} // namespace
} // namespace llmux::config
