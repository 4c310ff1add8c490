#include "checkpoint/sigv4.hpp"

#include <fstream>

#include <gtest/gtest.h>

#include "tests/support/scratch_dir.hpp"

namespace llmux::checkpoint {
namespace {

// The examples of the AWS S3 API reference, "Signature Calculations for the Authorization
// Header: Transferring Payload in a Single Chunk" (examplebucket, 24 May 2013).
constexpr std::string_view example_timestamp = "20130524T000000Z";
constexpr std::string_view example_host = "examplebucket.s3.amazonaws.com";

sigv4_credentials example_credentials() {
  return {"AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "us-east-1", "s3"};
}

sigv4_request example_get(std::string path, query_parameters query) {
  return {"GET",
          std::move(path),
          std::move(query),
          {{"Host", std::string{example_host}},
           {"x-amz-content-sha256", std::string{empty_payload_sha256}},
           {"x-amz-date", std::string{example_timestamp}}},
          std::string{empty_payload_sha256}};
}

TEST(sigv4, get_object_with_range) {
  auto request = example_get("/test.txt", {});
  request.headers.emplace_back("Range", "bytes=0-9");
  EXPECT_EQ(canonical_request(request), "GET\n/test.txt\n\n"
                                        "host:examplebucket.s3.amazonaws.com\n"
                                        "range:bytes=0-9\n"
                                        "x-amz-content-sha256:e3b0c44298fc1c149afbf4c8996fb92427ae"
                                        "41e4649b934ca495991b7852b855\n"
                                        "x-amz-date:20130524T000000Z\n\n"
                                        "host;range;x-amz-content-sha256;x-amz-date\n"
                                        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7"
                                        "852b855");
  auto scope = credential_scope(example_timestamp, example_credentials());
  EXPECT_EQ(string_to_sign(example_timestamp, scope, canonical_request(request)),
            "AWS4-HMAC-SHA256\n20130524T000000Z\n20130524/us-east-1/s3/aws4_request\n"
            "7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972");
  EXPECT_EQ(authorization_header(request, example_credentials(), example_timestamp),
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,"
            "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,"
            "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
}

TEST(sigv4, put_object_encodes_the_dollar_in_the_path) {
  auto payload = sha256_hex("Welcome to Amazon S3.");
  EXPECT_EQ(payload, "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072");
  sigv4_request request{"PUT",
                        "/test$file.text",
                        {},
                        {{"Host", std::string{example_host}},
                         {"Date", "Fri, 24 May 2013 00:00:00 GMT"},
                         {"x-amz-date", std::string{example_timestamp}},
                         {"x-amz-storage-class", "REDUCED_REDUNDANCY"},
                         {"x-amz-content-sha256", payload}},
                        payload};
  EXPECT_EQ(canonical_request(request).substr(0, 22), "PUT\n/test%24file.text\n");
  EXPECT_EQ(signed_headers(request),
            "date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class");
  EXPECT_EQ(signature(request, example_credentials(), example_timestamp),
            "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd");
}

TEST(sigv4, get_bucket_lifecycle_has_a_bare_query_key) {
  auto request = example_get("/", {{"lifecycle", ""}});
  EXPECT_EQ(canonical_query_string(request.query), "lifecycle=");
  EXPECT_EQ(signature(request, example_credentials(), example_timestamp),
            "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543");
}

TEST(sigv4, list_objects_sorts_the_query) {
  auto request = example_get("/", {{"prefix", "J"}, {"max-keys", "2"}});
  EXPECT_EQ(canonical_query_string(request.query), "max-keys=2&prefix=J");
  EXPECT_EQ(signature(request, example_credentials(), example_timestamp),
            "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7");
}

// AWS General Reference, "Examples of how to derive a signing key for Signature Version 4".
TEST(sigv4, signing_key_derivation) {
  auto key
    = signing_key("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "20120215", "us-east-1", "iam");
  EXPECT_EQ(to_hex(key.data(), key.size()),
            "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d");
}

TEST(sigv4, query_values_encode_the_slash_and_paths_keep_it) {
  EXPECT_EQ(canonical_query_string({{"prefix", "llama/images/"}, {"list-type", "2"}}),
            "list-type=2&prefix=llama%2Fimages%2F");
  EXPECT_EQ(uri_encode("/bucket/a b+c~d_e.f-g", true), "/bucket/a%20b%2Bc~d_e.f-g");
  EXPECT_EQ(uri_encode("a=b&c", false), "a%3Db%26c");
  EXPECT_EQ(uri_encode("\xc3\xa9", false), "%C3%A9");
  EXPECT_EQ(canonical_query_string({{"continuation-token", "1/+=x"}}),
            "continuation-token=1%2F%2B%3Dx");
}

TEST(sigv4, header_values_are_trimmed_and_folded) {
  sigv4_request request{"GET", "/", {}, {{" X-Amz-Meta-A ", "  a   b  "}, {"Host", "h"}}, "p"};
  EXPECT_EQ(canonical_request(request),
            "GET\n/\n\nhost:h\nx-amz-meta-a:a b\n\nhost;x-amz-meta-a\np");
}

TEST(sigv4, amz_date_is_utc) {
  auto when = std::chrono::system_clock::from_time_t(1369353600); // 2013-05-24 00:00:00 UTC
  EXPECT_EQ(amz_date(when), "20130524T000000Z");
}

TEST(sigv4, file_hash_streams_the_file) {
  testing_support::scratch_dir dir;
  auto path = dir / "payload";
  std::string content(3 << 20, 'x'); // more than one read block
  std::ofstream(path, std::ios::binary) << content;
  EXPECT_EQ(sha256_file_hex(path), sha256_hex(content));
  EXPECT_EQ(sha256_file_hex(dir / "missing"), std::nullopt);
  EXPECT_EQ(sha256_hex(""), empty_payload_sha256);
}

} // namespace
} // namespace llmux::checkpoint
