#include "checkpoint/s3_client.hpp"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <thread>

#include <curl/curl.h>
#include <fmt/format.h>

#include "checkpoint/sigv4.hpp"

namespace llmux::checkpoint {

namespace {

using clock = std::chrono::steady_clock;

// A listing page of 1000 keys is about 300 KiB; an error body a few hundred bytes.
constexpr std::size_t listing_body_limit = 64 << 20;
constexpr std::size_t error_body_limit = 64 << 10;
constexpr auto connect_timeout_max = std::chrono::milliseconds(5000);

std::string lowercase(std::string text) {
  for (auto& c : text) {
    c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  }
  return text;
}

} // namespace

namespace detail {

// One request with its body source or sink, and the state of its current attempt.
struct s3_exchange {
  std::string method;
  std::string operation; // for error texts: GET, PUT, DELETE, LIST
  std::string key;       // empty for the bucket itself
  std::string context_key;
  query_parameters query;
  std::string payload_sha256{empty_payload_sha256};
  // PUT streams `upload_file` (or nothing, for a bucket); GET writes a 2xx body to
  // `download_file`; every other body lands in `body`.
  bool upload = false;
  std::filesystem::path upload_file;
  std::uint64_t upload_size = 0;
  std::filesystem::path download_file;
  std::size_t body_limit = error_body_limit;
  const transfer_hooks* hooks = nullptr;

  // The current attempt.
  CURL* handle = nullptr;
  std::FILE* file = nullptr;
  std::string body;
  std::string local_error;
  std::uint64_t bytes = 0;
  long status = 0;

  bool cancelled() const {
    return hooks != nullptr && hooks->cancel != nullptr && hooks->cancel->load();
  }

  void begin_attempt() {
    body.clear();
    local_error.clear();
    bytes = 0;
    status = 0;
    const auto& path = upload ? upload_file : download_file;
    if (path.empty()) {
      return;
    }
    file = std::fopen(path.c_str(), upload ? "rb" : "wb");
    if (file == nullptr) {
      local_error = fmt::format("cannot {} {}: {}", upload ? "read" : "write", path.string(),
                                std::strerror(errno));
    }
  }

  void end_attempt() {
    if (file != nullptr && std::fclose(file) != 0 && !upload && local_error.empty()) {
      local_error
        = fmt::format("cannot write {}: {}", download_file.string(), std::strerror(errno));
    }
    file = nullptr;
  }
};

} // namespace detail

namespace {

using detail::s3_exchange;

std::size_t on_write(char* data, std::size_t size, std::size_t count, void* user) {
  auto& x = *static_cast<s3_exchange*>(user);
  auto n = size * count;
  if (x.status == 0) {
    curl_easy_getinfo(x.handle, CURLINFO_RESPONSE_CODE, &x.status);
  }
  if (x.file != nullptr && !x.upload && x.status / 100 == 2) {
    if (std::fwrite(data, 1, n, x.file) != n) {
      x.local_error
        = fmt::format("cannot write {}: {}", x.download_file.string(), std::strerror(errno));
      return 0;
    }
    x.bytes += n;
    return n;
  }
  if (x.body.size() + n > x.body_limit) {
    if (x.status / 100 == 2) {
      x.local_error = fmt::format("the answer is larger than {} bytes", x.body_limit);
      return 0;
    }
    return n; // the start of an error body says enough
  }
  x.body.append(data, n);
  return n;
}

std::size_t on_read(char* buffer, std::size_t size, std::size_t count, void* user) {
  auto& x = *static_cast<s3_exchange*>(user);
  if (x.file == nullptr) {
    return 0;
  }
  auto got = std::fread(buffer, 1, size * count, x.file);
  if (got == 0 && std::ferror(x.file)) {
    x.local_error = fmt::format("cannot read {}: {}", x.upload_file.string(), std::strerror(errno));
    return CURL_READFUNC_ABORT;
  }
  return got;
}

int on_progress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t upload_now) {
  auto& x = *static_cast<s3_exchange*>(user);
  if (x.cancelled()) {
    return 1;
  }
  if (x.hooks != nullptr && x.hooks->on_bytes) {
    x.hooks->on_bytes(x.upload ? static_cast<std::uint64_t>(upload_now) : x.bytes);
  }
  return 0;
}

// Whether a libcurl failure is about reaching the server at all, and worth another attempt.
bool is_connection_failure(CURLcode code) {
  return code == CURLE_COULDNT_RESOLVE_HOST || code == CURLE_COULDNT_RESOLVE_PROXY
         || code == CURLE_COULDNT_CONNECT;
}

bool is_retryable_transfer_failure(CURLcode code) {
  return code == CURLE_SEND_ERROR || code == CURLE_RECV_ERROR || code == CURLE_GOT_NOTHING
         || code == CURLE_PARTIAL_FILE || code == CURLE_HTTP2 || code == CURLE_HTTP2_STREAM;
}

// Turns an attempt's outcome into the result; true when it is worth another attempt: a
// connection failure or a 5xx, never a 4xx, a local file error or a spent deadline.
bool judge(CURLcode code, const request_context& context, const s3_exchange& x, deadline until,
           request_result& result) {
  if (!x.local_error.empty()) {
    result.error = x.local_error;
    return false;
  }
  if (code == CURLE_OK) {
    long status = 0;
    curl_easy_getinfo(x.handle, CURLINFO_RESPONSE_CODE, &status);
    if (status / 100 == 2) {
      result.ok = true;
      result.bytes = x.upload ? x.upload_size : x.bytes;
      return false;
    }
    result.error = describe_http_failure(context, status, parse_error_body(x.body));
    return status >= 500;
  }
  if (code == CURLE_ABORTED_BY_CALLBACK) {
    result.error = describe_transport_failure(context, transport_failure::other, "cancelled");
    return false;
  }
  std::string detail = curl_easy_strerror(code);
  if (code == CURLE_OPERATION_TIMEDOUT) {
    // With time left, it was the connect timeout: the server did not answer the handshake.
    bool deadline_reached = clock::now() + std::chrono::milliseconds(20) >= until;
    result.error = describe_transport_failure(
      context, deadline_reached ? transport_failure::timed_out : transport_failure::unreachable,
      detail);
    return !deadline_reached;
  }
  if (is_connection_failure(code)) {
    result.error = describe_transport_failure(context, transport_failure::unreachable, detail);
    return true;
  }
  result.error = describe_transport_failure(context, transport_failure::other, detail);
  return is_retryable_transfer_failure(code);
}

// The headers of one attempt, signed now. `Expect:` turns off 100-continue, which would cost a
// round trip per PUT. The list is the caller's to free.
curl_slist* signed_header_list(const config::object_store_config& config, const std::string& host,
                               const s3_exchange& x, const std::string& path) {
  auto timestamp = amz_date(std::chrono::system_clock::now());
  sigv4_request to_sign{
    x.method,
    path,
    x.query,
    {{"host", host}, {"x-amz-content-sha256", x.payload_sha256}, {"x-amz-date", timestamp}},
    x.payload_sha256};
  sigv4_credentials credentials{config.access_key, config.secret_key, config.region};
  std::string header_lines[]
    = {"Host: " + host, "x-amz-content-sha256: " + x.payload_sha256, "x-amz-date: " + timestamp,
       "Authorization: " + authorization_header(to_sign, credentials, timestamp), "Expect:"};
  curl_slist* headers = nullptr;
  for (const auto& line : header_lines) {
    headers = curl_slist_append(headers, line.c_str());
  }
  return headers;
}

void init_curl_once() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

} // namespace

s3_client::s3_client(config::object_store_config config, retry_policy retry)
  : config_(std::move(config)), retry_(retry) {
  init_curl_once();
  curl_ = curl_easy_init();
  if (config_.region.empty()) {
    config_.region = "us-east-1";
  }
  // Split the endpoint: the Host header we sign has to be the one libcurl sends.
  const auto& endpoint = config_.endpoint;
  auto scheme_end = endpoint.find("://");
  auto scheme = lowercase(endpoint.substr(0, scheme_end == endpoint.npos ? 0 : scheme_end));
  auto rest = scheme_end == endpoint.npos ? std::string{} : endpoint.substr(scheme_end + 3);
  auto slash = rest.find('/');
  auto authority = lowercase(rest.substr(0, slash));
  if ((scheme != "http" && scheme != "https") || authority.empty()
      || authority.find('@') != authority.npos) {
    endpoint_error_ = fmt::format("checkpoint.object_store.endpoint '{}' is not an http:// or "
                                  "https:// URL of the form scheme://host[:port][/path]",
                                  endpoint);
    return;
  }
  origin_ = fmt::format("{}://{}", scheme, authority);
  host_ = authority;
  base_path_ = slash == rest.npos ? std::string{} : rest.substr(slash);
  while (!base_path_.empty() && base_path_.back() == '/') {
    base_path_.pop_back();
  }
  if (curl_ == nullptr) {
    endpoint_error_ = "libcurl could not create a handle";
  }
}

s3_client::~s3_client() {
  if (curl_ != nullptr) {
    curl_easy_cleanup(static_cast<CURL*>(curl_));
  }
}

request_context s3_client::context(const s3_exchange& request) const {
  return {config_.endpoint, config_.bucket, request.operation, request.context_key};
}

bool s3_client::attempt(s3_exchange& x, deadline until, request_result& result) {
  using std::chrono::duration_cast;
  using std::chrono::milliseconds;
  auto left = duration_cast<milliseconds>(until - clock::now());
  if (left.count() <= 0) {
    result.error
      = describe_transport_failure(context(x), transport_failure::timed_out, "no time left");
    return false;
  }
  x.begin_attempt();
  if (!x.local_error.empty()) {
    result.error = x.local_error;
    return false;
  }

  // Sign what libcurl will send: the encoded path, the sorted query, the Host header.
  auto* handle = static_cast<CURL*>(curl_);
  x.handle = handle;
  auto path = fmt::format("{}/{}", base_path_, config_.bucket);
  if (!x.key.empty()) {
    path += '/';
    path += x.key;
  }
  auto url = origin_ + uri_encode(path, true);
  if (!x.query.empty()) {
    url += '?';
    url += canonical_query_string(x.query);
  }
  auto* headers = signed_header_list(config_, host_, x, path);

  curl_easy_reset(handle);
  curl_easy_setopt(handle, CURLOPT_URL, url.c_str());
  curl_easy_setopt(handle, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(handle, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(handle, CURLOPT_TIMEOUT_MS, static_cast<long>(left.count()));
  curl_easy_setopt(handle, CURLOPT_CONNECTTIMEOUT_MS,
                   static_cast<long>(std::min(left, connect_timeout_max).count()));
  curl_easy_setopt(handle, CURLOPT_WRITEFUNCTION, &on_write);
  curl_easy_setopt(handle, CURLOPT_WRITEDATA, &x);
  curl_easy_setopt(handle, CURLOPT_XFERINFOFUNCTION, &on_progress);
  curl_easy_setopt(handle, CURLOPT_XFERINFODATA, &x);
  curl_easy_setopt(handle, CURLOPT_NOPROGRESS, 0L);
  if (x.upload) {
    curl_easy_setopt(handle, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(handle, CURLOPT_READFUNCTION, &on_read);
    curl_easy_setopt(handle, CURLOPT_READDATA, &x);
    curl_easy_setopt(handle, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(x.upload_size));
  } else if (x.method != "GET") {
    curl_easy_setopt(handle, CURLOPT_CUSTOMREQUEST, x.method.c_str());
  }
  auto code = curl_easy_perform(handle);
  curl_easy_setopt(handle, CURLOPT_HTTPHEADER, nullptr);
  curl_slist_free_all(headers);
  x.end_attempt();

  return judge(code, context(x), x, until, result);
}

request_result s3_client::perform(s3_exchange& x, deadline until) {
  request_result result;
  if (!endpoint_error_.empty()) {
    result.error = endpoint_error_;
    return result;
  }
  auto backoff = retry_.first_backoff;
  for (int attempt_number = 1;; ++attempt_number) {
    result = {};
    bool again = attempt(x, until, result);
    if (result.ok || !again || attempt_number >= retry_.attempts) {
      break;
    }
    // Back off, but never past the deadline, and stop at once when cancelled.
    auto wake = std::min(clock::now() + backoff, until);
    while (clock::now() < wake && !x.cancelled()) {
      std::this_thread::sleep_for(
        std::min<clock::duration>(std::chrono::milliseconds(50), wake - clock::now()));
    }
    if (x.cancelled() || clock::now() >= until) {
      break;
    }
    backoff *= 2;
  }
  result.error = redact(std::move(result.error), config_.secret_key);
  return result;
}

listing_result s3_client::list_objects(std::string_view prefix, deadline until,
                                       unsigned page_size) {
  listing_result out;
  std::string token;
  for (;;) {
    s3_exchange x;
    x.method = "GET";
    x.operation = "LIST";
    x.context_key = std::string{prefix};
    x.body_limit = listing_body_limit;
    x.query = {
      {"list-type", "2"}, {"prefix", std::string{prefix}}, {"max-keys", std::to_string(page_size)}};
    if (!token.empty()) {
      x.query.emplace_back("continuation-token", token);
    }
    auto answer = perform(x, until);
    if (!answer.ok) {
      out.error = std::move(answer.error);
      return out;
    }
    auto page = parse_listing(x.body);
    if (!page) {
      out.error = fmt::format("object store {}: the listing of s3://{}/{} is not a valid "
                              "ListBucketResult",
                              config_.endpoint, config_.bucket, prefix);
      return out;
    }
    for (auto& object : page->objects) {
      out.objects.push_back(std::move(object));
    }
    if (!page->truncated) {
      break;
    }
    token = std::move(page->next_token);
  }
  out.ok = true;
  return out;
}

request_result s3_client::put_object(std::string_view key, const std::filesystem::path& file,
                                     deadline until, const transfer_hooks& hooks) {
  s3_exchange x;
  x.method = "PUT";
  x.operation = "PUT";
  x.key = x.context_key = std::string{key};
  x.upload = true;
  x.upload_file = file;
  x.hooks = &hooks;
  std::error_code ec;
  x.upload_size = std::filesystem::file_size(file, ec);
  auto hash = ec ? std::nullopt : sha256_file_hex(file);
  if (!hash) {
    request_result failed;
    failed.error = fmt::format("cannot read {}: {}", file.string(),
                               ec ? ec.message() : std::string{"read error"});
    return failed;
  }
  x.payload_sha256 = std::move(*hash);
  auto result = perform(x, until);
  if (result.ok) {
    result.sha256 = x.payload_sha256;
  }
  return result;
}

request_result s3_client::get_object(std::string_view key, const std::filesystem::path& file,
                                     deadline until, const transfer_hooks& hooks) {
  s3_exchange x;
  x.method = "GET";
  x.operation = "GET";
  x.key = x.context_key = std::string{key};
  x.download_file = file;
  x.hooks = &hooks;
  auto result = perform(x, until);
  if (!result.ok) {
    std::error_code ignored;
    std::filesystem::remove(file, ignored); // no partial object left behind
  }
  return result;
}

request_result s3_client::delete_object(std::string_view key, deadline until) {
  s3_exchange x;
  x.method = "DELETE";
  x.operation = "DELETE";
  x.key = x.context_key = std::string{key};
  return perform(x, until);
}

request_result s3_client::create_bucket(deadline until) {
  s3_exchange x;
  x.method = "PUT";
  x.operation = "PUT";
  x.upload = true; // an empty body, sent with Content-Length: 0
  return perform(x, until);
}

} // namespace llmux::checkpoint
