#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace llmux::checkpoint {

/// The pure side of the S3 client: reading S3's XML answers, naming objects, and turning
/// failures into text a user can act on. No I/O, so all of it is unit-tested.

/// One object of a listing.
struct object_entry {
  std::string key;
  std::uint64_t size = 0;

  friend bool operator==(const object_entry&, const object_entry&) = default;
};

/// One page of a ListObjectsV2 answer.
struct listing_page {
  std::vector<object_entry> objects;
  bool truncated = false;
  /// The `continuation-token` of the next page (set when `truncated`).
  std::string next_token;
};

/// Reads a `ListBucketResult` (Contents/Key, Contents/Size, IsTruncated,
/// NextContinuationToken), entity-decoding the text; nullopt when the XML is not one.
std::optional<listing_page> parse_listing(std::string_view xml);

/// The `Code` and `Message` of an S3 `<Error>` body (both empty when the body is not one).
struct s3_error_body {
  std::string code;
  std::string message;
};

/// Reads an S3 error body; tolerant of an empty or non-XML body.
s3_error_body parse_error_body(std::string_view xml);

/// Decodes the five XML entities and numeric character references (`&#38;`, `&#x26;`);
/// nullopt on an unknown or unterminated reference.
std::optional<std::string> xml_decode(std::string_view text);

/// `llama/images` (with or without slashes around it) as the key prefix `llama/images/`; nullopt
/// when it names no folder (empty, only slashes, or with an empty, `.` or `..` segment).
std::optional<std::string> normalize_prefix(std::string_view prefix);

/// The file name an object under `prefix` (normalised) is stored as: the key minus the prefix,
/// when that is one plain file name (no `/`, not `.` or `..`); nullopt otherwise.
std::optional<std::string> file_name_for_key(std::string_view key, std::string_view prefix);

/// Where a request went, for error texts. No credential is ever part of it.
struct request_context {
  std::string endpoint;
  std::string bucket;
  /// `GET`, `PUT`, `DELETE`, `LIST`.
  std::string operation;
  /// The object key (or the listed prefix); empty for the bucket itself.
  std::string key;
};

/// The text for an HTTP error answer, e.g. `object store http://127.0.0.1:7480 refused the
/// credentials (403 SignatureDoesNotMatch); check checkpoint.object_store.access_key and
/// secret_key`.
std::string describe_http_failure(const request_context& context, long status,
                                  const s3_error_body& body);

/// How a request failed below HTTP.
enum class transport_failure {
  /// No connection (refused, no route, DNS).
  unreachable,
  /// The deadline passed.
  timed_out,
  /// Anything else (reset, TLS, a local file).
  other,
};

/// The text for a failure below HTTP, e.g. `object store http://127.0.0.1:1 unreachable:
/// Couldn't connect to server`.
std::string describe_transport_failure(const request_context& context, transport_failure kind,
                                       std::string_view detail);

/// `text` with every occurrence of `secret` replaced by `***` (a last guard before a text leaves
/// the object store).
std::string redact(std::string text, std::string_view secret);

} // namespace llmux::checkpoint
