#pragma once

// Proxy access keys: which presented key opens which model. Pure logic, unit-tested; the
// server asks it before anything else about a request.

#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "config/secret.hpp"

namespace llmux::http {

using config::same_secret;

/// The keys of a comma-separated list (`LLMUX_API_KEYS`), spaces around each removed, empty
/// entries skipped.
std::vector<std::string> key_list(std::string_view comma_separated);

class access_keys {
public:
  access_keys() = default;

  /// `global` open every model; `per_model` open their model only.
  access_keys(std::vector<std::string> global,
              std::unordered_map<std::string, std::vector<std::string>> per_model);

  /// Whether a request for `model` needs a key: some key opens it. For no model (the model
  /// list, the status), whether any key is configured.
  bool required(std::string_view model) const;

  /// Whether `presented` opens `model` (for no model: whether it is any configured key).
  bool opens(std::string_view presented, std::string_view model) const;

  /// The key a request presents: `Authorization: Bearer KEY`, else `X-Api-Key: KEY` (as
  /// Anthropic's clients send it); empty when none.
  static std::string_view presented(std::string_view authorization, std::string_view x_api_key);

private:
  static bool any_matches(std::string_view presented, const std::vector<std::string>& keys);

  /// Lets the per-request lookups take the model's name as a view (no string is made).
  struct name_hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view name) const {
      return std::hash<std::string_view>{}(name);
    }
  };

  std::vector<std::string> global_;
  /// Only the models that have keys of their own.
  std::unordered_map<std::string, std::vector<std::string>, name_hash, std::equal_to<>> per_model_;
};

} // namespace llmux::http
