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

TEST(cli, one_shot_flows_and_their_options) {
  auto validate = std::get<cli_options>(
    parse({"--validate", "m", "--policies", "retain+stop,offload+checkpoint"}));
  EXPECT_EQ(validate.validate_model, "m");
  EXPECT_EQ(
    validate.validate_policies,
    (std::vector<eviction_policy>{{weight_strategy::retain, process_strategy::stop},
                                  {weight_strategy::offload, process_strategy::checkpoint}}));
  auto defaults = std::get<cli_options>(parse({"--validate", "m"}));
  EXPECT_EQ(
    defaults.validate_policies,
    (std::vector<eviction_policy>{{weight_strategy::offload, process_strategy::keep_running},
                                  {weight_strategy::discard, process_strategy::keep_running}}));
  auto checkpoint = std::get<cli_options>(
    parse({"--checkpoint", "m", "--eviction", "offload+checkpoint", "--no-warmup"}));
  EXPECT_EQ(checkpoint.checkpoint_model, "m");
  EXPECT_EQ(checkpoint.checkpoint_eviction,
            (eviction_policy{weight_strategy::offload, process_strategy::checkpoint}));
  EXPECT_TRUE(checkpoint.no_warmup);
  EXPECT_EQ(std::get<cli_options>(parse({"--restore-detached", "m"})).restore_model, "m");
}

TEST(cli, conflicting_or_orphaned_flow_options_are_usage_errors) {
  for (auto args : {std::vector<const char*>{"--validate", "a", "--checkpoint", "a"},
                    std::vector<const char*>{"--validate", "a", "--restore-detached", "a"},
                    std::vector<const char*>{"--checkpoint", "a", "--restore-detached", "a"},
                    std::vector<const char*>{"--check-config", "--validate", "a"},
                    std::vector<const char*>{"--policies", "retain+stop"},
                    std::vector<const char*>{"--eviction", "retain+checkpoint"},
                    std::vector<const char*>{"--no-warmup"},
                    std::vector<const char*>{"--validate", "a", "--policies", "retain"},
                    std::vector<const char*>{"--checkpoint", "a", "--eviction", "keep+stop"}}) {
    testing::internal::CaptureStderr();
    auto result = parse(args);
    auto message = testing::internal::GetCapturedStderr();
    ASSERT_TRUE(std::holds_alternative<int>(result)) << args.front();
    EXPECT_EQ(std::get<int>(result), usage_error_status) << args.front();
    EXPECT_FALSE(message.empty());
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
