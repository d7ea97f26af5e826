// The job event stream against real node processes: GET /api/events read live by an HTTP client
// (libcurl) and resumed with since= and Last-Event-ID, the read scope, the events request over
// ZeroMQ (a long poll answered by a new job, seqs kept across a restart) and `jobnet events`.
#include <gtest/gtest.h>

#include <curl/curl.h>
#include <nlohmann/json.hpp>

#include <atomic>
#include <fstream>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "node_harness.hpp"

namespace jobnet {
namespace {

using Json = nlohmann::json;
using testing::Eventually;
using testing::FreePort;
using testing::NodeProcess;
using testing::RunCli;

// What one SSE connection read: its HTTP status, the data objects and ids in order, the
// event names other than the default, and whether the server sent anything at all.
struct SseRead {
  long status = 0;
  std::vector<Json> events;
  std::vector<uint64_t> ids;
  std::vector<std::string> named;  // `event:` lines (gap, error)
  std::string body;
  std::atomic<bool> opened{false};
};

struct SseContext {
  SseRead* read;
  std::string partial;
  std::function<bool(const SseRead&)> done;
  std::mutex* mu;
};

size_t OnSse(char* data, size_t size, size_t n, void* p) {
  auto* ctx = static_cast<SseContext*>(p);
  std::lock_guard<std::mutex> lock(*ctx->mu);
  ctx->read->opened.store(true);
  ctx->read->body.append(data, size * n);
  ctx->partial.append(data, size * n);
  size_t nl;
  while ((nl = ctx->partial.find('\n')) != std::string::npos) {
    std::string line = ctx->partial.substr(0, nl);
    ctx->partial.erase(0, nl + 1);
    if (line.rfind("data: ", 0) == 0) {
      Json j = Json::parse(line.substr(6), nullptr, false);
      if (j.is_object() && j.contains("seq")) ctx->read->events.push_back(j);
    } else if (line.rfind("id: ", 0) == 0) {
      ctx->read->ids.push_back(std::stoull(line.substr(4)));
    } else if (line.rfind("event: ", 0) == 0) {
      ctx->read->named.push_back(line.substr(7));
    }
  }
  return ctx->done(*ctx->read) ? 0 : size * n;  // 0 ends the transfer
}

// Reads the stream at `url` until `done` says so (or 30 s pass: the test then fails on what it
// read). `header` is sent as is when not empty.
void ReadSse(const std::string& url, const std::string& header,
             std::function<bool(const SseRead&)> done, SseRead* out) {
  std::mutex mu;
  SseContext ctx{out, "", std::move(done), &mu};
  CURL* c = curl_easy_init();
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, OnSse);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &ctx);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 30000L);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_slist* h = curl_slist_append(nullptr, "Accept: text/event-stream");
  if (!header.empty()) h = curl_slist_append(h, header.c_str());
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
  curl_easy_perform(c);
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &out->status);
  curl_easy_cleanup(c);
  curl_slist_free_all(h);
}

bool Has(const std::vector<Json>& events, const std::string& id, const std::string& state) {
  for (const auto& e : events)
    if (e["id"] == id && e["state"] == state) return true;
  return false;
}

class EventsTest : public testing::DirTest {
 protected:
  static void SetUpTestSuite() { curl_global_init(CURL_GLOBAL_DEFAULT); }
  static void TearDownTestSuite() { curl_global_cleanup(); }

  std::unique_ptr<NodeProcess> StartNode(const std::string& id, std::vector<std::string> extra = {}) {
    http_port_ = FreePort();
    extra.insert(extra.end(), {"--http", "127.0.0.1:" + std::to_string(http_port_)});
    auto n = std::make_unique<NodeProcess>(id, dir_ + "/" + id, 2, extra);
    EXPECT_TRUE(n->Start()) << "node did not start";
    return n;
  }
  std::string Url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(http_port_) + path;
  }
  // Submits an echo job and waits until it has succeeded; returns its id.
  static std::string RunJob(Client& c, const std::string& queue = "default") {
    JobSpec spec;
    spec.type = "echo";
    spec.queue = queue;
    auto r = c.Submit(spec);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    if (!r.ok()) return "";
    auto w = c.Wait(r.value().id, 10000);
    EXPECT_TRUE(w.ok() && w.value().state == JobState::kSucceeded);
    return r.value().id;
  }

  int http_port_ = 0;
};

TEST_F(EventsTest, SseStreamsLiveAndResumesWithSinceAndLastEventId) {
  auto n = StartNode("n1");
  auto c = n->Connect();
  ASSERT_TRUE(c);
  std::string first = RunJob(*c);

  // Live: listen, then run a job; its events arrive on the open stream.
  SseRead live;
  std::string second;
  std::atomic<bool> submitted{false};
  std::thread reader([&] {
    ReadSse(Url("/api/events"), "",
            [&](const SseRead& r) { return submitted && Has(r.events, second, "succeeded"); },
            &live);
  });
  ASSERT_TRUE(Eventually([&] { return live.opened.load(); }));
  second = RunJob(*c);
  submitted = true;
  // One more event wakes the reader's predicate even if `second` succeeded before it was set.
  RunJob(*c);
  reader.join();
  EXPECT_EQ(live.status, 200);
  EXPECT_TRUE(Has(live.events, first, "queued")) << live.body;  // since 0: history first
  EXPECT_TRUE(Has(live.events, second, "running")) << live.body;
  ASSERT_TRUE(Has(live.events, second, "succeeded")) << live.body;
  // Every event: seq, id, state, queue, type, at; ids are the seqs, strictly increasing.
  ASSERT_EQ(live.ids.size(), live.events.size());
  for (size_t i = 0; i < live.events.size(); ++i) {
    const Json& e = live.events[i];
    for (const char* k : {"seq", "id", "state", "queue", "type", "at", "attempt"})
      EXPECT_TRUE(e.contains(k)) << k << " missing: " << e.dump();
    EXPECT_EQ(e["seq"].get<uint64_t>(), live.ids[i]);
    if (i > 0) EXPECT_EQ(live.ids[i], live.ids[i - 1] + 1);
  }
  uint64_t seen = live.ids.back();

  // Missed while disconnected: a job runs, then a reconnect with Last-Event-ID gets exactly
  // what came after the last id it saw.
  std::string missed = RunJob(*c, "mail");
  SseRead resumed;
  ReadSse(Url("/api/events"), "Last-Event-ID: " + std::to_string(seen),
          [&](const SseRead& r) { return Has(r.events, missed, "succeeded"); }, &resumed);
  ASSERT_FALSE(resumed.events.empty()) << resumed.body;
  EXPECT_EQ(resumed.events.front()["seq"].get<uint64_t>(), seen + 1);
  EXPECT_TRUE(Has(resumed.events, missed, "queued"));
  EXPECT_FALSE(Has(resumed.events, second, "succeeded"));

  // since= and a queue filter: only the mail job's events.
  SseRead mail;
  ReadSse(Url("/api/events?queue=mail&since=0"), "",
          [&](const SseRead& r) { return Has(r.events, missed, "succeeded"); }, &mail);
  ASSERT_FALSE(mail.events.empty()) << mail.body;
  for (const auto& e : mail.events) EXPECT_EQ(e["queue"], "mail") << e.dump();
  // One job's events.
  SseRead one;
  ReadSse(Url("/api/events?job=" + first), "",
          [&](const SseRead& r) { return Has(r.events, first, "succeeded"); }, &one);
  for (const auto& e : one.events) EXPECT_EQ(e["id"], first) << e.dump();

  // A bad parameter is the JSON error shape, not a stream.
  SseRead bad;
  ReadSse(Url("/api/events?since=yesterday"), "", [](const SseRead&) { return false; }, &bad);
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(Json::parse(bad.body, nullptr, false)["error"]["code"], "invalid_argument") << bad.body;
  // A Last-Event-ID past the node's newest event: a `gap` event, then the stream goes on.
  SseRead future;
  ReadSse(Url("/api/events"), "Last-Event-ID: 999999",
          [](const SseRead& r) { return !r.named.empty(); }, &future);
  ASSERT_FALSE(future.named.empty()) << future.body;
  EXPECT_EQ(future.named.front(), "gap");
}

TEST_F(EventsTest, TheStreamNeedsTheReadScope) {
  const std::string config = dir_ + "/tokens.toml";
  std::ofstream(config) << testing::TokenToml("reader", testing::kReaderSecretSha256, R"(["read"])")
                        << testing::TokenToml("writer", testing::kWriterSecretSha256, R"(["write"])");
  auto n = StartNode("n1", {"--config", config});
  SseRead anonymous, writer, reader;
  ReadSse(Url("/api/events"), "", [](const SseRead&) { return false; }, &anonymous);
  EXPECT_EQ(anonymous.status, 401);
  ReadSse(Url("/api/events"), "Authorization: Bearer writer-secret",
          [](const SseRead&) { return false; }, &writer);
  EXPECT_EQ(writer.status, 403);
  ReadSse(Url("/api/events"), "Authorization: Bearer reader-secret",
          [](const SseRead& r) { return r.opened.load(); }, &reader);
  EXPECT_EQ(reader.status, 200);
}

TEST_F(EventsTest, ALongPollIsAnsweredByTheNextJobAndSeqsSurviveARestart) {
  auto n = StartNode("n1");
  auto c = n->Connect();
  ASSERT_TRUE(c);
  std::string first = RunJob(*c);
  auto page = c->Events(EventQuery{});
  ASSERT_TRUE(page.ok()) << page.status().ToString();
  ASSERT_EQ(page.value().events.size(), 3u);  // queued, running, succeeded
  EXPECT_EQ(page.value().events[0].seq, 1u);
  EXPECT_EQ(page.value().events[2].state, JobState::kSucceeded);
  EXPECT_EQ(page.value().next, 3u);
  EXPECT_EQ(page.value().oldest, 1u);
  EXPECT_FALSE(page.value().gap);

  // Held until the next job's first event is durable.
  Result<EventPage> held = Status::Internal("not answered");
  std::thread poll([&] {
    auto c2 = n->Connect();
    EventQuery q;
    q.since = 3;
    q.wait_ms = 30000;
    if (c2) held = c2->Events(q);
  });
  std::string second = RunJob(*c);
  poll.join();
  ASSERT_TRUE(held.ok()) << held.status().ToString();
  ASSERT_FALSE(held.value().events.empty());
  EXPECT_EQ(held.value().events[0].seq, 4u);
  EXPECT_EQ(held.value().events[0].id, second);

  // The CLI, without following: every event as a JSON line, in seq order.
  auto out = RunCli("events --json --no-follow --to " + n->endpoint());
  ASSERT_EQ(out.exit_code, 0) << out.out;
  std::vector<Json> lines;
  std::istringstream in(out.out);
  for (std::string line; std::getline(in, line);) lines.push_back(Json::parse(line));
  ASSERT_EQ(lines.size(), 6u) << out.out;
  EXPECT_EQ(lines[5]["seq"], 6);
  EXPECT_EQ(lines[5]["id"], second);
  EXPECT_EQ(lines[5]["state"], "succeeded");
  // --since and --job.
  out = RunCli("events --json --no-follow --since 4 --job " + second + " --to " + n->endpoint());
  ASSERT_EQ(out.exit_code, 0);
  EXPECT_EQ(std::count(out.out.begin(), out.out.end(), '\n'), 2) << out.out;
  EXPECT_EQ(RunCli("events --queue 'bad queue' --no-follow --to " + n->endpoint()).exit_code, 2);

  // After SIGKILL the stream goes on from 7, and since=0 still replays the first job.
  n->Kill();
  ASSERT_TRUE(n->Start());
  c = n->Connect();
  ASSERT_TRUE(c);
  std::string third = RunJob(*c);
  page = c->Events(EventQuery{});
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page.value().events.size(), 9u);
  EXPECT_EQ(page.value().events[0].id, first);
  EXPECT_EQ(page.value().events[6].seq, 7u);
  EXPECT_EQ(page.value().events[6].id, third);
}

}  // namespace
}  // namespace jobnet
