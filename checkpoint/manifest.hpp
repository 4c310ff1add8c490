#pragma once

// The manifest of a checkpoint in the object store: uploaded last, so a checkpoint without one
// is incomplete (an upload that failed midway), and it says what every file must be (size and
// SHA-256) before a restore may use the downloaded images.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "config/parsed.hpp"

namespace llmux::checkpoint {

/// One file of a checkpoint.
struct manifest_entry {
  std::string name;
  std::uint64_t size = 0;
  /// Lowercase hex SHA-256 of the contents.
  std::string sha256;

  friend bool operator==(const manifest_entry&, const manifest_entry&) = default;
};

/// The manifest's object name under a checkpoint's prefix (CRIU names its images `*.img`).
inline constexpr std::string_view manifest_name = "llmux-manifest.json";

/// `{"files":[{"name":...,"size":...,"sha256":...},...]}`.
std::string write_manifest(const std::vector<manifest_entry>& files);

/// The files a manifest lists, or what is wrong with it (not JSON, a field missing, a name
/// that is not a plain file name).
config::parsed<std::vector<manifest_entry>> read_manifest(std::string_view json);

} // namespace llmux::checkpoint
