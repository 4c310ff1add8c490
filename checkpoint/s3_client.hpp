#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "checkpoint/s3_response.hpp"
#include "config/config.hpp"

namespace llmux::checkpoint {

namespace detail {
struct s3_exchange;
} // namespace detail

/// The time by which a whole object store operation has to be over.
using deadline = std::chrono::steady_clock::time_point;

/// The outcome of one object request.
struct request_result {
  bool ok = false;
  /// What went wrong, for a person (never holds a credential); empty when `ok`.
  std::string error;
  /// The bytes of the object sent or received.
  std::uint64_t bytes = 0;
  /// For a PUT: the hex SHA-256 of what was sent (it is signed with the request).
  std::string sha256;
};

/// The outcome of a listing (all pages).
struct listing_result {
  bool ok = false;
  std::string error;
  std::vector<object_entry> objects;
};

/// How often and how patiently a request is tried again. Only connection failures and 5xx
/// answers are tried again, never a 4xx.
struct retry_policy {
  int attempts = 3;
  /// The wait before the second attempt; it doubles for each further one.
  std::chrono::milliseconds first_backoff{500};
};

/// Watches one transfer: `on_bytes` hears the bytes moved so far by the current attempt, and a
/// set `cancel` flag stops the transfer (and its retries) soon.
struct transfer_hooks {
  std::function<void(std::uint64_t)> on_bytes;
  const std::atomic<bool>* cancel = nullptr;
};

/// One connection to an S3-compatible store: a libcurl easy handle (kept alive between
/// requests) that sends path-style requests (`<endpoint>/<bucket>/<key>`) signed with SigV4,
/// the payload's SHA-256 in `x-amz-content-sha256`. Bodies stream from and to files. Not
/// thread-safe: use one client per thread.
class s3_client {
public:
  explicit s3_client(config::object_store_config config, retry_policy retry = {});
  s3_client(const s3_client&) = delete;
  s3_client& operator=(const s3_client&) = delete;
  ~s3_client();

  /// Every object whose key starts with `prefix` (ListObjectsV2, following continuation tokens,
  /// `page_size` keys a page).
  listing_result list_objects(std::string_view prefix, deadline until, unsigned page_size = 1000);

  /// Uploads `file` as `key`, streamed from disk.
  request_result put_object(std::string_view key, const std::filesystem::path& file, deadline until,
                            const transfer_hooks& hooks = {});

  /// Downloads `key` into `file` (created or truncated), streamed to disk.
  request_result get_object(std::string_view key, const std::filesystem::path& file, deadline until,
                            const transfer_hooks& hooks = {});

  /// Deletes `key` (S3 answers success for a key that is not there).
  request_result delete_object(std::string_view key, deadline until);

  /// Creates the bucket (for test set-ups and first runs).
  request_result create_bucket(deadline until);

private:
  // Sends `request` with retries; fills in the result's `ok` and `error`.
  request_result perform(detail::s3_exchange& request, deadline until);
  // One attempt; true when a failure is worth another attempt.
  bool attempt(detail::s3_exchange& request, deadline until, request_result& result);
  // The request's context for error texts.
  request_context context(const detail::s3_exchange& request) const;

  config::object_store_config config_;
  retry_policy retry_;
  // The endpoint split up: `http://host:port`, the Host header and a path prefix.
  std::string origin_;
  std::string host_;
  std::string base_path_;
  std::string endpoint_error_;
  void* curl_ = nullptr;
};

} // namespace llmux::checkpoint
