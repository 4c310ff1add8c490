#pragma once

#include <string>
#include <string_view>

#include <gtest/gtest.h>

#include "config/diagnostics.hpp"

namespace llmux::config::testing_support {

/// Every finding of one load as `severity path: message` lines, for failure messages.
inline std::string describe(const diagnostics& findings) {
  std::string out;
  for (const auto& item : findings.items()) {
    out += format_diagnostic(item) + "\n";
  }
  return out;
}

/// True when some finding of `level` sits at `path` and its message contains `fragment`.
inline bool has_finding(const diagnostics& findings, severity level, std::string_view path,
                        std::string_view fragment) {
  for (const auto& item : findings.items()) {
    if (item.level == level && item.path == path
        && item.message.find(fragment) != std::string::npos) {
      return true;
    }
  }
  return false;
}

} // namespace llmux::config::testing_support

#define EXPECT_FINDING(findings, level, path, fragment)                                            \
  EXPECT_TRUE(::llmux::config::testing_support::has_finding(findings, level, path, fragment))      \
    << "expected " #level " at " << (path) << " containing \"" << (fragment) << "\", got:\n"       \
    << ::llmux::config::testing_support::describe(findings)
