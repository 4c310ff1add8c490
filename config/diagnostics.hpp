#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace llmux::config {

/// How much a diagnostic matters: errors stop llmux from starting, the rest do not.
enum class severity { error, warning, note };

/// One finding about a configuration, tied to where it sits in the JSON document.
struct diagnostic {
  severity level = severity::error;
  /// Where the problem is, e.g. `models.llama.port`; the file position for syntax errors.
  std::string path;
  std::string message;
};

/// Every finding of one load, in the order they were made.
class diagnostics {
public:
  void error(std::string path, std::string message);
  void warning(std::string path, std::string message);
  void note(std::string path, std::string message);

  bool has_errors() const;

  const std::vector<diagnostic>& items() const {
    return items_;
  }

private:
  std::vector<diagnostic> items_;
};

/// The path of member `key` inside the object at `parent`: `models.llama`, or `models["org/x"]`
/// when the key holds characters that would make a dotted path ambiguous.
std::string member_path(const std::string& parent, std::string_view key);

/// `error: models.llama.port: expected an integer, found string`.
std::string format_diagnostic(const diagnostic& item);

} // namespace llmux::config
