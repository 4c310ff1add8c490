#include "tests/support/scratch_dir.hpp"

#include <cstdlib>
#include <stdexcept>

namespace llmux::testing_support {

scratch_dir::scratch_dir() {
  auto pattern = (std::filesystem::temp_directory_path() / "llmux-test-XXXXXX").string();
  if (::mkdtemp(pattern.data()) == nullptr) {
    throw std::runtime_error("mkdtemp failed");
  }
  path_ = pattern;
}

scratch_dir::~scratch_dir() {
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

} // namespace llmux::testing_support
