// http_request: one GET or POST with libcurl's easy interface (this runs on a worker thread, so
// blocking is fine) to a host the node's configuration allows ([http_request] allow; loopback by
// default), with the response size and time bounded and a cancel honoured mid-transfer.
// Payload {"url", "method", "body", "headers", "timeout_ms", "include_headers"}; result
// {"status", "body", "encoding": "text"|"base64", "bytes", ["headers"]}. docs/handlers.md.
#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <memory>
#include <mutex>

#include "base/base64.hpp"
#include "handlers/registry.hpp"

namespace jobnet::handlers {
namespace {

struct Request {
  std::string url;
  std::string method = "GET";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  uint64_t timeout_ms = limits::kHttpFetchTimeoutMsDefault;
  bool include_headers = false;
};

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// A header name or value that could split the request (CR or LF) is refused.
bool HeaderSafe(const std::string& s) { return s.find_first_of("\r\n") == std::string::npos; }

std::string ReadHeaders(const msgpack::object& v, Request* r) {
  return ReadFields(v, "http_request", "http_request: headers must be a map of strings",
                    [&](const std::string& k, const msgpack::object& value) -> std::string {
                      std::string val;
                      if (!AsString(value, &val) || k.empty() || !HeaderSafe(k) ||
                          !HeaderSafe(val) || k.find(':') != std::string::npos)
                        return "http_request: headers must map names to string values, without "
                               "':' in a name or line breaks";
                      r->headers.emplace_back(k, std::move(val));
                      return "";
                    });
}

// The request in the payload, or the problem with it (the run and the check at submit).
std::string Read(const msgpack::object& payload, Request* r) {
  std::string problem = ReadFields(
      payload, "http_request",
      "http_request wants {\"url\": \"http://host/...\", \"method\": \"GET\"|\"POST\", ...}",
      [&](const std::string& key, const msgpack::object& v) -> std::string {
        if (key == "url")
          return AsString(v, &r->url) ? "" : "http_request: url must be a string";
        if (key == "method")
          return AsString(v, &r->method) && (r->method == "GET" || r->method == "POST")
                     ? ""
                     : "http_request: method must be GET or POST";
        if (key == "body")
          return AsString(v, &r->body) ? "" : "http_request: body must be a string (or bin)";
        if (key == "headers") return ReadHeaders(v, r);
        if (key == "timeout_ms") {
          if (v.type != msgpack::type::POSITIVE_INTEGER || v.via.u64 == 0 ||
              v.via.u64 > limits::kHttpFetchTimeoutMsMax)
            return "http_request: timeout_ms must be 1.." +
                   std::to_string(limits::kHttpFetchTimeoutMsMax);
          r->timeout_ms = v.via.u64;
          return "";
        }
        if (key == "include_headers") {
          if (v.type != msgpack::type::BOOLEAN) return "http_request: include_headers must be a boolean";
          r->include_headers = v.via.boolean;
          return "";
        }
        return "http_request: unknown field '" + key +
               "' (known: url, method, body, headers, timeout_ms, include_headers)";
      });
  if (!problem.empty()) return problem;
  if (r->url.empty()) return "http_request: url is required";
  if (!r->body.empty() && r->method != "POST") return "http_request: a body needs method POST";
  return "";
}

void GlobalInit() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

// The host of an http or https URL, lower case (an IPv6 address keeps its brackets), or the
// problem with the URL.
std::string HostOf(const std::string& url, std::string* host) {
  GlobalInit();
  std::unique_ptr<CURLU, decltype(&curl_url_cleanup)> u(curl_url(), curl_url_cleanup);
  if (!u || curl_url_set(u.get(), CURLUPART_URL, url.c_str(), 0) != CURLUE_OK)
    return "http_request: '" + url + "' is not a URL";
  char* scheme = nullptr;
  char* h = nullptr;
  std::string problem;
  if (curl_url_get(u.get(), CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
      (Lower(scheme) != "http" && Lower(scheme) != "https")) {
    problem = "http_request: only http and https URLs";
  } else if (curl_url_get(u.get(), CURLUPART_HOST, &h, 0) != CURLUE_OK) {
    problem = "http_request: '" + url + "' has no host";
  } else {
    *host = Lower(h);
  }
  curl_free(scheme);
  curl_free(h);
  return problem;
}

std::string CheckHttpRequest(const msgpack::object& payload) {
  Request r;
  if (std::string p = Read(payload, &r); !p.empty()) return p;
  std::string host;
  // Whether the host is allowed depends on the node that runs it: checked at the run.
  return HostOf(r.url, &host);
}

bool Allowed(const std::string& host, const HandlerConfig* config) {
  bool loopback = host == "localhost" || host == "[::1]" || host.rfind("127.", 0) == 0;
  if (config == nullptr) return loopback;  // no configuration: the default, loopback only
  if (loopback && config->http_allow_loopback) return true;
  return std::any_of(config->http_allow.begin(), config->http_allow.end(),
                     [&](const std::string& a) { return Lower(a) == host; });
}

struct Transfer {
  HandlerContext* ctx = nullptr;
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  size_t header_bytes = 0;
  bool too_large = false;
};

size_t OnBody(char* data, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  if (t->body.size() + n > limits::kHttpFetchBodyBytesMax) {
    t->too_large = true;
    return 0;  // libcurl stops with a write error
  }
  t->body.append(data, n);
  return n;
}

size_t OnHeader(char* data, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  std::string line(data, n);
  t->header_bytes += n;
  if (t->header_bytes > limits::kHttpFetchHeaderBytesMax) {
    t->too_large = true;
    return 0;
  }
  if (line.rfind("HTTP/", 0) == 0) t->headers.clear();  // a new response (after a 100 Continue)
  size_t colon = line.find(':');
  if (colon == std::string::npos) return n;
  std::string value = line.substr(colon + 1);
  while (!value.empty() && std::isspace(static_cast<unsigned char>(value.front()))) value.erase(0, 1);
  while (!value.empty() && std::isspace(static_cast<unsigned char>(value.back()))) value.pop_back();
  t->headers.emplace_back(Lower(line.substr(0, colon)), std::move(value));
  return n;
}

// Called by libcurl about once a second and on every chunk: a non-zero return aborts.
int OnProgress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  return static_cast<Transfer*>(user)->ctx->ShouldStop() ? 1 : 0;
}

bool IsUtf8(const std::string& s) {
  size_t i = 0;
  while (i < s.size()) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    size_t len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (len == 0 || i + len > s.size()) return false;
    for (size_t k = 1; k < len; ++k)
      if ((static_cast<unsigned char>(s[i + k]) >> 6) != 2) return false;
    i += len;
  }
  return true;
}

HandlerResult HttpRequest(const msgpack::object& payload, HandlerContext& ctx) {
  Request req;
  if (std::string p = Read(payload, &req); !p.empty()) return HandlerResult::Fail(p);
  std::string host;
  if (std::string p = HostOf(req.url, &host); !p.empty()) return HandlerResult::Fail(p);
  if (!Allowed(host, ctx.config))
    return HandlerResult::Fail("http_request: host '" + host +
                               "' is not allowed on this node (configure [http_request] allow)");
  // Never past the job's own deadline.
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                  ctx.deadline - std::chrono::steady_clock::now()).count();
  if (left <= 0) return HandlerResult::Fail("http_request: no time left in the job's lease");
  long timeout_ms = static_cast<long>(std::min<int64_t>(left, static_cast<int64_t>(req.timeout_ms)));

  std::unique_ptr<CURL, decltype(&curl_easy_cleanup)> curl(curl_easy_init(), curl_easy_cleanup);
  if (!curl) return HandlerResult::Fail("http_request: libcurl could not start a transfer");
  std::unique_ptr<curl_slist, decltype(&curl_slist_free_all)> headers(nullptr, curl_slist_free_all);
  for (const auto& [k, v] : req.headers)
    headers.reset(curl_slist_append(headers.release(), (k + ": " + v).c_str()));
  Transfer t;
  t.ctx = &ctx;
  CURL* c = curl.get();
  curl_easy_setopt(c, CURLOPT_URL, req.url.c_str());
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  // No redirects: the allow-list is checked on the URL given, and a redirect could leave it.
  curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);  // no SIGALRM for DNS timeouts in a threaded node
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms);
  curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, static_cast<curl_off_t>(limits::kHttpFetchBodyBytesMax));
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, OnBody);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &t);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, OnHeader);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, &t);
  curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, OnProgress);
  curl_easy_setopt(c, CURLOPT_XFERINFODATA, &t);
  curl_easy_setopt(c, CURLOPT_USERAGENT, "jobnet-http_request/1");
  if (headers) curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers.get());
  if (req.method == "POST") {
    curl_easy_setopt(c, CURLOPT_POST, 1L);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(req.body.size()));
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, req.body.data());
  }
  CURLcode rc = curl_easy_perform(c);
  if (rc == CURLE_ABORTED_BY_CALLBACK) return HandlerResult::Fail("http_request: stopped");
  if (t.too_large || rc == CURLE_FILESIZE_EXCEEDED)
    return HandlerResult::Fail("http_request: the response is larger than " +
                               std::to_string(limits::kHttpFetchBodyBytesMax) + " bytes of body or " +
                               std::to_string(limits::kHttpFetchHeaderBytesMax) + " of headers");
  if (rc != CURLE_OK)
    return HandlerResult::Fail("http_request: " + req.method + " " + req.url + ": " +
                               curl_easy_strerror(rc));
  long status = 0;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
  bool text = IsUtf8(t.body);
  msgpack::sbuffer buf;
  msgpack::packer<msgpack::sbuffer> pk(&buf);
  pk.pack_map(req.include_headers ? 5 : 4);
  pk.pack("status"); pk.pack(status);
  pk.pack("body"); pk.pack(text ? t.body : base::Base64Encode(t.body));
  pk.pack("encoding"); pk.pack(text ? "text" : "base64");
  pk.pack("bytes"); pk.pack(static_cast<uint64_t>(t.body.size()));
  if (req.include_headers) {
    // A header sent more than once is joined with ", " (RFC 9110 5.3), so the map keeps it.
    std::map<std::string, std::string> joined;
    for (const auto& [k, v] : t.headers) {
      std::string& j = joined[k];
      j += (j.empty() ? "" : ", ") + v;
    }
    pk.pack("headers");
    pk.pack(joined);
  }
  return HandlerResult::OkRaw(std::string(buf.data(), buf.size()));
}

JOBNET_HANDLER("http_request", HttpRequest,
               (PayloadRule{"{\"url\": http(s) URL to an allowed host, \"method\": \"GET\" "
                            "(default) | \"POST\", \"body\": str (POST), \"headers\": {name: "
                            "value}, \"timeout_ms\": 1..120000 (default 10000), "
                            "\"include_headers\": bool}",
                            "{\"status\": HTTP status, \"body\": text or base64, \"encoding\": "
                            "\"text\"|\"base64\", \"bytes\": body size, \"headers\": {lower-case "
                            "name: value} when asked}",
                            CheckHttpRequest}));

}  // namespace
}  // namespace jobnet::handlers
