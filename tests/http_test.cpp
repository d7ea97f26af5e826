// The HTTP face against real node processes (libcurl as the client): job routes and their
// JSON, the error shape and status mapping, synchronous waits (200 when final, 202 when not),
// many held waits on a few threads, forwarding to a job's owner, and start-up failures.
#include <gtest/gtest.h>

#include <curl/curl.h>
#include <nlohmann/json.hpp>

#include <atomic>
#include <csignal>
#include <fstream>
#include <iterator>
#include <map>
#include <thread>
#include <memory>
#include <string>
#include <vector>

#include "base/exit_codes.hpp"
#include "http/metrics.hpp"
#include "protocol/histograms.hpp"
#include "node_harness.hpp"

namespace jobnet {
namespace {

using Json = nlohmann::json;
using testing::Eventually;
using testing::FreePort;
using testing::NodeProcess;

struct Response {
  long status = 0;  // 0: no HTTP answer (connection refused or cut)
  std::string body;
  Json json() const { return Json::parse(body, nullptr, false); }
};

size_t Append(char* data, size_t size, size_t n, void* out) {
  static_cast<std::string*>(out)->append(data, size * n);
  return size * n;
}

// One easy handle set up for `method url` with `body`; the response goes into *r.
CURL* MakeRequest(const std::string& method, const std::string& url, const std::string& body,
                  Response* r) {
  CURL* c = curl_easy_init();
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method.c_str());
  if (method == "POST" || method == "PUT") {
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
    curl_easy_setopt(c, CURLOPT_COPYPOSTFIELDS, body.c_str());
  }
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, Append);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &r->body);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 60000L);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  return c;
}

Response Http(const std::string& method, const std::string& url, const std::string& body = "") {
  Response r;
  CURL* c = MakeRequest(method, url, body, &r);
  if (curl_easy_perform(c) == CURLE_OK) curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
  curl_easy_cleanup(c);
  return r;
}

// Sends every request at once (one connection each) and waits for all the answers.
std::vector<Response> HttpMany(const std::string& method, const std::string& url,
                               const std::vector<std::string>& bodies) {
  std::vector<Response> out(bodies.size());
  CURLM* m = curl_multi_init();
  curl_multi_setopt(m, CURLMOPT_MAX_TOTAL_CONNECTIONS, 0L);
  std::vector<CURL*> handles;
  for (size_t i = 0; i < bodies.size(); ++i) {
    handles.push_back(MakeRequest(method, url, bodies[i], &out[i]));
    curl_multi_add_handle(m, handles.back());
  }
  int running = 1;
  while (running > 0) {
    curl_multi_perform(m, &running);
    if (running > 0) curl_multi_poll(m, nullptr, 0, 1000, nullptr);
  }
  for (size_t i = 0; i < handles.size(); ++i) {
    curl_easy_getinfo(handles[i], CURLINFO_RESPONSE_CODE, &out[i].status);
    curl_multi_remove_handle(m, handles[i]);
    curl_easy_cleanup(handles[i]);
  }
  curl_multi_cleanup(m);
  return out;
}

// Threads of process `pid` now.
int ThreadsOf(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("Threads:", 0) == 0) return std::stoi(line.substr(8));
  return -1;
}

class HttpTest : public testing::DirTest {
 protected:
  static void SetUpTestSuite() { curl_global_init(CURL_GLOBAL_DEFAULT); }
  static void TearDownTestSuite() { curl_global_cleanup(); }

  // A node with an HTTP face on a free port; base_ is its URL.
  std::unique_ptr<NodeProcess> StartNode(const std::string& id, int workers,
                                         std::vector<std::string> extra = {}) {
    int port = FreePort();
    extra.insert(extra.end(), {"--http", "127.0.0.1:" + std::to_string(port)});
    auto n = std::make_unique<NodeProcess>(id, dir_ + "/" + id, workers, extra);
    EXPECT_TRUE(n->Start()) << "node did not start";
    std::string base = "http://127.0.0.1:" + std::to_string(port);
    EXPECT_TRUE(Eventually([&] { return Http("GET", base + "/healthz").status == 200; }));
    bases_[id] = base;
    return n;
  }

  std::map<std::string, std::string> bases_;
};

TEST_F(HttpTest, JobRoutesAnswerWithTheJobAndOneErrorShape) {
  auto n = StartNode("n1", 2);
  const std::string api = bases_["n1"] + "/api/jobs";

  Response sub = Http("POST", api, R"({"type":"echo","payload":{"x":[1,2]},"queue":"q1","priority":7})");
  ASSERT_EQ(sub.status, 201) << sub.body;
  Json job = sub.json();
  const std::string id = job["id"];
  EXPECT_EQ(id, "n1-1");
  for (const char* k : {"id", "type", "queue", "state", "result", "error", "attempts", "max_attempts",
                        "priority", "created_at", "started_at", "finished_at", "run_at"})
    EXPECT_TRUE(job.contains(k)) << k << " missing from " << sub.body;
  EXPECT_EQ(job["queue"], "q1");
  EXPECT_EQ(job["priority"], 7);

  ASSERT_TRUE(Eventually([&] { return Http("GET", api + "/" + id).json()["state"] == "succeeded"; }));
  EXPECT_EQ(Http("GET", api + "/" + id).json()["result"], Json::parse(R"({"x":[1,2]})"));

  // An idempotency key that matches answers 200 with the same job.
  Response k1 = Http("POST", api, R"({"type":"echo","payload":1,"key":"k-1"})");
  Response k2 = Http("POST", api, R"({"type":"echo","payload":1,"key":"k-1"})");
  EXPECT_EQ(k1.status, 201);
  EXPECT_EQ(k2.status, 200);
  EXPECT_EQ(k1.json()["id"], k2.json()["id"]);

  // List filters by type and queue and gives the next cursor.
  Http("POST", api, R"({"type":"sleep","payload":1,"queue":"q1"})");
  Response list = Http("GET", api + "?type=echo&queue=q1&limit=10");
  ASSERT_EQ(list.status, 200) << list.body;
  ASSERT_EQ(list.json()["jobs"].size(), 1u) << list.body;
  EXPECT_EQ(list.json()["next"], id);
  EXPECT_EQ(Http("GET", api + "?state=succeeded&limit=1").json()["jobs"].size(), 1u);

  // Cancel a delayed job, then retry it.
  std::string delayed = Http("POST", api, R"({"type":"echo","delay":"1h"})").json()["id"];
  Response cancel = Http("DELETE", api + "/" + delayed);
  EXPECT_EQ(cancel.status, 200) << cancel.body;
  EXPECT_EQ(cancel.json()["state"], "cancelled");
  Response again = Http("DELETE", api + "/" + delayed);
  EXPECT_EQ(again.status, 409) << again.body;
  EXPECT_EQ(again.json()["error"]["code"], "conflict");
  Response retry = Http("POST", api + "/" + delayed + "/retry");
  EXPECT_EQ(retry.status, 200) << retry.body;
  EXPECT_EQ(retry.json()["state"], "queued");

  // Errors: the status from the code, the body {"error": {"code", "message"}}.
  auto expect_error = [](const Response& r, long status, const std::string& code) {
    EXPECT_EQ(r.status, status) << r.body;
    Json j = r.json();
    ASSERT_TRUE(j.is_object() && j.contains("error")) << r.body;
    EXPECT_EQ(j["error"]["code"], code) << r.body;
    EXPECT_FALSE(j["error"]["message"].get<std::string>().empty());
  };
  expect_error(Http("GET", api + "/n1-999"), 404, "not_found");
  expect_error(Http("GET", api + "/nonsense"), 400, "invalid_argument");
  expect_error(Http("POST", api, "{not json"), 400, "invalid_argument");
  expect_error(Http("POST", api, R"({"payload":1})"), 400, "invalid_argument");
  expect_error(Http("POST", api, R"({"type":"echo","colour":"red"})"), 400, "invalid_argument");
  expect_error(Http("POST", api, R"({"type":"echo","priority":300})"), 400, "invalid_argument");
  expect_error(Http("POST", api, R"({"type":"echo","delay":"soon"})"), 400, "invalid_argument");
  expect_error(Http("POST", api, R"({"type":"bad type!"})"), 400, "invalid_argument");
  expect_error(Http("GET", api + "?state=sleeping"), 400, "invalid_argument");
  expect_error(Http("GET", api + "?limit=0"), 400, "invalid_argument");
  expect_error(Http("GET", api + "?colour=red"), 400, "invalid_argument");
  expect_error(Http("GET", bases_["n1"] + "/api/nothing"), 404, "not_found");
  // A payload over the protocol's limit, inside the body limit: the node's too_large.
  std::string big_payload = "\"" + std::string(1100000, 'a') + "\"";
  expect_error(Http("POST", api, R"({"type":"echo","payload":)" + big_payload + "}"), 413, "too_large");
  // A body over the body limit: 413 before anything is parsed.
  std::string huge = "\"" + std::string(3u << 20, 'a') + "\"";
  expect_error(Http("POST", api, huge), 413, "too_large");

  // The node kept serving through all of it.
  EXPECT_EQ(Http("GET", bases_["n1"] + "/healthz").status, 200);
  EXPECT_EQ(Http("GET", bases_["n1"] + "/readyz").status, 200);
  Response nodes = Http("GET", bases_["n1"] + "/api/nodes");
  ASSERT_EQ(nodes.status, 200);
  EXPECT_EQ(nodes.json()["nodes"][0]["node"], "n1");
}

// Batches, queues and workers over HTTP: one answer per spec, settings in and out, a live resize.
TEST_F(HttpTest, BatchQueuesAndWorkersRoutes) {
  auto n = StartNode("n1", 2);
  const std::string b = bases_["n1"];
  Response batch = Http("POST", b + "/api/jobs/batch",
                        R"([{"type":"echo","payload":1},{"type":"no_such_type"},{"type":"echo","colour":1},{"type":"echo","payload":4}])");
  ASSERT_EQ(batch.status, 200) << batch.body;
  Json items = batch.json()["items"];
  ASSERT_EQ(items.size(), 4u);
  EXPECT_EQ(items[0]["id"], "n1-1");
  EXPECT_EQ(items[1]["error"]["code"], "invalid_argument");
  EXPECT_EQ(items[2]["error"]["code"], "invalid_argument");
  EXPECT_EQ(items[3]["id"], "n1-2");
  EXPECT_EQ(Http("POST", b + "/api/jobs/batch", "[]").status, 400);
  std::string big = "[";
  for (int i = 0; i < 1001; ++i) big += std::string(i ? "," : "") + R"({"type":"echo"})";
  EXPECT_EQ(Http("POST", b + "/api/jobs/batch", big + "]").status, 413);

  Response set = Http("PUT", b + "/api/queues/stack", R"({"order":"lifo","weight":3,"concurrency":2})");
  ASSERT_EQ(set.status, 200) << set.body;
  EXPECT_EQ(set.json()["order"], "lifo");
  EXPECT_EQ(set.json()["weight"], 3);
  EXPECT_EQ(Http("POST", b + "/api/queues/stack/pause").json()["paused"], true);
  Response queues = Http("GET", b + "/api/queues");
  bool listed = false;
  Json list = queues.json();
  for (const auto& q : list["queues"])
    if (q["name"] == "stack") listed = q["paused"] == true && q["concurrency"] == 2;
  EXPECT_TRUE(listed) << queues.body;
  EXPECT_EQ(Http("POST", b + "/api/queues/stack/resume").json()["paused"], false);
  EXPECT_EQ(Http("PUT", b + "/api/queues/stack", R"({"order":"random"})").status, 400);
  EXPECT_EQ(Http("PUT", b + "/api/queues/stack", R"({"speed":1})").status, 400);

  Response grow = Http("POST", b + "/api/workers", R"({"workers":4})");
  ASSERT_EQ(grow.status, 200) << grow.body;
  EXPECT_EQ(grow.json()["workers"], 4);
  EXPECT_EQ(Http("GET", b + "/api/workers").json()["slots"].size(), 4u);
  EXPECT_EQ(Http("POST", b + "/api/workers", R"({"workers":0})").status, 400);
  EXPECT_EQ(Http("POST", b + "/api/workers", R"({"workers":"many"})").status, 400);
}

TEST_F(HttpTest, WaitReturnsTheFinishedJobOr202WithTheJobAsItStands) {
  auto n = StartNode("n1", 2);
  const std::string api = bases_["n1"] + "/api/jobs";
  Response done = Http("POST", api + "?wait=true&timeout=20s", R"({"type":"sleep","payload":200})");
  ASSERT_EQ(done.status, 200) << done.body;
  EXPECT_EQ(done.json()["state"], "succeeded");
  EXPECT_EQ(done.json()["result"], 200);

  Response pending = Http("POST", api + "?wait=true&timeout=100ms", R"({"type":"sleep","payload":3000})");
  ASSERT_EQ(pending.status, 202) << pending.body;
  EXPECT_EQ(pending.json()["state"], "running");

  Response failed = Http("POST", api + "?wait=true", R"({"type":"fail","max_attempts":1})");
  ASSERT_EQ(failed.status, 200) << failed.body;
  EXPECT_EQ(failed.json()["state"], "dead");

  EXPECT_EQ(Http("POST", api + "?wait=maybe", R"({"type":"echo"})").status, 400);
  EXPECT_EQ(Http("POST", api + "?wait=true&timeout=2h", R"({"type":"echo"})").status, 400);
}

// Held requests cost no thread: a thousand waits are held at once by a node whose thread
// count does not grow with them.
TEST_F(HttpTest, AThousandHeldWaitsOnAFewThreads) {
  auto n = StartNode("n1", 64);
  const int idle_threads = ThreadsOf(n->pid());
  ASSERT_GT(idle_threads, 0);
  std::vector<std::string> bodies(1000, R"({"type":"sleep","payload":300})");
  int max_threads = idle_threads;
  std::thread watcher;
  std::atomic<bool> stop{false};
  watcher = std::thread([&] {
    while (!stop) {
      max_threads = std::max(max_threads, ThreadsOf(n->pid()));
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  });
  auto out = HttpMany("POST", bases_["n1"] + "/api/jobs?wait=true&timeout=60s", bodies);
  stop = true;
  watcher.join();
  int ok = 0;
  for (const auto& r : out) ok += r.status == 200 && r.json()["state"] == "succeeded";
  EXPECT_EQ(ok, 1000) << "first: " << out[0].status << " " << out[0].body;
  // Not one thread per request (that would be about a thousand more); a few may start lazily.
  EXPECT_LT(max_threads, idle_threads + 10) << "the node started threads for held requests";
}

// Any node answers for any job: n1's HTTP face reaches a job owned by n2 through forwarding.
TEST_F(HttpTest, AnyNodeAnswersForAnyJob) {
  int p1 = FreePort(), p2 = FreePort();
  std::string e1 = "tcp://127.0.0.1:" + std::to_string(p1), e2 = "tcp://127.0.0.1:" + std::to_string(p2);
  auto n1 = std::make_unique<NodeProcess>("n1", dir_ + "/n1", 2);
  auto n2 = std::make_unique<NodeProcess>("n2", dir_ + "/n2", 2);
  int h1 = FreePort(), h2 = FreePort();
  n1->SetListen(e1);
  n2->SetListen(e2);
  n1->AddArgs({"--peer", e2, "--http", "127.0.0.1:" + std::to_string(h1)});
  n2->AddArgs({"--peer", e1, "--http", "127.0.0.1:" + std::to_string(h2)});
  ASSERT_TRUE(n1->Start());
  ASSERT_TRUE(n2->Start());
  std::string b1 = "http://127.0.0.1:" + std::to_string(h1), b2 = "http://127.0.0.1:" + std::to_string(h2);
  ASSERT_TRUE(Eventually([&] { return Http("GET", b1 + "/healthz").status == 200; }));
  Response sub = Http("POST", b2 + "/api/jobs?wait=true", R"({"type":"echo","payload":"hi"})");
  ASSERT_EQ(sub.status, 200) << sub.body;
  std::string id = sub.json()["id"];
  ASSERT_EQ(id.rfind("n2-", 0), 0u) << id;
  Response via_n1;
  ASSERT_TRUE(Eventually([&] {
    via_n1 = Http("GET", b1 + "/api/jobs/" + id);
    return via_n1.status == 200;
  })) << via_n1.status << " " << via_n1.body;
  EXPECT_EQ(via_n1.json()["state"], "succeeded");
  EXPECT_EQ(via_n1.json()["result"], "hi");
}

// The exposition: every known counter under its Prometheus name (zeros included), gauges for
// levels, job states and queues as labels.
TEST(HttpMetricsTest, RendersEveryCounterAndTheLevels) {
  protocol::StatsReply st;
  st.node = "n7";
  st.workers = 4;
  st.busy = 3;
  st.jobs = {{"queued", 5}, {"succeeded", 20}};
  st.queues = {{"default", 5}};
  st.counters = {{"submitted", 25}, {"succeeded", 20}, {"waiters", 2}, {"journal_sync_us_avg", 1500},
                 {"from_a_newer_node", 9}, {"rejected_not_found", 3}};
  st.queue_totals["default"] = {{"submitted", 25}, {"succeeded", 20}};
  Histogram run = protocol::MakeHistogram({0.5, 1});
  protocol::Observe(&run, 0.7);
  st.histograms[protocol::kRunSeconds] = run;
  QueueInfo q;
  q.settings.name = "default";
  q.queued = 4;
  q.delayed = 1;
  q.oldest_wait_ms = 2500;
  http::FaceCounters face;
  face.held = 2;
  face.responses[2] = 40;
  std::string text = http::RenderMetrics(st, {q}, face);
  auto has = [&](const std::string& line) {
    return text.find("\n" + line + "\n") != std::string::npos || text.rfind(line + "\n", 0) == 0;
  };
  EXPECT_TRUE(has("# TYPE jobnet_jobs_submitted_total counter")) << text;
  EXPECT_TRUE(has("jobnet_jobs_submitted_total{node=\"n7\",queue=\"default\"} 25")) << text;
  EXPECT_EQ(text.find("jobnet_jobs_submitted_total{node=\"n7\"}"), std::string::npos)
      << "one label set per family: by queue only";
  EXPECT_TRUE(has("jobnet_jobs_finished_total{node=\"n7\",queue=\"default\",state=\"succeeded\"} 20")) << text;
  EXPECT_TRUE(has("jobnet_requests_rejected_total{code=\"not_found\",node=\"n7\"} 3")) << text;
  EXPECT_TRUE(has("jobnet_requests_rejected_total{code=\"overloaded\",node=\"n7\"} 0")) << text;
  EXPECT_TRUE(has("jobnet_transport_bytes_out_total{node=\"n7\"} 0")) << text;
  EXPECT_TRUE(has("# TYPE jobnet_run_seconds histogram")) << text;
  EXPECT_TRUE(has("jobnet_run_seconds_bucket{node=\"n7\",le=\"0.5\"} 0")) << text;
  EXPECT_TRUE(has("jobnet_run_seconds_bucket{node=\"n7\",le=\"1\"} 1")) << text;
  EXPECT_TRUE(has("jobnet_run_seconds_bucket{node=\"n7\",le=\"+Inf\"} 1")) << text;
  EXPECT_TRUE(has("jobnet_run_seconds_count{node=\"n7\"} 1")) << text;
  EXPECT_TRUE(has("jobnet_queue_jobs{node=\"n7\",queue=\"default\",state=\"queued\"} 4")) << text;
  EXPECT_TRUE(has("jobnet_queue_oldest_wait_seconds{node=\"n7\",queue=\"default\"} 2.5")) << text;
  EXPECT_TRUE(has("jobnet_jobs_succeeded_total{node=\"n7\"} 20")) << text;
  EXPECT_TRUE(has("jobnet_jobs_dead_total{node=\"n7\"} 0")) << "a zero counter is shown";
  EXPECT_TRUE(has("# TYPE jobnet_waiters gauge")) << text;
  EXPECT_TRUE(has("jobnet_waiters{node=\"n7\"} 2")) << text;
  EXPECT_TRUE(has("jobnet_journal_sync_seconds_avg{node=\"n7\"} 0.0015")) << text;
  EXPECT_TRUE(has("jobnet_from_a_newer_node_total{node=\"n7\"} 9")) << text;
  EXPECT_TRUE(has("jobnet_jobs{node=\"n7\",state=\"succeeded\"} 20")) << text;
  EXPECT_TRUE(has("jobnet_queue_waiting_jobs{node=\"n7\",queue=\"default\"} 5")) << text;
  EXPECT_TRUE(has("jobnet_worker_slots{node=\"n7\",state=\"busy\"} 3")) << text;
  EXPECT_TRUE(has("jobnet_http_requests_held{node=\"n7\"} 2")) << text;
  EXPECT_TRUE(has("jobnet_http_responses_total{code=\"2xx\",node=\"n7\"} 40")) << text;
}

TEST_F(HttpTest, MetricsMoveWithWork) {
  auto n = StartNode("n1", 2);
  for (int i = 0; i < 5; ++i)
    ASSERT_EQ(Http("POST", bases_["n1"] + "/api/jobs?wait=true", R"({"type":"echo"})").status, 200);
  Response m = Http("GET", bases_["n1"] + "/metrics");
  ASSERT_EQ(m.status, 200);
  EXPECT_NE(m.body.find("jobnet_jobs_succeeded_total{node=\"n1\"} 5\n"), std::string::npos) << m.body;
  EXPECT_NE(m.body.find("jobnet_jobs{node=\"n1\",state=\"succeeded\"} 5\n"), std::string::npos) << m.body;
  EXPECT_NE(m.body.find("jobnet_jobs_submitted_total{node=\"n1\",queue=\"default\"} 5\n"), std::string::npos) << m.body;
  EXPECT_NE(m.body.find("jobnet_jobs_finished_total{node=\"n1\",queue=\"default\",state=\"succeeded\"} 5\n"),
            std::string::npos) << m.body;
  EXPECT_NE(m.body.find("jobnet_run_seconds_count{node=\"n1\"} 5\n"), std::string::npos) << m.body;
  EXPECT_EQ(Http("GET", bases_["n1"] + "/api/jobs/n1-999").status, 404);
  m = Http("GET", bases_["n1"] + "/metrics");
  EXPECT_NE(m.body.find("jobnet_requests_rejected_total{code=\"not_found\",node=\"n1\"} 1\n"), std::string::npos)
      << m.body;
  EXPECT_EQ(m.body.find("jobnet_transport_bytes_in_total{node=\"n1\"} 0\n"), std::string::npos) << m.body;
  EXPECT_NE(m.body.find("jobnet_queue_wait_seconds_count{node=\"n1\"} 5\n"), std::string::npos) << m.body;
  EXPECT_NE(m.body.find("jobnet_journal_sync_seconds_bucket{node=\"n1\",le=\"+Inf\"}"), std::string::npos) << m.body;
  EXPECT_NE(m.body.find("jobnet_queue_jobs{node=\"n1\",queue=\"default\",state=\"queued\"} 0\n"), std::string::npos) << m.body;
}

// With tokens configured: none or a wrong one 401, a missing scope 403; probes stay open.
TEST_F(HttpTest, TokensWithScopes) {
  const std::string config = dir_ + "/tokens.toml";
  std::filesystem::create_directories(dir_);
  std::ofstream(config) << testing::TokenToml("reader", testing::kReaderSecretSha256, R"(["read"])")
                        << testing::TokenToml("writer", testing::kWriterSecretSha256,
                                              R"(["read", "write"])");
  int port = FreePort();
  std::string base = "http://127.0.0.1:" + std::to_string(port);
  NodeProcess n("n1", dir_ + "/n1", 1, {"--http", "127.0.0.1:" + std::to_string(port), "--config", config});
  ASSERT_TRUE(n.Start());
  ASSERT_TRUE(Eventually([&] { return Http("GET", base + "/healthz").status == 200; }));
  auto with = [](const std::string& secret) { return "Authorization: Bearer " + secret; };
  auto call = [&](const std::string& method, const std::string& path, const std::string& header,
                  const std::string& body = "") {
    Response r;
    CURL* c = MakeRequest(method, base + path, body, &r);
    curl_slist* h = header.empty() ? nullptr : curl_slist_append(nullptr, header.c_str());
    if (h) curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    if (curl_easy_perform(c) == CURLE_OK) curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
    curl_easy_cleanup(c);
    curl_slist_free_all(h);
    return r;
  };
  EXPECT_EQ(call("GET", "/api/jobs", "").status, 401);
  EXPECT_EQ(call("GET", "/api/jobs", with("wrong")).status, 401);
  EXPECT_EQ(call("GET", "/api/jobs", "Authorization: Basic eDp5").status, 401);
  EXPECT_EQ(call("GET", "/api/jobs", with("reader-secret")).status, 200);
  Response forbidden = call("POST", "/api/jobs", with("reader-secret"), R"({"type":"echo"})");
  EXPECT_EQ(forbidden.status, 403);
  EXPECT_EQ(forbidden.json()["error"]["code"], "permission_denied");
  EXPECT_EQ(call("POST", "/api/jobs", with("writer-secret"), R"({"type":"echo"})").status, 201);
  EXPECT_EQ(call("GET", "/metrics", "").status, 401);
  EXPECT_EQ(call("GET", "/metrics", with("reader-secret")).status, 200);
  EXPECT_EQ(call("GET", "/readyz", "").status, 200);
  // No secret reaches the log.
  std::ifstream log(n.log_path());
  std::string text((std::istreambuf_iterator<char>(log)), std::istreambuf_iterator<char>());
  EXPECT_EQ(text.find("reader-secret"), std::string::npos);
  EXPECT_EQ(text.find("writer-secret"), std::string::npos);
}

// Secure by default: off loopback the face needs tokens, or the node does not start.
TEST_F(HttpTest, ANonLoopbackFaceWithoutTokensRefusesToStart) {
  NodeProcess n("n1", dir_ + "/n1", 1, {"--http", "0.0.0.0:" + std::to_string(FreePort())});
  EXPECT_FALSE(n.Start());
  EXPECT_EQ(WEXITSTATUS(n.Signal(0)), exit_code::kConfig);
}

// SIGTERM turns /readyz to 503 at once, while the drain lets a running job finish.
TEST_F(HttpTest, SigtermTurnsReadyzTo503WhileDraining) {
  auto n = StartNode("n1", 1);
  const std::string base = bases_["n1"];
  ASSERT_EQ(Http("POST", base + "/api/jobs", R"({"type":"sleep","payload":3000})").status, 201);
  ASSERT_TRUE(Eventually([&] { return Http("GET", base + "/api/jobs/n1-1").json()["state"] == "running"; }));
  ::kill(n->pid(), SIGTERM);
  Response r;
  ASSERT_TRUE(Eventually([&] {
    r = Http("GET", base + "/readyz");
    return r.status == 503;
  })) << r.status << " " << r.body;
  EXPECT_EQ(r.json()["status"], "draining");
  EXPECT_EQ(Http("GET", base + "/healthz").status, 200) << "live while it drains";
  EXPECT_EQ(WEXITSTATUS(n->Signal(0, std::chrono::seconds(20))), 0);
}

TEST_F(HttpTest, ABadOrTakenHttpAddressFailsTheStart) {
  NodeProcess bad("n1", dir_ + "/bad", 1, {"--http", "localhost"});
  EXPECT_FALSE(bad.Start());
  EXPECT_EQ(WEXITSTATUS(bad.Signal(0)), exit_code::kConfig);

  auto n = StartNode("n2", 1);
  std::string taken = bases_["n2"].substr(std::string("http://").size());
  NodeProcess clash("n3", dir_ + "/clash", 1, {"--http", taken});
  EXPECT_FALSE(clash.Start());
  EXPECT_EQ(WEXITSTATUS(clash.Signal(0)), exit_code::kListen);
}

}  // namespace
}  // namespace jobnet
