#include "checkpoint/sigv4.hpp"

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <memory>

#include <fmt/format.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

namespace llmux::checkpoint {

namespace {

constexpr std::string_view algorithm = "AWS4-HMAC-SHA256";

bool is_unreserved(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'
         || c == '.' || c == '_' || c == '~';
}

std::string lowercase(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) {
    return static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  });
  return out;
}

// Trims the value and folds runs of spaces into one, as the canonical headers want.
std::string canonical_header_value(std::string_view value) {
  std::string out;
  bool pending_space = false;
  for (char c : value) {
    if (c == ' ' || c == '\t') {
      pending_space = !out.empty();
      continue;
    }
    if (pending_space) {
      out += ' ';
      pending_space = false;
    }
    out += c;
  }
  return out;
}

// Lowercased names, sorted, with the values of repeated names joined by commas.
std::vector<std::pair<std::string, std::string>> canonical_headers(const sigv4_request& request) {
  std::vector<std::pair<std::string, std::string>> headers;
  for (const auto& [name, value] : request.headers) {
    headers.emplace_back(lowercase(canonical_header_value(name)), canonical_header_value(value));
  }
  std::stable_sort(headers.begin(), headers.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<std::pair<std::string, std::string>> merged;
  for (auto& header : headers) {
    if (!merged.empty() && merged.back().first == header.first) {
      merged.back().second += ',';
      merged.back().second += header.second;
    } else {
      merged.push_back(std::move(header));
    }
  }
  return merged;
}

sha256_digest hmac_raw(const void* key, std::size_t key_size, std::string_view data) {
  sha256_digest out{};
  unsigned int size = 0;
  HMAC(EVP_sha256(), key, static_cast<int>(key_size),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), out.data(), &size);
  return out;
}

sha256_digest hmac_raw(const sha256_digest& key, std::string_view data) {
  return hmac_raw(key.data(), key.size(), data);
}

} // namespace

std::string to_hex(const std::uint8_t* bytes, std::size_t size) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  out.reserve(size * 2);
  for (std::size_t i = 0; i < size; ++i) {
    out += digits[bytes[i] >> 4];
    out += digits[bytes[i] & 0x0f];
  }
  return out;
}

std::string sha256_hex(std::string_view data) {
  sha256_digest digest{};
  unsigned int size = 0;
  EVP_Digest(data.data(), data.size(), digest.data(), &size, EVP_sha256(), nullptr);
  return to_hex(digest.data(), digest.size());
}

std::optional<std::string> sha256_file_hex(const std::filesystem::path& file) {
  std::unique_ptr<std::FILE, decltype(&std::fclose)> in(std::fopen(file.c_str(), "rb"),
                                                        &std::fclose);
  if (!in) {
    return std::nullopt;
  }
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> context(EVP_MD_CTX_new(),
                                                                  &EVP_MD_CTX_free);
  if (!context || EVP_DigestInit_ex(context.get(), EVP_sha256(), nullptr) != 1) {
    return std::nullopt;
  }
  std::vector<char> buffer(1 << 20);
  for (;;) {
    auto got = std::fread(buffer.data(), 1, buffer.size(), in.get());
    if (got > 0) {
      EVP_DigestUpdate(context.get(), buffer.data(), got);
    }
    if (got < buffer.size()) {
      break;
    }
  }
  if (std::ferror(in.get())) {
    return std::nullopt;
  }
  sha256_digest digest{};
  unsigned int size = 0;
  EVP_DigestFinal_ex(context.get(), digest.data(), &size);
  return to_hex(digest.data(), digest.size());
}

sha256_digest hmac_sha256(std::string_view key, std::string_view data) {
  return hmac_raw(key.data(), key.size(), data);
}

std::string uri_encode(std::string_view text, bool keep_slash) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    auto byte = static_cast<unsigned char>(c);
    if (is_unreserved(byte) || (keep_slash && c == '/')) {
      out += c;
    } else {
      out += fmt::format("%{:02X}", byte);
    }
  }
  return out;
}

std::string canonical_query_string(const query_parameters& query) {
  std::vector<std::pair<std::string, std::string>> encoded;
  encoded.reserve(query.size());
  for (const auto& [key, value] : query) {
    encoded.emplace_back(uri_encode(key, false), uri_encode(value, false));
  }
  std::sort(encoded.begin(), encoded.end());
  std::string out;
  for (const auto& [key, value] : encoded) {
    if (!out.empty()) {
      out += '&';
    }
    out += key;
    out += '=';
    out += value;
  }
  return out;
}

std::string amz_date(std::chrono::system_clock::time_point when) {
  auto seconds = std::chrono::system_clock::to_time_t(when);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char text[17];
  std::strftime(text, sizeof text, "%Y%m%dT%H%M%SZ", &utc);
  return text;
}

std::string signed_headers(const sigv4_request& request) {
  std::string out;
  for (const auto& [name, value] : canonical_headers(request)) {
    if (!out.empty()) {
      out += ';';
    }
    out += name;
  }
  return out;
}

std::string canonical_request(const sigv4_request& request) {
  std::string out = request.method + '\n';
  out += uri_encode(request.path.empty() ? "/" : request.path, true);
  out += '\n';
  out += canonical_query_string(request.query);
  out += '\n';
  for (const auto& [name, value] : canonical_headers(request)) {
    out += fmt::format("{}:{}\n", name, value);
  }
  out += '\n';
  out += signed_headers(request);
  out += '\n';
  out += request.payload_sha256;
  return out;
}

std::string credential_scope(std::string_view amz_timestamp, const sigv4_credentials& credentials) {
  return fmt::format("{}/{}/{}/aws4_request", amz_timestamp.substr(0, 8), credentials.region,
                     credentials.service);
}

std::string string_to_sign(std::string_view amz_timestamp, std::string_view scope,
                           std::string_view canonical) {
  return fmt::format("{}\n{}\n{}\n{}", algorithm, amz_timestamp, scope, sha256_hex(canonical));
}

sha256_digest signing_key(std::string_view secret_key, std::string_view date,
                          std::string_view region, std::string_view service) {
  std::string initial = "AWS4";
  initial += secret_key;
  auto date_key = hmac_sha256(initial, date);
  std::fill(initial.begin(), initial.end(), '\0');
  auto region_key = hmac_raw(date_key, region);
  auto service_key = hmac_raw(region_key, service);
  return hmac_raw(service_key, "aws4_request");
}

std::string signature(const sigv4_request& request, const sigv4_credentials& credentials,
                      std::string_view amz_timestamp) {
  auto scope = credential_scope(amz_timestamp, credentials);
  auto to_sign = string_to_sign(amz_timestamp, scope, canonical_request(request));
  auto key = signing_key(credentials.secret_key, amz_timestamp.substr(0, 8), credentials.region,
                         credentials.service);
  auto digest = hmac_raw(key, to_sign);
  return to_hex(digest.data(), digest.size());
}

std::string authorization_header(const sigv4_request& request, const sigv4_credentials& credentials,
                                 std::string_view amz_timestamp) {
  return fmt::format("{} Credential={}/{},SignedHeaders={},Signature={}", algorithm,
                     credentials.access_key, credential_scope(amz_timestamp, credentials),
                     signed_headers(request), signature(request, credentials, amz_timestamp));
}

} // namespace llmux::checkpoint
