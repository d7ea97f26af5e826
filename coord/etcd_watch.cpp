// The watch of the etcd client: the gateway answers POST /v3/watch with a response that never
// ends, one JSON object per line ({"result": WatchResponse}). A thread of its own reads it with
// libcurl's multi interface, so that a stop can wake it (curl_multi_wakeup) at once.
#include <curl/curl.h>

#include <chrono>

#include "base/base64.hpp"
#include "coord/etcd_client.hpp"
#include "coord/etcd_json.hpp"

namespace jobnet::coord {

using nlohmann::json;

namespace {

// Pause before reopening a stream that broke, so a member that refuses at once is not hammered.
constexpr auto kWatchRetryPause = std::chrono::milliseconds(100);

// One WatchResponse (the object under "result") → its events; sets *canceled for a watch etcd
// ended (compaction), and *revision to the header's revision.
Status ReadWatchResponse(const json& r, WatchBatch* batch, bool* canceled, int64_t* revision) {
  Status s = etcd_json::ReadHeaderRevision(r, revision);
  if (!s.ok()) return s;
  auto c = r.find("canceled");
  *canceled = c != r.end() && c->is_boolean() && c->get<bool>();
  if (*canceled) {
    int64_t compact = 0;
    etcd_json::Int64Field(r, "compact_revision", &compact);
    std::string reason = "etcd ended the watch";
    auto why = r.find("cancel_reason");
    if (why != r.end() && why->is_string()) reason += ": " + why->get<std::string>();
    if (compact > 0) {
      return Status::NotFound("etcd compacted the watched revisions away (compact revision " +
                              std::to_string(compact) + ")");
    }
    return Status::Unavailable(reason);
  }
  auto events = r.find("events");
  if (events == r.end()) return Status::OK();
  if (!events->is_array()) return Status::Corruption("etcd watch reply: 'events' is not a list");
  for (const auto& e : *events) {
    if (!e.is_object()) return Status::Corruption("etcd watch event is not an object");
    WatchEvent ev;
    auto type = e.find("type");
    if (type != e.end() && type->is_string() && type->get<std::string>() == "DELETE") {
      ev.type = WatchEvent::Type::kDelete;
    } else if (type != e.end() && !(type->is_string() && type->get<std::string>() == "PUT")) {
      return Status::Corruption("etcd watch event of an unknown type");
    }
    auto kv = e.find("kv");
    if (kv == e.end()) return Status::Corruption("etcd watch event without a key");
    s = etcd_json::ReadKeyValue(*kv, &ev.kv);
    if (!s.ok()) return s;
    batch->events.push_back(std::move(ev));
  }
  return Status::OK();
}

}  // namespace

// The state of one open stream, seen by libcurl's write callback.
struct EtcdWatch::Stream {
  EtcdWatch* watch = nullptr;
  std::string line;     // bytes of the line not yet complete
  Status ended;         // set when the stream must not be reopened (compaction, bad reply)
  bool created = false; // etcd confirmed the watch: it has a revision to resume from

  // One complete line: deliver its events. False stops the transfer.
  bool OnLine(const std::string& text) {
    if (text.empty()) return true;
    auto parsed = etcd_json::Parse(text);
    if (!parsed.ok()) return Fail(parsed.status());
    auto error = parsed.value().find("error");
    if (error != parsed.value().end() && error->is_object()) {
      // The gateway reports a stream that broke on etcd's side this way: reopen elsewhere.
      return false;
    }
    auto result = parsed.value().find("result");
    if (result == parsed.value().end() || !result->is_object()) {
      return Fail(Status::Corruption("etcd watch line has no result"));
    }
    WatchBatch batch;
    bool canceled = false;
    int64_t revision = 0;
    Status s = ReadWatchResponse(*result, &batch, &canceled, &revision);
    if (!s.ok()) return Fail(s);
    if (!created) {
      created = true;
      // From "now": resume after the revision the watch was created at.
      if (watch->next_revision_ == 0) watch->next_revision_ = revision + 1;
    }
    if (batch.events.empty()) return true;
    watch->next_revision_ = batch.events.back().kv.mod_revision + 1;
    watch->on_batch_(batch);
    return true;
  }

  bool Fail(Status s) {
    ended = std::move(s);
    return false;
  }

  static size_t OnBytes(char* data, size_t size, size_t n, void* user) {
    auto* stream = static_cast<Stream*>(user);
    const size_t bytes = size * n;
    for (size_t i = 0; i < bytes; ++i) {
      if (data[i] != '\n') {
        stream->line.push_back(data[i]);
        if (stream->line.size() > kEtcdWatchLineBytesMax) {
          stream->Fail(Status::TooLarge("etcd watch line over " +
                                        std::to_string(kEtcdWatchLineBytesMax) + " bytes"));
          return 0;
        }
        continue;
      }
      std::string text;
      text.swap(stream->line);
      if (!stream->OnLine(text)) return 0;
    }
    return bytes;
  }
};

std::unique_ptr<EtcdWatch> EtcdClient::Watch(const std::string& key, const std::string& range_end,
                                             int64_t start_revision,
                                             std::function<void(const WatchBatch&)> on_batch) {
  std::unique_ptr<EtcdWatch> w(new EtcdWatch());
  w->options_ = options_;
  w->key_ = key;
  w->range_end_ = range_end;
  w->next_revision_ = start_revision;
  w->on_batch_ = std::move(on_batch);
  w->thread_ = std::thread([raw = w.get()] { raw->Run(); });
  return w;
}

EtcdWatch::~EtcdWatch() {
  {
    std::lock_guard<std::mutex> lock(wake_mu_);
    stop_ = true;
    if (multi_ != nullptr) curl_multi_wakeup(static_cast<CURLM*>(multi_));
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void EtcdWatch::Run() {
  size_t endpoint = 0;
  while (!stop_) {
    if (!RunStream(endpoint)) return;  // ended for good: the callback was told why
    endpoint = (endpoint + 1) % options_.endpoints.size();
    std::unique_lock<std::mutex> lock(wake_mu_);
    wake_.wait_for(lock, kWatchRetryPause, [this] { return stop_.load(); });
  }
}

// Opens one stream on endpoints[endpoint_index] and reads it until it breaks or the watch
// stops. False: the watch has ended for good and on_batch_ was told why.
bool EtcdWatch::RunStream(size_t endpoint_index) {
  json create = {{"key", base::Base64Encode(key_)}};
  if (!range_end_.empty()) create["range_end"] = base::Base64Encode(range_end_);
  if (next_revision_ > 0) create["start_revision"] = std::to_string(next_revision_);
  const std::string body = json{{"create_request", create}}.dump();
  const std::string url = options_.endpoints[endpoint_index] + "/v3/watch";

  Stream stream;
  stream.watch = this;
  CURL* c = curl_easy_init();
  CURLM* m = curl_multi_init();
  if (c == nullptr || m == nullptr) {
    if (c) curl_easy_cleanup(c);
    if (m) curl_multi_cleanup(m);
    return true;  // try again after the pause
  }
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http");
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(options_.connect_timeout_ms));
  curl_easy_setopt(c, CURLOPT_POST, 1L);
  curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.data());
  curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, &Stream::OnBytes);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &stream);
  curl_slist* headers = curl_slist_append(nullptr, "Content-Type: application/json");
  headers = curl_slist_append(headers, "Expect:");
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
  curl_multi_add_handle(m, c);
  {
    std::lock_guard<std::mutex> lock(wake_mu_);
    multi_ = m;
  }
  int running = 1;
  while (running > 0 && !stop_) {
    if (curl_multi_perform(m, &running) != CURLM_OK) break;
    if (running > 0) curl_multi_poll(m, nullptr, 0, 1000, nullptr);
  }
  {
    std::lock_guard<std::mutex> lock(wake_mu_);
    multi_ = nullptr;
  }
  curl_multi_remove_handle(m, c);
  curl_easy_cleanup(c);
  curl_multi_cleanup(m);
  curl_slist_free_all(headers);
  if (stop_) return false;
  if (!stream.ended.ok()) {
    on_batch_(WatchBatch{stream.ended, {}});
    return false;
  }
  return true;  // the stream broke (member gone, HTTP error): reopen on the next endpoint
}

}  // namespace jobnet::coord
