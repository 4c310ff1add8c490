#include "checkpoint/s3_response.hpp"

#include <gtest/gtest.h>

namespace llmux::checkpoint {
namespace {

constexpr std::string_view two_objects_truncated = R"(<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>ckpt</Name>
<Prefix>llama/images/</Prefix><KeyCount>2</KeyCount><MaxKeys>2</MaxKeys>
<IsTruncated>true</IsTruncated><NextContinuationToken>1/a&amp;b=</NextContinuationToken>
<Contents><Key>llama/images/core-4242.img</Key><LastModified>2026-11-30T11:07:06.706Z</LastModified>
<ETag>&quot;d41d8cd98f00b204e9800998ecf8427e&quot;</ETag><Size>20971520</Size>
<StorageClass>STANDARD</StorageClass><Owner><ID>tester</ID><DisplayName>tester</DisplayName></Owner></Contents>
<Contents><Key>llama/images/a&amp;b &lt;c&gt; &#233;&#x263A;.img</Key><Size>0</Size></Contents>
</ListBucketResult>)";

TEST(s3_listing, reads_keys_sizes_and_the_continuation_token) {
  auto page = parse_listing(two_objects_truncated);
  ASSERT_TRUE(page);
  ASSERT_EQ(page->objects.size(), 2U);
  EXPECT_EQ(page->objects[0], (object_entry{"llama/images/core-4242.img", 20971520}));
  EXPECT_EQ(page->objects[1].key, "llama/images/a&b <c> \xc3\xa9\xe2\x98\xba.img");
  EXPECT_EQ(page->objects[1].size, 0U);
  EXPECT_TRUE(page->truncated);
  EXPECT_EQ(page->next_token, "1/a&b=");
}

TEST(s3_listing, an_empty_last_page) {
  auto page = parse_listing(R"(<ListBucketResult><Name>b</Name><Prefix>x/</Prefix>
    <KeyCount>0</KeyCount><IsTruncated>false</IsTruncated></ListBucketResult>)");
  ASSERT_TRUE(page);
  EXPECT_TRUE(page->objects.empty());
  EXPECT_FALSE(page->truncated);
}

TEST(s3_listing, rejects_what_is_not_a_listing) {
  EXPECT_FALSE(parse_listing(""));
  EXPECT_FALSE(parse_listing("<Error><Code>NoSuchBucket</Code></Error>"));
  // A size that is not a number, a missing size, an unterminated element, a bad entity.
  EXPECT_FALSE(parse_listing("<ListBucketResult><Contents><Key>k</Key><Size>-1</Size></Contents>"
                             "</ListBucketResult>"));
  EXPECT_FALSE(parse_listing("<ListBucketResult><Contents><Key>k</Key></Contents>"
                             "</ListBucketResult>"));
  EXPECT_FALSE(parse_listing("<ListBucketResult><Contents><Key>k</Key><Size>1</Size>"));
  EXPECT_FALSE(parse_listing("<ListBucketResult><Contents><Key>a&nbsp;</Key><Size>1</Size>"
                             "</Contents></ListBucketResult>"));
  // Truncated without a token would never end.
  EXPECT_FALSE(parse_listing("<ListBucketResult><IsTruncated>true</IsTruncated>"
                             "</ListBucketResult>"));
}

TEST(s3_listing, key_count_is_not_key) {
  auto page = parse_listing("<ListBucketResult><Contents><KeyCount>9</KeyCount><Key>k</Key>"
                            "<Size>1</Size></Contents></ListBucketResult>");
  ASSERT_TRUE(page);
  EXPECT_EQ(page->objects.at(0).key, "k");
}

TEST(s3_xml, decodes_entities) {
  EXPECT_EQ(xml_decode("a&amp;b&lt;&gt;&quot;&apos;&#65;&#x42;"), "a&b<>\"'AB");
  EXPECT_EQ(xml_decode("plain"), "plain");
  EXPECT_FALSE(xml_decode("&amp"));
  EXPECT_FALSE(xml_decode("&#;"));
  EXPECT_FALSE(xml_decode("&#xZZ;"));
  EXPECT_FALSE(xml_decode("&#0;"));
}

TEST(s3_error, reads_code_and_message) {
  auto body = parse_error_body(
    R"(<?xml version="1.0" encoding="UTF-8"?><Error><Code>SignatureDoesNotMatch</Code>)"
    R"(<Message>The request signature &amp; more</Message><RequestId>tx1</RequestId></Error>)");
  EXPECT_EQ(body.code, "SignatureDoesNotMatch");
  EXPECT_EQ(body.message, "The request signature & more");
  EXPECT_EQ(parse_error_body("").code, "");
  EXPECT_EQ(parse_error_body("<html>bad gateway</html>").code, "");
}

request_context context(std::string operation, std::string key) {
  return {"http://127.0.0.1:7480", "ckpt", std::move(operation), std::move(key)};
}

TEST(s3_error, texts_name_the_cause_and_the_fix) {
  EXPECT_EQ(
    describe_http_failure(context("LIST", "llama/images/"), 403, {"SignatureDoesNotMatch", ""}),
    "object store http://127.0.0.1:7480 refused the credentials (403 "
    "SignatureDoesNotMatch); check checkpoint.object_store.access_key and secret_key");
  EXPECT_EQ(describe_http_failure(context("GET", "k"), 403, {"InvalidAccessKeyId", "x"}),
            "object store http://127.0.0.1:7480 refused the credentials (403 "
            "InvalidAccessKeyId); check checkpoint.object_store.access_key and secret_key");
  EXPECT_EQ(describe_http_failure(context("LIST", "p/"), 404, {"NoSuchBucket", ""}),
            "bucket 'ckpt' does not exist at object store http://127.0.0.1:7480 (404 "
            "NoSuchBucket)");
  EXPECT_EQ(describe_http_failure(context("GET", "p/core.img"), 404, {"NoSuchKey", ""}),
            "object s3://ckpt/p/core.img does not exist (404 NoSuchKey)");
  EXPECT_EQ(describe_http_failure(context("PUT", "p/a"), 403, {"AccessDenied", ""}),
            "object store http://127.0.0.1:7480 denied PUT s3://ckpt/p/a (403 AccessDenied); "
            "check the user's permissions on bucket 'ckpt'");
  EXPECT_EQ(describe_http_failure(context("PUT", "p/a"), 503, {"SlowDown", "Please reduce"}),
            "object store http://127.0.0.1:7480: PUT s3://ckpt/p/a failed (503 SlowDown): Please "
            "reduce");
  EXPECT_EQ(describe_http_failure(context("PUT", ""), 502, {}),
            "object store http://127.0.0.1:7480: PUT s3://ckpt failed (HTTP 502)");
  EXPECT_EQ(describe_transport_failure({"http://127.0.0.1:1", "ckpt", "LIST", "p/"},
                                       transport_failure::unreachable,
                                       "Couldn't connect to server"),
            "object store http://127.0.0.1:1 unreachable: Couldn't connect to server");
  EXPECT_EQ(describe_transport_failure(context("GET", "p/a"), transport_failure::timed_out,
                                       "Timeout was reached"),
            "object store http://127.0.0.1:7480: GET s3://ckpt/p/a did not finish before the "
            "deadline (Timeout was reached)");
}

TEST(s3_error, redact_removes_every_copy_of_the_secret) {
  EXPECT_EQ(redact("a SECRET b SECRETSECRET", "SECRET"), "a *** b ******");
  EXPECT_EQ(redact("nothing", ""), "nothing");
}

TEST(s3_keys, prefixes_are_normalised) {
  EXPECT_EQ(normalize_prefix("llama/images"), "llama/images/");
  EXPECT_EQ(normalize_prefix("/llama/images/"), "llama/images/");
  EXPECT_EQ(normalize_prefix("m"), "m/");
  EXPECT_FALSE(normalize_prefix(""));
  EXPECT_FALSE(normalize_prefix("//"));
  EXPECT_FALSE(normalize_prefix("a//b"));
  EXPECT_FALSE(normalize_prefix("a/../b"));
  EXPECT_FALSE(normalize_prefix("./a"));
}

TEST(s3_keys, file_names_are_one_plain_segment) {
  EXPECT_EQ(file_name_for_key("llama/images/core-4242.img", "llama/images/"), "core-4242.img");
  EXPECT_FALSE(file_name_for_key("llama/images/rootfs/x", "llama/images/"));
  EXPECT_FALSE(file_name_for_key("llama/images/", "llama/images/"));
  EXPECT_FALSE(file_name_for_key("llama/images/..", "llama/images/"));
  EXPECT_FALSE(file_name_for_key("other/images/a", "llama/images/"));
}

} // namespace
} // namespace llmux::checkpoint
