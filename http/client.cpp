#include "http/client.hpp"

#include <curl/curl.h>
#include <fmt/format.h>

namespace llmux::http {

namespace {

std::size_t append_body(char* data, std::size_t size, std::size_t count, void* user) {
  static_cast<std::string*>(user)->append(data, size * count);
  return size * count;
}

// libcurl wants curl_global_init once per process before any handle exists.
void init_curl_once() {
  static const bool initialised = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK;
  (void)initialised;
}

} // namespace

http_result http_request(std::string_view method, const std::string& url, const std::string& body,
                         const std::vector<std::string>& headers,
                         std::chrono::milliseconds timeout) {
  init_curl_once();
  http_result result;
  CURL* curl = curl_easy_init();
  if (curl == nullptr) {
    result.failure = "curl_easy_init failed";
    return result;
  }
  std::string verb{method};
  curl_slist* header_list = nullptr;
  bool has_type = false;
  for (const auto& header : headers) {
    header_list = curl_slist_append(header_list, header.c_str());
    has_type = has_type || header.starts_with("Content-Type:");
  }
  if (!body.empty() && !has_type) {
    header_list = curl_slist_append(header_list, "Content-Type: application/json");
  }
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, verb.c_str());
  if (!body.empty() || verb == "POST" || verb == "PUT") {
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.data());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
  }
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, header_list);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout.count()));
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_NOPROXY, "*");
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &append_body);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &result.body);
  auto code = curl_easy_perform(curl);
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &result.status);
  char* type = nullptr;
  if (curl_easy_getinfo(curl, CURLINFO_CONTENT_TYPE, &type) == CURLE_OK && type != nullptr) {
    result.content_type = type;
  }
  result.complete = code == CURLE_OK;
  result.timed_out = code == CURLE_OPERATION_TIMEDOUT;
  if (!result.complete) {
    result.failure = fmt::format("{} ({})", curl_easy_strerror(code), static_cast<int>(code));
  }
  curl_slist_free_all(header_list);
  curl_easy_cleanup(curl);
  return result;
}

std::string url_encode(std::string_view text) {
  std::string out;
  for (unsigned char c : text) {
    bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
                 || c == '-' || c == '_' || c == '.' || c == '~' || c == '/';
    out += plain ? std::string(1, static_cast<char>(c)) : fmt::format("%{:02X}", c);
  }
  return out;
}

} // namespace llmux::http
