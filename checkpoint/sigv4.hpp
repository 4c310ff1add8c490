#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace llmux::checkpoint {

/// AWS Signature Version 4, as S3 checks it: pure functions with the time passed in, so the
/// published AWS examples are the tests.

/// The hex SHA-256 of an empty payload (every GET, DELETE and list request).
inline constexpr std::string_view empty_payload_sha256
  = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// A SHA-256 or HMAC-SHA256 digest.
using sha256_digest = std::array<std::uint8_t, 32>;

/// Lowercase hex of `bytes`.
std::string to_hex(const std::uint8_t* bytes, std::size_t size);

/// Lowercase hex SHA-256 of `data`.
std::string sha256_hex(std::string_view data);

/// Lowercase hex SHA-256 of a file's content, read in blocks (files of any size); nullopt when
/// the file cannot be read.
std::optional<std::string> sha256_file_hex(const std::filesystem::path& file);

/// HMAC-SHA256 of `data` under `key`.
sha256_digest hmac_sha256(std::string_view key, std::string_view data);

/// Percent-encodes `text` the way SigV4 wants it: unreserved characters (`A-Z a-z 0-9 - . _ ~`)
/// stay, every other byte becomes `%XX` (uppercase hex). `/` stays only when `keep_slash`
/// (object paths), never in query keys and values.
std::string uri_encode(std::string_view text, bool keep_slash);

/// Query parameters, unencoded (`{"prefix", "a/b"}`); `{"lifecycle", ""}` for a bare `?lifecycle`.
using query_parameters = std::vector<std::pair<std::string, std::string>>;

/// The canonical query string: each key and value encoded, sorted by encoded key (then value),
/// joined as `k=v&k=v`. The same text serves as the query string of the request's URL.
std::string canonical_query_string(const query_parameters& query);

/// One HTTP request to sign; every header in `headers` is signed (include `host`).
struct sigv4_request {
  /// `GET`, `PUT`, `DELETE`, ...
  std::string method;
  /// The path, unencoded (`/bucket/key with spaces`); encoded once, `/` kept.
  std::string path;
  query_parameters query;
  /// Header names in any case and values as sent; they are lowercased, trimmed and sorted.
  std::vector<std::pair<std::string, std::string>> headers;
  /// The hex SHA-256 of the body (`empty_payload_sha256`, or `UNSIGNED-PAYLOAD`).
  std::string payload_sha256;
};

/// Who signs, and for which scope.
struct sigv4_credentials {
  std::string access_key;
  std::string secret_key;
  std::string region;
  std::string service{"s3"};
};

/// The timestamp format of `x-amz-date` (`20130524T000000Z`), in UTC.
std::string amz_date(std::chrono::system_clock::time_point when);

/// The canonical request (method, path, query, headers, signed headers, payload hash).
std::string canonical_request(const sigv4_request& request);

/// The `host;range;x-amz-date` list of the signed header names.
std::string signed_headers(const sigv4_request& request);

/// The credential scope `20130524/us-east-1/s3/aws4_request` for an `x-amz-date` timestamp.
std::string credential_scope(std::string_view amz_timestamp, const sigv4_credentials& credentials);

/// The string to sign: algorithm, timestamp, scope and the hash of the canonical request.
std::string string_to_sign(std::string_view amz_timestamp, std::string_view scope,
                           std::string_view canonical);

/// The signing key: HMAC chain over `AWS4<secret>`, date (`YYYYMMDD`), region, service and
/// `aws4_request`.
sha256_digest signing_key(std::string_view secret_key, std::string_view date,
                          std::string_view region, std::string_view service);

/// The hex signature of `request` at `amz_timestamp`.
std::string signature(const sigv4_request& request, const sigv4_credentials& credentials,
                      std::string_view amz_timestamp);

/// The whole `Authorization` header value (`AWS4-HMAC-SHA256 Credential=..., Signature=...`).
/// It holds no secret, but it is a credential for the request: never log it.
std::string authorization_header(const sigv4_request& request, const sigv4_credentials& credentials,
                                 std::string_view amz_timestamp);

} // namespace llmux::checkpoint
