#pragma once

#include <functional>
#include <string>
#include <string_view>

#include "config/config.hpp"
#include "config/diagnostics.hpp"

namespace llmux::config {

/// Answers whether a file or directory exists; a seam so tests need no real files.
using path_probe = std::function<bool(const std::string& path)>;

/// Checks the rules that span several fields of a parsed configuration: port collisions,
/// checkpoint prerequisites (spec §1.8), tensor-parallel flags, object-store settings and values
/// that would make llmux misbehave. Findings are appended to `out`.
void validate_config(const config& cfg, const path_probe& path_exists, diagnostics& out);

/// Where `model` (or its `field`) sits in the document: `models.llama.port`.
std::string model_path_of(const model_config& model, std::string_view field = {});

} // namespace llmux::config
