#pragma once

#include <string>

#include "config/config.hpp"

namespace llmux::config {

/// The effective configuration as JSON in the reference's schema, every default filled in and
/// each model's resolved eviction written out. The object store's secret key is shown as
/// `"********"`, so the output can be pasted into a ticket; the text parses back to the same
/// configuration apart from that secret.
std::string to_json(const config& cfg);

} // namespace llmux::config
