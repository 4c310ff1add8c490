#pragma once

// Headless Chromium (Debian's `chromium`) driven over the DevTools protocol, so that tests
// check pages as a browser runs them: scripts, fetch streams, clicks, screenshots.

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>

namespace llmux::testing_support {

class headless_browser {
public:
  /// Starts Chromium on `url`, its profile under `profile`; `failure()` says if that failed.
  headless_browser(const std::string& url, const std::filesystem::path& profile);
  ~headless_browser();
  headless_browser(const headless_browser&) = delete;
  headless_browser& operator=(const headless_browser&) = delete;

  /// Runs `expression` in the page; its value as JSON text, or empty (see `failure()`).
  std::string evaluate(const std::string& expression);

  /// Evaluates `expression` every 100 ms until it is true or `bound` passes; whether it was.
  bool wait_until(const std::string& expression, std::chrono::milliseconds bound);

  /// Saves the page as a PNG; whether it worked.
  bool screenshot(const std::filesystem::path& file);

  /// What went wrong last, with the browser's output.
  const std::string& failure() const {
    return failure_;
  }

private:
  struct connection;
  /// Sends one DevTools command and returns its `result` as JSON text (empty on failure).
  std::string command(const std::string& method, const std::string& params);

  std::unique_ptr<connection> connection_;
  std::string failure_;
};

} // namespace llmux::testing_support
