#pragma once

// The status page: one self-contained HTML file (http/status_page.html, no build step, no
// CDN), compiled into the binary.

#include <string_view>

namespace llmux::http {

std::string_view status_page_html();

} // namespace llmux::http
