#pragma once

// Comparing secrets (access keys, the admin token, the cluster secret) without telling an
// attacker by the time taken how much of a guess was right.

#include <string_view>

namespace llmux::config {

/// Whether `given` equals `secret`, in time that depends only on their lengths (an empty
/// secret matches nothing).
bool same_secret(std::string_view given, std::string_view secret);

} // namespace llmux::config
