#pragma once

// The manifest of a checkpoint in the object store. Each upload puts its files under a new
// generation, `<prefix><generation>/<file>`, and then replaces the manifest, which names the
// generation and what every file must be (size and SHA-256): a download follows the manifest,
// so an upload that fails midway leaves the previous checkpoint whole, and nothing unverified
// is restored.

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

/// One checkpoint: the generation its files were uploaded under, and the files.
struct checkpoint_manifest {
  std::string generation;
  std::vector<manifest_entry> files;

  friend bool operator==(const checkpoint_manifest&, const checkpoint_manifest&) = default;
};

/// `{"generation":...,"files":[{"name":...,"size":...,"sha256":...},...]}`.
std::string write_manifest(const checkpoint_manifest& manifest);

/// The manifest, or what is wrong with it (not JSON, a field missing, a generation or file
/// name that is not a plain name).
config::parsed<checkpoint_manifest> read_manifest(std::string_view json);

} // namespace llmux::checkpoint
