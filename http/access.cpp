#include "http/access.hpp"

#include <utility>

namespace llmux::http {

std::vector<std::string> key_list(std::string_view comma_separated) {
  std::vector<std::string> keys;
  auto rest = comma_separated;
  while (!rest.empty()) {
    auto comma = rest.find(',');
    auto key = rest.substr(0, comma);
    auto first = key.find_first_not_of(' ');
    auto last = key.find_last_not_of(' ');
    if (first != std::string_view::npos) {
      keys.emplace_back(key.substr(first, last - first + 1));
    }
    rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
  }
  return keys;
}

access_keys::access_keys(std::vector<std::string> global,
                         std::unordered_map<std::string, std::vector<std::string>> per_model)
  : global_(std::move(global)) {
  for (auto& [name, keys] : per_model) {
    if (!keys.empty()) {
      per_model_.emplace(name, std::move(keys));
    }
  }
}

// Asked of every proxied request: with no key configured it costs two size checks.
bool access_keys::required(std::string_view model) const {
  if (!global_.empty()) {
    return true;
  }
  if (per_model_.empty()) {
    return false;
  }
  return model.empty() || per_model_.find(model) != per_model_.end();
}

bool access_keys::any_matches(std::string_view presented, const std::vector<std::string>& keys) {
  bool matched = false;
  for (const auto& key : keys) {
    matched |= same_secret(presented, key); // no early exit: time does not tell which matched
  }
  return matched;
}

bool access_keys::opens(std::string_view presented, std::string_view model) const {
  if (presented.empty()) {
    return false;
  }
  bool matched = any_matches(presented, global_);
  if (model.empty()) {
    for (const auto& [name, keys] : per_model_) {
      matched |= any_matches(presented, keys);
    }
    return matched;
  }
  auto found = per_model_.find(model);
  if (found != per_model_.end()) {
    matched |= any_matches(presented, found->second);
  }
  return matched;
}

std::string_view access_keys::presented(std::string_view authorization,
                                        std::string_view x_api_key) {
  constexpr std::string_view bearer = "Bearer ";
  if (authorization.size() > bearer.size()) {
    auto scheme = authorization.substr(0, bearer.size());
    bool is_bearer = true;
    for (std::size_t i = 0; i < bearer.size(); ++i) {
      is_bearer = is_bearer && (scheme[i] | 0x20) == (bearer[i] | 0x20);
    }
    if (is_bearer) {
      return authorization.substr(bearer.size());
    }
  }
  return x_api_key;
}

} // namespace llmux::http
