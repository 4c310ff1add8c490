#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>

#include "checkpoint/s3_client.hpp"
#include "config/config.hpp"

namespace llmux::checkpoint {

/// What a directory transfer is doing.
enum class transfer_phase {
  /// Listing the objects under the prefix.
  listing,
  /// Deleting objects the upload will not overwrite.
  cleaning,
  uploading,
  downloading,
  /// Checking the downloaded sizes against the listing.
  verifying,
};

/// `listing`, `cleaning`, ... (for a progress line).
std::string_view to_string(transfer_phase phase);

/// Where a directory transfer stands, for a progress line. Bytes count the files' content only.
struct transfer_progress {
  transfer_phase phase = transfer_phase::listing;
  std::size_t files_done = 0;
  std::size_t files_total = 0;
  std::uint64_t bytes_done = 0;
  std::uint64_t bytes_total = 0;
};

/// Hears progress: called from the transfer's worker threads, one call at a time, at least at
/// every phase change and finished file, and at most every 100 ms in between.
using progress_callback = std::function<void(const transfer_progress&)>;

/// The outcome of a directory transfer.
struct transfer_result {
  bool ok = false;
  /// What went wrong, for a person: names the endpoint, bucket or file, never a credential.
  std::string error;
  /// Files (and their bytes) uploaded or downloaded.
  std::size_t files = 0;
  std::uint64_t bytes = 0;
};

/// How much a directory transfer does at once.
struct transfer_limits {
  /// Files above `large_file_bytes` go `large_file_workers` at a time, smaller ones
  /// `small_file_workers` at a time; downloads and deletions `download_workers` at a time.
  std::uint64_t large_file_bytes = 1 << 20;
  unsigned large_file_workers = 4;
  unsigned small_file_workers = 16;
  unsigned download_workers = 8;
  /// Keys a listing page asks for (S3's maximum is 1000).
  unsigned list_page_size = 1000;
  retry_policy retry;
};

/// The object store that keeps checkpoint images: a folder of files (CRIU's images directory)
/// as the objects under one key prefix, `s3://<bucket>/<prefix>/<file name>`. Each call opens
/// its own connections, so one `object_store` serves several threads.
class object_store {
public:
  explicit object_store(config::object_store_config config, transfer_limits limits = {});

  /// Uploads every regular file directly inside `dir` (not its subfolders) as a new
  /// generation under `prefix`, then replaces the manifest (manifest.hpp) with one naming it,
  /// then deletes everything else under `prefix` (earlier generations, failed uploads). Until
  /// the manifest is replaced the previous checkpoint stays whole: a failed upload costs
  /// nothing but its stray objects. `stop`, once set, cancels the transfer.
  transfer_result upload_directory(const std::filesystem::path& dir, std::string_view prefix,
                                   deadline until, const progress_callback& progress = {},
                                   const std::atomic<bool>* stop = nullptr) const;

  /// Downloads the files of the generation the manifest under `prefix` names into `dir`, which
  /// must be missing or empty: into a temporary sibling first, each file's size and SHA-256
  /// checked against the manifest, then renamed into place, so a failure never leaves a partial
  /// `dir`. A prefix without a manifest holds no checkpoint. `stop`, once set, cancels it.
  transfer_result download_directory(std::string_view prefix, const std::filesystem::path& dir,
                                     deadline until, const progress_callback& progress = {},
                                     const std::atomic<bool>* stop = nullptr) const;

  /// `s3://<bucket>/<prefix>/` (for messages).
  std::string location(std::string_view prefix) const;

  const config::object_store_config& config() const {
    return config_;
  }

private:
  config::object_store_config config_;
  transfer_limits limits_;
};

} // namespace llmux::checkpoint
