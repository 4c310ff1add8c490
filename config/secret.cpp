#include "config/secret.hpp"

#include <cstddef>

namespace llmux::config {

bool same_secret(std::string_view given, std::string_view secret) {
  // Every byte of `given` is compared (against the secret, cycled), whatever matched before.
  unsigned char differences = given.size() == secret.size() ? 0 : 1;
  for (std::size_t i = 0; i < given.size(); ++i) {
    auto expected = secret.empty() ? '\0' : secret[i % secret.size()];
    differences |= static_cast<unsigned char>(given[i] ^ expected);
  }
  return differences == 0 && !secret.empty();
}

} // namespace llmux::config
