// Callback POSTs on one thread: libcurl multi, polled with a wakeup for new work.
#include "http/callbacks.hpp"

#include <curl/curl.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <sys/socket.h>

#include <atomic>
#include <mutex>
#include <thread>
#include <unordered_set>

#include "client/json.hpp"

namespace jobnet::http {

std::string HmacSha256Hex(const std::string& secret, const std::string& body) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(body.data()), body.size(), mac, &len);
  static const char kHex[] = "0123456789abcdef";
  std::string hex;
  for (unsigned int i = 0; i < len; ++i) {
    hex.push_back(kHex[mac[i] >> 4]);
    hex.push_back(kHex[mac[i] & 15]);
  }
  return hex;
}

std::string CallbackSignature(const std::string& secret, const std::string& body) {
  return "sha256=" + HmacSha256Hex(secret, body);
}

std::string CallbackBody(const JobInfo& job) {
  return jsonio::JobToJson(job).dump(-1, ' ', false, jsonio::kInvalidUtf8Replaced);
}

namespace {

// One POST under way.
struct Transfer {
  sched::CallbackSend send;
  std::string body;
  curl_slist* headers = nullptr;
  const sched::CallbackAllowList* allow = nullptr;
  bool by_name = false;   // the host is listed by name: its addresses are not checked
  std::string refused;    // an address the allow-list refused at connect
  char error[CURL_ERROR_SIZE] = {};
};

size_t Discard(char*, size_t size, size_t n, void*) { return size * n; }

// Every connection curl opens for a callback passes here: an address outside the allow-list's
// CIDRs is refused unless the URL's host was allowed by name (so DNS cannot point an allowed-
// looking URL at a forbidden address after submit).
curl_socket_t OpenSocket(void* clientp, curlsocktype, curl_sockaddr* addr) {
  auto* t = static_cast<Transfer*>(clientp);
  if (!t->by_name) {
    auto ip = sched::IpAddressFromSockaddr(&addr->addr, addr->addrlen);
    if (!ip || !t->allow->AllowsAddress(*ip)) {
      t->refused = ip ? sched::ToString(*ip) : "(not an IP address)";
      return CURL_SOCKET_BAD;
    }
  }
  return ::socket(addr->family, addr->socktype, addr->protocol);
}

}  // namespace

struct CallbackDeliverer::Impl {
  DelivererOptions opt;
  CURLM* multi = nullptr;
  std::mutex mu;
  std::vector<sched::CallbackSend> queue;  // guarded by mu
  std::atomic<bool> stop{false};
  std::thread thread;
  std::unordered_set<CURL*> active;  // the delivery thread's own: handles in `multi`

  ~Impl() {
    if (multi != nullptr) curl_multi_cleanup(multi);
  }

  void Begin(sched::CallbackSend send) {
    auto t = std::make_unique<Transfer>();
    t->send = std::move(send);
    t->body = CallbackBody(t->send.job);
    t->allow = &opt.allow;
    auto url = sched::ParseCallbackUrl(t->send.url);
    if (!url.ok()) {  // accepted at submit, so not expected; fail the attempt rather than crash
      return Report(*t, false, url.status().message());
    }
    t->by_name = opt.allow.AllowsName(url.value().host);
    auto header = [&t](const std::string& h) { t->headers = curl_slist_append(t->headers, h.c_str()); };
    header("Content-Type: application/json");
    header("X-Jobnet-Signature: " + CallbackSignature(opt.secret, t->body));
    header("X-Jobnet-Delivery: " + t->send.delivery);
    header("X-Jobnet-Attempt: " + std::to_string(t->send.attempt));
    header("Expect:");  // no 100-continue round trip
    CURL* e = curl_easy_init();
    if (e == nullptr) return Report(*t, false, "libcurl could not make a handle");
    curl_easy_setopt(e, CURLOPT_URL, t->send.url.c_str());
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);  // a redirect could lead off the allow-list
    curl_easy_setopt(e, CURLOPT_PROXY, "");           // no proxy from the environment: the node
                                                      // connects itself, so the check holds
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, static_cast<long>(opt.timeout_ms));
    curl_easy_setopt(e, CURLOPT_POST, 1L);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, t->body.data());
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(t->body.size()));
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, t->headers);
    curl_easy_setopt(e, CURLOPT_USERAGENT, opt.user_agent.c_str());
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, Discard);
    curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, OpenSocket);
    curl_easy_setopt(e, CURLOPT_OPENSOCKETDATA, t.get());
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, t->error);
    curl_easy_setopt(e, CURLOPT_PRIVATE, t.get());
    if (curl_multi_add_handle(multi, e) != CURLM_OK) {
      curl_easy_cleanup(e);
      return Report(*t, false, "libcurl could not start the request");
    }
    active.insert(e);
    t.release();  // owned by the handle now (CURLOPT_PRIVATE), freed by Detach's caller
  }

  void Report(Transfer& t, bool ok, std::string error) {
    if (t.headers != nullptr) curl_slist_free_all(t.headers);
    t.headers = nullptr;
    if (opt.on_result) opt.on_result(sched::CallbackResult{t.send.seq, t.send.delivery, ok, std::move(error)});
  }

  Transfer* Detach(CURL* e) {
    char* priv = nullptr;
    curl_easy_getinfo(e, CURLINFO_PRIVATE, &priv);
    curl_multi_remove_handle(multi, e);
    curl_easy_cleanup(e);
    active.erase(e);
    return reinterpret_cast<Transfer*>(priv);
  }

  void End(CURL* e, CURLcode code) {
    long status = 0;
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
    std::unique_ptr<Transfer> t(Detach(e));
    if (code == CURLE_OK && status >= 200 && status < 300) return Report(*t, true, "");
    std::string error;
    if (!t->refused.empty()) {
      error = "address " + t->refused + " of " + t->send.url +
              " is not on this node's callback allow-list";
    } else if (code != CURLE_OK) {
      error = t->error[0] != '\0' ? t->error : curl_easy_strerror(code);
    } else {
      error = "HTTP " + std::to_string(status);
    }
    Report(*t, false, std::move(error));
  }

  void Run() {
    while (!stop.load()) {
      std::vector<sched::CallbackSend> fresh;
      {
        std::lock_guard<std::mutex> lock(mu);
        fresh.swap(queue);
      }
      for (auto& s : fresh) Begin(std::move(s));
      int running = 0;
      curl_multi_perform(multi, &running);
      int left = 0;
      while (CURLMsg* m = curl_multi_info_read(multi, &left))
        if (m->msg == CURLMSG_DONE) End(m->easy_handle, m->data.result);
      // Wakes for a new send (curl_multi_wakeup), socket activity, or curl's own timers.
      curl_multi_poll(multi, nullptr, 0, 1000, nullptr);
    }
    // Abandon what is under way: no answer is reported, the journal keeps each pending.
    while (!active.empty()) {
      std::unique_ptr<Transfer> t(Detach(*active.begin()));
      if (t->headers != nullptr) curl_slist_free_all(t->headers);
    }
  }
};

CallbackDeliverer::CallbackDeliverer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

CallbackDeliverer::~CallbackDeliverer() { Stop(); }

Status CallbackDeliverer::Start(DelivererOptions options, std::unique_ptr<CallbackDeliverer>* out) {
  static std::once_flag once;
  static CURLcode global = CURLE_OK;
  std::call_once(once, [] { global = curl_global_init(CURL_GLOBAL_DEFAULT); });
  if (global != CURLE_OK)
    return Status::Internal(std::string("libcurl: ") + curl_easy_strerror(global));
  auto impl = std::make_unique<Impl>();
  impl->opt = std::move(options);
  impl->multi = curl_multi_init();
  if (impl->multi == nullptr) return Status::Internal("libcurl: cannot make a multi handle");
  Impl* raw = impl.get();
  out->reset(new CallbackDeliverer(std::move(impl)));
  raw->thread = std::thread([raw] { raw->Run(); });
  return Status::OK();
}

void CallbackDeliverer::Deliver(std::vector<sched::CallbackSend> sends) {
  if (sends.empty()) return;
  std::vector<sched::CallbackSend> refused;
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    // The scheduler's in-flight limit keeps this far lower; only sends it dropped while they
    // were still queued here (a retry or purge of their job) can add to it. Beyond twice the
    // limit a send fails at once rather than grow the queue.
    for (auto& s : sends) {
      if (impl_->queue.size() < 2 * limits::kCallbacksInFlightMax) {
        impl_->queue.push_back(std::move(s));
      } else {
        refused.push_back(std::move(s));
      }
    }
  }
  for (auto& s : refused)
    if (impl_->opt.on_result)
      impl_->opt.on_result(sched::CallbackResult{s.seq, s.delivery, false,
                                                 "not sent: the deliverer's queue is full"});
  curl_multi_wakeup(impl_->multi);
}

void CallbackDeliverer::Stop() {
  if (!impl_ || !impl_->thread.joinable()) return;
  impl_->stop.store(true);
  curl_multi_wakeup(impl_->multi);
  impl_->thread.join();
}

}  // namespace jobnet::http
