#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace llmux::tools::mock_vllm {

/// One generated answer, token by token.
struct generation {
  std::vector<std::string> tokens;
  /// `stop` when the answer ended by itself, `length` when `max_tokens` cut it.
  std::string finish_reason;
  std::size_t prompt_tokens = 0;

  std::string text() const;
};

/// A deterministic stand-in for a language model: the answer is a function of the served model
/// name, the prompt, the seed and `max_tokens` only, so a test can tell which model answered and
/// that an answer after a wake equals the one before the sleep. With invalid weights (after a
/// level-2 wake without `reload_weights`) every token is `!`, as real vLLM's output turns to
/// garbage.
/// With `ignore_eos` the answer runs to exactly `max_tokens`.
generation generate(std::string_view model, std::string_view prompt, std::uint64_t seed,
                    std::optional<std::uint64_t> max_tokens, bool weights_valid,
                    bool ignore_eos = false);

/// Whitespace-separated words: the mock's token count for prompts.
std::size_t count_tokens(std::string_view text);

/// A deterministic unit-length embedding of `input` for `model`.
std::vector<double> embed(std::string_view model, std::string_view input, std::size_t dimensions);

} // namespace llmux::tools::mock_vllm
