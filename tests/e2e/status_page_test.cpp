// The status page on the admin port, in headless Chromium: it shows the scheduler live, and
// its buttons switch models. The screenshot lands in the build tree (README shows one).

#include <fstream>

#include <fmt/format.h>

#include "tests/e2e/browser.hpp"
#include "tests/e2e/daemon.hpp"

namespace llmux::testing_support {
namespace {

class status_page_test : public daemon_test {
protected:
  running_daemon start_with_admin(const std::string& more = {}) {
    auto daemon = start_daemon({{"alpha"}, {"beta"}}, R"("min_active_secs": 0)",
                               fmt::format(R"("admin_port": 0{})", more.empty() ? "" : "," + more));
    admin_port_ = daemon.admin_port;
    EXPECT_NE(admin_port_, 0) << daemon.process->output();
    return daemon;
  }

  std::string page_url() const {
    return fmt::format("http://127.0.0.1:{}/", admin_port_);
  }

  std::uint16_t admin_port_ = 0;
};

constexpr const char* shows_active = "document.querySelector('#active').textContent === '{}'";

TEST_F(status_page_test, shows_a_switch_made_with_its_button_live) {
  auto daemon = start_with_admin();
  ASSERT_EQ(daemon.chat("alpha").status, 200);
  headless_browser browser(page_url(), scratch_ / "chromium");
  ASSERT_TRUE(browser.failure().empty()) << browser.failure();
  ASSERT_TRUE(browser.wait_until(fmt::format(shows_active, "alpha"), 20s)) << browser.failure();
  EXPECT_EQ(browser.evaluate("document.querySelector('#connection').textContent"), R"("live")");
  EXPECT_EQ(browser.evaluate("document.querySelector('tr[data-model=\"alpha\"] .badge')"
                             ".textContent"),
            R"("active")");
  // The page's own Switch button for beta.
  EXPECT_EQ(browser.evaluate("document.querySelector('button[data-switch=\"beta\"]').click(), 1"),
            "1");
  EXPECT_TRUE(browser.wait_until(
    fmt::format(shows_active, "beta")
      + " && [...document.querySelectorAll('.switch-record')].some(r => r.textContent"
        ".includes('alpha → beta'))",
    30s))
    << browser.failure() << browser.evaluate("document.body.innerText");
  simdjson::dom::parser parser;
  EXPECT_EQ(text_at(daemon.status(parser)["active"]), "beta"); // the switch really happened
  EXPECT_TRUE(browser.wait_until(
    "document.querySelector('#message').textContent === 'Switched to model: beta'", 5s));
  auto shot = std::filesystem::path(LLMUX_BUILD_DIR) / "status-page.png";
  ASSERT_TRUE(browser.screenshot(shot)) << browser.failure();
  std::ifstream png(shot, std::ios::binary);
  std::string signature(8, '\0');
  png.read(signature.data(), 8);
  EXPECT_EQ(signature, "\x89PNG\r\n\x1a\n");
  EXPECT_GT(std::filesystem::file_size(shot), 10'000u);
}

TEST_F(status_page_test, asks_for_the_token_and_then_shows_the_state) {
  auto daemon = start_with_admin(R"("admin_token": "page-token")");
  ASSERT_EQ(daemon.chat("beta").status, 200);
  headless_browser browser(page_url(), scratch_ / "chromium");
  ASSERT_TRUE(browser.failure().empty()) << browser.failure();
  // Without the token the page shows nothing but the token form.
  ASSERT_TRUE(
    browser.wait_until("document.querySelector('#auth').classList.contains('shown')", 20s))
    << browser.failure();
  EXPECT_EQ(browser.evaluate("document.querySelector('#active').textContent"), R"("–")");
  browser.evaluate("document.querySelector('#token').value = 'page-token', "
                   "document.querySelector('#token-save').click(), 1");
  EXPECT_TRUE(browser.wait_until(fmt::format(shows_active, "beta"), 20s))
    << browser.failure() << browser.evaluate("document.body.innerText");
  EXPECT_EQ(browser.evaluate("document.querySelector('#auth').classList.contains('shown')"),
            "false");
}

} // namespace
} // namespace llmux::testing_support
