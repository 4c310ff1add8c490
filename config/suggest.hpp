#pragma once

#include <optional>
#include <span>
#include <string_view>

namespace llmux::config {

/// The candidate closest to a misspelt `word` by edit distance, when it is close enough to be
/// a plausible typo (at most a third of the word's length, and at least one edit allowed).
std::optional<std::string_view> closest_match(std::string_view word,
                                              std::span<const std::string_view> candidates);

} // namespace llmux::config
