#pragma once

#include <string_view>

#include "config/config.hpp"
#include "config/diagnostics.hpp"

namespace llmux::config {

/// A configuration together with everything found wrong or doubtful while reading it.
struct load_result {
  config cfg;
  diagnostics findings;
  /// False when the text was not a JSON object at all, so nothing in `cfg` came from it.
  bool document_read = false;

  /// True when nothing was found that stops llmux from starting.
  bool ok() const {
    return !findings.has_errors();
  }
};

/// Reads a JSON configuration in the reference's schema (seed-config.rs), filling in defaults.
/// Checks syntax (with line and column), types, required fields and enumerations, and warns
/// about unknown keys with the closest known one. Every problem is reported, not just the first;
/// cross-field rules are `validate_config`'s job.
load_result parse_config(std::string_view json_text);

} // namespace llmux::config
