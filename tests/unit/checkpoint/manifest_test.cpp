#include "checkpoint/manifest.hpp"

#include <gtest/gtest.h>

namespace llmux::checkpoint {
namespace {

const std::string sha_a(64, 'a');
const std::string sha_b = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

TEST(manifest, round_trips_its_files) {
  checkpoint_manifest manifest{
    "20261130T120000Z-0badf00d",
    {{"pages-1.img", 20u << 20, sha_a}, {"name \"quoted\".img", 0, sha_b}}};
  auto text = write_manifest(manifest);
  auto read = read_manifest(text);
  ASSERT_TRUE(read) << read.error();
  EXPECT_EQ(*read, manifest);
}

TEST(manifest, refuses_what_a_download_must_not_trust) {
  EXPECT_EQ(read_manifest("not json").error(), "the checkpoint manifest is not valid JSON");
  EXPECT_EQ(read_manifest(R"({"files":[]})").error(),
            "the checkpoint manifest names no plain \"generation\"");
  EXPECT_EQ(read_manifest(R"({"generation":"../up","files":[]})").error(),
            "the checkpoint manifest names no plain \"generation\"");
  EXPECT_EQ(read_manifest(R"({"generation":"g","file":[]})").error(),
            "the checkpoint manifest has no \"files\" array");
  EXPECT_EQ(read_manifest(R"({"generation":"g","files":[]})").error(),
            "the checkpoint manifest lists no files");
  EXPECT_EQ(read_manifest(R"({"generation":"g","files":[{"name":"a","size":1}]})").error(),
            "a file of the checkpoint manifest lacks its name, size or sha256");
  EXPECT_EQ(read_manifest(R"({"generation":"g","files":[{"name":"a","size":-1,"sha256":")" + sha_a
                          + R"("}]})")
              .error(),
            "a file of the checkpoint manifest lacks its name, size or sha256");
  for (auto name : {"../escape", "..", ".", "", "dir/file"}) {
    auto text = std::string(R"({"generation":"g","files":[{"name":")") + name
                + R"(","size":1,"sha256":")" + sha_a + R"("}]})";
    EXPECT_FALSE(read_manifest(text)) << name;
  }
  EXPECT_EQ(
    read_manifest(R"({"generation":"g","files":[{"name":"a","size":1,"sha256":"ABC"}]})").error(),
    "the checkpoint manifest's sha256 of a is not 64 hex digits");
}

} // namespace
} // namespace llmux::checkpoint
