#include "tools/mock-vllm/text_model.hpp"

#include <array>
#include <cmath>

namespace llmux::tools::mock_vllm {

namespace {

constexpr std::array<std::string_view, 48> vocabulary{
  "the",     "model",  "answers", "with",    "a",       "steady",  "voice",  "and",
  "every",   "word",   "comes",   "from",    "its",     "seed",    "so",     "tests",
  "can",     "tell",   "which",   "engine",  "spoke",   "GPU",     "memory", "sleeps",
  "wakes",   "light",  "river",   "stone",   "quiet",   "signal",  "orbit",  "lantern",
  "harbor",  "copper", "meadow",  "thunder", "pattern", "velvet",  "summit", "ember",
  "compass", "willow", "prism",   "falcon",  "glacier", "horizon", "cipher", "anchor"};

constexpr std::size_t shortest_answer = 8;
constexpr std::size_t longest_answer = 32;

// FNV-1a: stable across platforms and runs, unlike std::hash.
std::uint64_t fnv1a(std::string_view text, std::uint64_t hash = 14695981039346656037ull) {
  for (unsigned char c : text) {
    hash ^= c;
    hash *= 1099511628211ull;
  }
  return hash;
}

// splitmix64: one well-mixed number per step from a 64-bit state.
std::uint64_t next_random(std::uint64_t& state) {
  std::uint64_t z = (state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

std::uint64_t seed_of(std::string_view model, std::string_view prompt, std::uint64_t seed) {
  auto hash = fnv1a(model);
  hash = fnv1a(std::string_view{"\0", 1}, hash);
  hash = fnv1a(prompt, hash);
  return hash ^ (seed * 0x9E3779B97F4A7C15ull);
}

} // namespace

std::string generation::text() const {
  std::string out;
  for (const auto& token : tokens) {
    out += token;
  }
  return out;
}

generation generate(std::string_view model, std::string_view prompt, std::uint64_t seed,
                    std::optional<std::uint64_t> max_tokens, bool weights_valid, bool ignore_eos) {
  generation result;
  result.prompt_tokens = count_tokens(prompt);
  std::uint64_t state = seed_of(model, prompt, seed);
  std::size_t natural = shortest_answer + next_random(state) % (longest_answer - shortest_answer);
  std::size_t length = natural;
  if (max_tokens && (*max_tokens < natural || ignore_eos)) {
    length = *max_tokens;
  }
  result.finish_reason = length < natural || ignore_eos ? "length" : "stop";
  for (std::size_t i = 0; i < length; ++i) {
    auto word = vocabulary[next_random(state) % vocabulary.size()];
    if (!weights_valid) {
      result.tokens.emplace_back("!");
    } else {
      result.tokens.push_back(i == 0 ? std::string{word} : " " + std::string{word});
    }
  }
  return result;
}

std::size_t count_tokens(std::string_view text) {
  std::size_t count = 0;
  bool in_word = false;
  for (char c : text) {
    bool space = c == ' ' || c == '\n' || c == '\t' || c == '\r';
    if (!space && !in_word) {
      ++count;
    }
    in_word = !space;
  }
  return count;
}

std::vector<double> embed(std::string_view model, std::string_view input, std::size_t dimensions) {
  std::uint64_t state = seed_of(model, input, 0);
  std::vector<double> vector(dimensions);
  double norm = 0;
  for (auto& value : vector) {
    value = static_cast<double>(next_random(state) % 2001) / 1000.0 - 1.0;
    norm += value * value;
  }
  norm = std::sqrt(norm);
  for (auto& value : vector) {
    value = norm > 0 ? value / norm : 0;
  }
  return vector;
}

} // namespace llmux::tools::mock_vllm
