#pragma once

#include <filesystem>
#include <string>

namespace llmux::testing_support {

/// A fresh directory under the system's temporary directory, removed with everything in it
/// when the object goes away.
class scratch_dir {
public:
  scratch_dir();
  scratch_dir(const scratch_dir&) = delete;
  scratch_dir& operator=(const scratch_dir&) = delete;
  ~scratch_dir();

  const std::filesystem::path& path() const {
    return path_;
  }

  /// `path() / name` as a string.
  std::string operator/(const std::string& name) const {
    return (path_ / name).string();
  }

private:
  std::filesystem::path path_;
};

} // namespace llmux::testing_support
