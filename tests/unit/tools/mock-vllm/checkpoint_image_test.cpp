#include "tools/mock-vllm/checkpoint_image.hpp"

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "tests/support/scratch_dir.hpp"

namespace llmux::tools::mock_vllm {
namespace {

TEST(checkpoint_image, round_trips_through_the_images_directory) {
  testing_support::scratch_dir dir;
  checkpoint_image image;
  image.executable = "/bin/mock";
  image.arguments = {"serve", "m", "--port", "0"};
  image.environment = {"VLLM_SERVER_DEV_MODE=1"};
  image.port = 8123;
  image.snapshot = {{"kv_cache", "weights"}, 2, false, true};
  image.image_bytes = 100000;
  image.restore_ms = 12.5;
  ASSERT_EQ(write_checkpoint(dir / "images", image), "");
  EXPECT_EQ(std::filesystem::file_size(dir.path() / "images" / "pages-1.img"), 100000u);
  auto read = read_checkpoint(dir / "images");
  ASSERT_TRUE(read) << read.error();
  EXPECT_EQ(read->arguments, image.arguments);
  EXPECT_EQ(read->environment, image.environment);
  EXPECT_EQ(read->port, 8123);
  EXPECT_EQ(read->snapshot.sleeping_tags, image.snapshot.sleeping_tags);
  EXPECT_EQ(read->snapshot.sleep_level, 2);
  EXPECT_DOUBLE_EQ(read->restore_ms, 12.5);
}

TEST(checkpoint_image, truncated_or_missing_images_are_refused) {
  testing_support::scratch_dir dir;
  EXPECT_NE(read_checkpoint(dir / "none").error().find("no checkpoint"), std::string::npos);
  checkpoint_image image;
  image.image_bytes = 1000;
  ASSERT_EQ(write_checkpoint(dir / "images", image), "");
  std::filesystem::resize_file(dir.path() / "images" / "pages-1.img", 10);
  EXPECT_NE(read_checkpoint(dir / "images").error().find("truncated"), std::string::npos);
}

} // namespace
} // namespace llmux::tools::mock_vllm
