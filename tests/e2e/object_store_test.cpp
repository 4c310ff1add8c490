// The object store against a real, strict S3 server (Ceph RGW on loopback), and against no
// server at all.
#include "checkpoint/object_store.hpp"

#include <algorithm>
#include <arpa/inet.h>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <netinet/in.h>
#include <set>
#include <sys/socket.h>
#include <unistd.h>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "tests/e2e/daemon.hpp"
#include "tests/support/rgw_server.hpp"
#include "tests/support/scratch_dir.hpp"

namespace llmux::checkpoint {
namespace {

using testing_support::answer_content;
using testing_support::checkpoint_member;
using testing_support::daemon_test;
using testing_support::number_at;
using testing_support::rgw_server;
using testing_support::scratch_dir;
using testing_support::text_at;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

constexpr const char* access_key = "LLMUXTESTACCESSKEY";
constexpr const char* secret_key = "llmux/test+Secret0123456789abcdefghijkl";
constexpr const char* bucket = "checkpoints";

deadline in(std::chrono::seconds seconds) {
  return std::chrono::steady_clock::now() + seconds;
}

// Bytes that differ along the file, so a misplaced block shows.
std::string pattern(std::size_t size, std::uint32_t seed) {
  std::string out(size, '\0');
  for (auto& c : out) {
    seed = seed * 1664525U + 1013904223U;
    c = static_cast<char>(seed >> 24);
  }
  return out;
}

void write_file(const fs::path& path, const std::string& content) {
  std::ofstream(path, std::ios::binary) << content;
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::set<std::string> names_in(const fs::path& dir) {
  std::set<std::string> names;
  for (const auto& entry : fs::directory_iterator(dir)) {
    names.insert(entry.path().filename().string());
  }
  return names;
}

// The generation the files under `prefix` went up as (`<prefix><generation>/<file>`).
std::string generation_of(const std::set<std::string>& keys, const std::string& prefix) {
  for (const auto& key : keys) {
    auto slash = key.find('/', prefix.size());
    if (key.starts_with(prefix) && slash != std::string::npos) {
      return key.substr(prefix.size(), slash - prefix.size());
    }
  }
  return {};
}

class object_store_rgw : public daemon_test {
protected:
  static void SetUpTestSuite() {
    if (!rgw_server::available()) {
      return;
    }
    try {
      server_ = std::make_unique<rgw_server>(access_key, secret_key);
      std::cout << "[   RGW    ] up in " << server_->startup_time().count() << " ms at "
                << server_->endpoint() << std::endl;
      auto created = s3_client(store_config()).create_bucket(in(30s));
      if (!created.ok) {
        setup_error_ = created.error;
      }
    } catch (const std::exception& e) {
      setup_error_ = e.what();
    }
  }

  static void TearDownTestSuite() {
    server_.reset();
  }

  void SetUp() override {
    if (!rgw_server::available()) {
      GTEST_SKIP() << rgw_server::missing_packages;
    }
    ASSERT_TRUE(server_ && setup_error_.empty()) << setup_error_;
  }

  /// The configuration's `"object_store"` member for this server, signed with `secret`.
  static std::string object_store_member(std::string_view secret) {
    return fmt::format(R"("object_store": {{"endpoint": "{}", "bucket": "{}", "access_key": "{}", )"
                       R"("secret_key": "{}"}})",
                       server_->endpoint(), bucket, access_key, secret);
  }

  static config::object_store_config store_config() {
    return {server_->endpoint(), bucket, access_key, secret_key, "us-east-1"};
  }

  static std::unique_ptr<rgw_server> server_;
  static std::string setup_error_;
};

std::unique_ptr<rgw_server> object_store_rgw::server_;
std::string object_store_rgw::setup_error_;

TEST_F(object_store_rgw, upload_replaces_stale_objects_and_download_restores_the_bytes) {
  scratch_dir scratch;
  auto images = scratch.path() / "images";
  fs::create_directories(images / "rootfs");
  std::map<std::string, std::string> files{{"pages-1.img", pattern(20 << 20, 1)},
                                           {"core-4242.img", pattern(1000, 2)},
                                           {"inventory.img", pattern(10, 3)},
                                           {"name with space&amp.img", pattern(3000, 4)},
                                           {"empty.img", ""}};
  for (const auto& [name, content] : files) {
    write_file(images / name, content);
  }
  write_file(images / "rootfs" / "not-uploaded", "x");

  // An earlier dump left a file of another PID and an older version of one that stays.
  s3_client client(store_config());
  write_file(scratch.path() / "old", "old bytes");
  ASSERT_TRUE(client.put_object("llama/images/core-1111.img", scratch.path() / "old", in(30s)).ok);
  ASSERT_TRUE(client.put_object("llama/images/core-4242.img", scratch.path() / "old", in(30s)).ok);

  // Small listing pages, so the upload's and the download's listings follow continuation tokens.
  transfer_limits limits;
  limits.list_page_size = 2;
  object_store store(store_config(), limits);
  std::vector<transfer_progress> seen;
  auto started = std::chrono::steady_clock::now();
  auto uploaded = store.upload_directory(images, "llama/images", in(120s),
                                         [&](const transfer_progress& p) { seen.push_back(p); });
  std::cout << "[  upload  ] " << uploaded.bytes << " bytes in "
            << std::chrono::duration_cast<std::chrono::milliseconds>(
                 std::chrono::steady_clock::now() - started)
                 .count()
            << " ms, " << seen.size() << " progress reports" << std::endl;
  ASSERT_TRUE(uploaded.ok) << uploaded.error;
  EXPECT_EQ(uploaded.files, files.size());
  EXPECT_EQ(uploaded.bytes, (20U << 20) + 1000 + 10 + 3000);
  // The last report of the upload proper has every file; then the previous checkpoint goes.
  auto uploading = std::find_if(seen.rbegin(), seen.rend(), [](const transfer_progress& p) {
    return p.phase == transfer_phase::uploading;
  });
  ASSERT_NE(uploading, seen.rend());
  EXPECT_EQ(uploading->files_done, files.size());
  EXPECT_EQ(uploading->bytes_done, uploading->bytes_total);
  EXPECT_EQ(seen.back().phase, transfer_phase::cleaning);

  auto listing = client.list_objects("llama/images/", in(30s), 2);
  ASSERT_TRUE(listing.ok) << listing.error;
  std::set<std::string> keys;
  for (const auto& object : listing.objects) {
    keys.insert(object.key);
  }
  // The files went up as one generation, `llama/images/<generation>/<file>`.
  auto generation = generation_of(keys, "llama/images/");
  ASSERT_FALSE(generation.empty());
  std::set<std::string> expected;
  for (const auto& [name, content] : files) {
    expected.insert("llama/images/" + generation + "/" + name);
  }
  expected.insert("llama/images/llmux-manifest.json"); // written last
  EXPECT_EQ(keys, expected); // the stale core-*.img are gone, rootfs/ never went up

  auto restored = scratch.path() / "restored" / "images";
  auto downloaded = store.download_directory("llama/images/", restored, in(120s));
  ASSERT_TRUE(downloaded.ok) << downloaded.error;
  EXPECT_EQ(downloaded.files, files.size());
  std::set<std::string> expected_names;
  for (const auto& [name, content] : files) {
    expected_names.insert(name);
    EXPECT_TRUE(read_file(restored / name) == content) << name << " differs";
  }
  EXPECT_EQ(names_in(restored), expected_names);
  EXPECT_EQ(names_in(restored.parent_path()), std::set<std::string>{"images"}); // no leftovers

  // A second download does not overwrite a checkpoint that is there.
  auto again = store.download_directory("llama/images/", restored, in(30s));
  EXPECT_FALSE(again.ok);
  EXPECT_NE(again.error.find("already exists and is not an empty directory"), std::string::npos)
    << again.error;
}

TEST_F(object_store_rgw, a_failed_upload_keeps_the_checkpoint_and_an_altered_one_is_refused) {
  scratch_dir scratch;
  auto images = scratch.path() / "images";
  fs::create_directories(images);
  write_file(images / "core-1.img", pattern(1000, 1));
  write_file(images / "pages-1.img", pattern(5000, 2));
  object_store store(store_config());
  ASSERT_TRUE(store.upload_directory(images, "altered/images", in(60s)).ok);

  // An upload that does not finish (stopped: llmux shutting down) leaves the previous
  // checkpoint whole.
  std::atomic<bool> stop{true};
  auto stopped = store.upload_directory(images, "altered/images", in(30s), {}, &stop);
  EXPECT_FALSE(stopped.ok);
  EXPECT_EQ(stopped.error, "stopped: llmux is shutting down");
  auto kept = store.download_directory("altered/images", scratch.path() / "k" / "images", in(30s));
  ASSERT_TRUE(kept.ok) << kept.error;
  EXPECT_TRUE(read_file(scratch.path() / "k" / "images" / "core-1.img") == pattern(1000, 1));

  // The same size with other bytes: only the SHA-256 tells.
  s3_client client(store_config());
  auto listing = client.list_objects("altered/images/", in(30s));
  ASSERT_TRUE(listing.ok) << listing.error;
  std::set<std::string> keys;
  for (const auto& object : listing.objects) {
    keys.insert(object.key);
  }
  auto generation = generation_of(keys, "altered/images/");
  write_file(scratch.path() / "other", pattern(1000, 9));
  ASSERT_TRUE(
    client
      .put_object("altered/images/" + generation + "/core-1.img", scratch.path() / "other", in(30s))
      .ok);
  auto altered
    = store.download_directory("altered/images", scratch.path() / "a" / "images", in(30s));
  EXPECT_FALSE(altered.ok);
  EXPECT_NE(altered.error.find("core-1.img: its SHA-256 is not the manifest's"), std::string::npos)
    << altered.error;
  EXPECT_FALSE(fs::exists(scratch.path() / "a" / "images"));

  // Objects without a manifest (no upload ever finished): no download takes them.
  ASSERT_TRUE(client.delete_object("altered/images/llmux-manifest.json", in(30s)).ok);
  auto partial
    = store.download_directory("altered/images", scratch.path() / "b" / "images", in(30s));
  EXPECT_FALSE(partial.ok);
  EXPECT_EQ(partial.error, "the checkpoint under s3://checkpoints/altered/images/ is incomplete: "
                           "it has no llmux-manifest.json (an upload did not finish)");
}

TEST_F(object_store_rgw, a_wrong_secret_is_refused_clearly_and_leaves_nothing_behind) {
  scratch_dir scratch;
  auto images = scratch.path() / "images";
  fs::create_directories(images);
  write_file(images / "core-1.img", "core");
  ASSERT_TRUE(object_store(store_config()).upload_directory(images, "wrong/images", in(60s)).ok);

  auto config = store_config();
  config.secret_key = "not-the-secret/at+all";
  auto restored = scratch.path() / "restored" / "images";
  auto result = object_store(config).download_directory("wrong/images", restored, in(30s));
  EXPECT_FALSE(result.ok);
  EXPECT_EQ(result.error, "object store " + server_->endpoint()
                            + " refused the credentials (403 SignatureDoesNotMatch); check "
                              "checkpoint.object_store.access_key and secret_key");
  EXPECT_EQ(result.error.find(config.secret_key), std::string::npos);
  EXPECT_FALSE(fs::exists(restored));
  EXPECT_TRUE(!fs::exists(restored.parent_path()) || fs::is_empty(restored.parent_path()));

  auto upload = object_store(config).upload_directory(images, "wrong/images", in(30s));
  EXPECT_FALSE(upload.ok);
  EXPECT_NE(upload.error.find("refused the credentials"), std::string::npos) << upload.error;
}

TEST_F(object_store_rgw, missing_checkpoints_buckets_and_keys_are_named) {
  scratch_dir scratch;
  auto nothing = object_store(store_config())
                   .download_directory("nothing/here", scratch.path() / "images", in(30s));
  EXPECT_FALSE(nothing.ok);
  EXPECT_EQ(nothing.error,
            "no checkpoint in the object store under s3://checkpoints/nothing/here/");
  EXPECT_FALSE(fs::exists(scratch.path() / "images"));

  auto config = store_config();
  config.bucket = "no-such-bucket";
  auto no_bucket = object_store(config).download_directory("m/images", scratch / "x", in(30s));
  EXPECT_EQ(no_bucket.error, "bucket 'no-such-bucket' does not exist at object store "
                               + server_->endpoint() + " (404 NoSuchBucket)");

  auto no_key = s3_client(store_config()).get_object("nothing/here/x", scratch / "x", in(30s));
  EXPECT_EQ(no_key.error, "object s3://checkpoints/nothing/here/x does not exist (404 NoSuchKey)");
  EXPECT_FALSE(fs::exists(scratch / "x"));
}

// A port that refuses connections: bound (so nobody else takes it) but not listening.
class closed_port {
public:
  closed_port() : fd_(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) {
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t size = sizeof address;
    ::bind(fd_, reinterpret_cast<sockaddr*>(&address), size);
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &size);
    port_ = ntohs(address.sin_port);
  }
  closed_port(const closed_port&) = delete;
  closed_port& operator=(const closed_port&) = delete;
  ~closed_port() {
    ::close(fd_);
  }
  int port() const {
    return port_;
  }

private:
  int fd_;
  int port_ = 0;
};

TEST(object_store_offline, a_closed_port_fails_within_seconds) {
  closed_port closed;
  auto endpoint = "http://127.0.0.1:" + std::to_string(closed.port());
  scratch_dir scratch;
  fs::create_directories(scratch.path() / "images");
  write_file(scratch.path() / "images" / "core-1.img", "core");
  object_store store({endpoint, bucket, access_key, secret_key, "us-east-1"});

  auto started = std::chrono::steady_clock::now();
  auto up = store.upload_directory(scratch.path() / "images", "m/images", in(60s));
  auto down = store.download_directory("m/images", scratch.path() / "restored", in(60s));
  auto took = std::chrono::steady_clock::now() - started;

  auto expected = "object store " + endpoint + " unreachable: Couldn't connect to server";
  EXPECT_EQ(up.error, expected);
  EXPECT_EQ(down.error, expected);
  EXPECT_LT(took, 5s); // both: three attempts each, 0.5 s and 1 s apart
  EXPECT_FALSE(fs::exists(scratch.path() / "restored"));
  EXPECT_EQ(up.error.find(secret_key), std::string::npos);
}

TEST(object_store_offline, a_spent_deadline_fails_at_once) {
  closed_port closed;
  object_store store(
    {"http://127.0.0.1:" + std::to_string(closed.port()), bucket, access_key, secret_key, ""});
  scratch_dir scratch;
  auto result = store.download_directory("m/images", scratch.path() / "images",
                                         std::chrono::steady_clock::now());
  EXPECT_FALSE(result.ok);
  EXPECT_NE(result.error.find("did not finish before the deadline"), std::string::npos)
    << result.error;
}

TEST(object_store_offline, a_bad_endpoint_or_prefix_is_named) {
  object_store store({"127.0.0.1:7480", bucket, access_key, secret_key, ""});
  scratch_dir scratch;
  EXPECT_EQ(store.download_directory("m", scratch / "images", in(5s)).error,
            "checkpoint.object_store.endpoint '127.0.0.1:7480' is not an http:// or https:// URL "
            "of the form scheme://host[:port][/path]");
  EXPECT_EQ(store.download_directory("/", scratch / "images", in(5s)).error,
            "'/' is not a usable object store prefix");
  EXPECT_EQ(store.upload_directory(scratch.path(), "m", in(5s)).error,
            scratch.path().string() + " holds no files to upload");
}

// llmux itself over the real S3 server: a checkpoint goes up after the dump, and a model whose
// local images are gone is restored from the store.
TEST_F(object_store_rgw, llmux_restores_a_model_from_the_store_when_its_local_images_are_gone) {
  auto images_dir = scratch_ / "checkpoints";
  auto store = object_store_member(secret_key);
  auto daemon = start_daemon({{"alpha", "discard+checkpoint"}, {"beta", "retain+stop"}},
                             R"("min_active_secs": 0)", checkpoint_member(images_dir, store));
  auto before = daemon.chat("alpha");
  ASSERT_EQ(before.status, 200);
  ASSERT_EQ(daemon.chat("beta").status, 200); // dumped; the upload runs in the background
  ASSERT_TRUE(daemon.process->wait_for_text("alpha: uploaded", 60s)) << daemon.process->output();
  auto listing = s3_client(store_config()).list_objects("alpha/images/", in(30s));
  ASSERT_TRUE(listing.ok) << listing.error;
  EXPECT_GE(listing.objects.size(), 3u); // the images and the manifest

  fs::remove_all(fs::path(images_dir) / "alpha" / "images");
  auto after = daemon.chat("alpha");
  ASSERT_EQ(after.status, 200) << after.body;
  EXPECT_EQ(answer_content(after), answer_content(before));
  EXPECT_TRUE(daemon.process->wait_for_text("alpha: downloaded", 2s));
  simdjson::dom::parser parser;
  auto alpha = daemon.status(parser)["models"]["alpha"];
  EXPECT_EQ(number_at(alpha["fallbacks_total"]), 0u);
  EXPECT_EQ(number_at(alpha["engine_starts"]), 1u); // restored, not started cold
  // Evicted the same way again, it reuses its images (no dump), which the store has already.
  ASSERT_EQ(daemon.chat("beta").status, 200);
  EXPECT_TRUE(daemon.process->wait_for_text("still hold this engine", 2s));
  std::this_thread::sleep_for(500ms);
  const auto& log = daemon.process->output();
  std::size_t uploads = 0;
  for (auto at = log.find("alpha: uploaded"); at != std::string::npos;
       at = log.find("alpha: uploaded", at + 1)) {
    ++uploads;
  }
  EXPECT_EQ(uploads, 1u);
  EXPECT_EQ(daemon.process->output().find(secret_key), std::string::npos);
}

TEST_F(object_store_rgw, llmux_with_a_wrong_secret_says_so_and_falls_back) {
  auto images_dir = scratch_ / "checkpoints";
  auto wrong = "wrong/Secret+0123456789";
  auto store = object_store_member(wrong);
  auto daemon = start_daemon({{"alpha", "offload+checkpoint"}, {"beta", "retain+stop"}},
                             R"("min_active_secs": 0)", checkpoint_member(images_dir, store));
  ASSERT_EQ(daemon.chat("alpha").status, 200);
  ASSERT_EQ(daemon.chat("beta").status, 200);
  auto refused = daemon.process->wait_for_text("refused the credentials", 60s);
  ASSERT_TRUE(refused) << daemon.process->output();
  EXPECT_NE(refused->find("check checkpoint.object_store.access_key and secret_key"),
            std::string::npos)
    << *refused;
  fs::remove_all(fs::path(images_dir) / "alpha" / "images");
  EXPECT_EQ(daemon.chat("alpha").status, 200); // a cold start instead
  simdjson::dom::parser parser;
  auto fallback = std::string(text_at(daemon.status(parser)["models"]["alpha"]["last_fallback"]));
  EXPECT_NE(fallback.find("refused the credentials"), std::string::npos) << fallback;
  EXPECT_EQ(daemon.process->output().find(wrong), std::string::npos);
}

} // namespace
} // namespace llmux::checkpoint
