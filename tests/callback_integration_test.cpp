// Callbacks end to end: real `jobnet node` processes POST to a real HTTP receiver in this test
// (a small blocking server on a loopback port). Covers a callback that fails twice (500) and then
// lands, signed; a destination refused at submit; and a delivery that survives SIGKILL (the
// receiver is down when the job ends, the node is killed, both come back: the POST arrives).
// Plus the signature itself (HMAC-SHA256, RFC 4231 vectors).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <deque>
#include <fstream>
#include <map>
#include <mutex>
#include <thread>

#include <curl/curl.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "http/callbacks.hpp"
#include "node_harness.hpp"

namespace jobnet::testing {
namespace {

// ---- the signature ----

TEST(CallbackSignatureTest, HmacSha256MatchesRfc4231) {
  // RFC 4231 test case 2.
  EXPECT_EQ(http::HmacSha256Hex("Jefe", "what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  // Test case 1: a 20-byte key of 0x0b.
  EXPECT_EQ(http::HmacSha256Hex(std::string(20, '\x0b'), "Hi There"),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
  EXPECT_EQ(http::CallbackSignature("Jefe", "what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST(CallbackSignatureTest, BodyIsTheJobAsJson) {
  JobInfo j;
  j.id = "n1-5";
  j.type = "echo";
  j.queue = "default";
  j.state = JobState::kSucceeded;
  j.callback = "http://127.0.0.1:9/x";
  j.callback_state = CallbackState::kPending;
  auto o = nlohmann::json::parse(http::CallbackBody(j));
  EXPECT_EQ(o["id"], "n1-5");
  EXPECT_EQ(o["state"], "succeeded");
  EXPECT_EQ(o["callback"], "http://127.0.0.1:9/x");
  EXPECT_EQ(o["callback_state"], "pending");
}

// ---- a receiver ----

struct Delivery {
  std::string target;
  std::map<std::string, std::string> headers;  // lowercased names
  std::string body;
  int answered = 0;  // the status it was answered with
};

// Serves POSTs on 127.0.0.1:port, one connection at a time, answering each with the next status
// of `statuses` (200 once they run out), and records them.
class Receiver {
 public:
  explicit Receiver(int port, std::deque<int> statuses = {}) : statuses_(std::move(statuses)) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    ::setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(static_cast<uint16_t>(port));
    ok_ = ::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 && ::listen(fd_, 16) == 0;
    thread_ = std::thread([this] { Serve(); });
  }
  ~Receiver() {
    stop_ = true;
    thread_.join();
    ::close(fd_);
  }
  bool ok() const { return ok_; }
  std::vector<Delivery> got() {
    std::lock_guard<std::mutex> l(mu_);
    return got_;
  }

 private:
  void Serve() {
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      int c = ::accept(fd_, nullptr, nullptr);
      if (c < 0) continue;
      Handle(c);
      ::close(c);
    }
  }
  void Handle(int c) {
    std::string in;
    char buf[4096];
    size_t head_end = std::string::npos;
    size_t length = 0;
    for (;;) {
      pollfd p{c, POLLIN, 0};
      if (::poll(&p, 1, 5000) <= 0) return;
      ssize_t n = ::read(c, buf, sizeof buf);
      if (n <= 0) return;
      in.append(buf, static_cast<size_t>(n));
      if (head_end == std::string::npos && (head_end = in.find("\r\n\r\n")) != std::string::npos) {
        Delivery d;
        std::string head = in.substr(0, head_end);
        size_t line_end = head.find("\r\n");
        std::string request_line = head.substr(0, line_end);
        d.target = request_line.substr(request_line.find(' ') + 1);
        d.target = d.target.substr(0, d.target.find(' '));
        size_t pos = line_end == std::string::npos ? head.size() : line_end + 2;
        while (pos < head.size()) {
          size_t e = head.find("\r\n", pos);
          if (e == std::string::npos) e = head.size();
          std::string line = head.substr(pos, e - pos);
          size_t colon = line.find(':');
          if (colon != std::string::npos) {
            std::string name = line.substr(0, colon);
            for (char& ch : name) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
            std::string value = line.substr(colon + 1);
            value.erase(0, value.find_first_not_of(' '));
            d.headers[name] = value;
          }
          pos = e + 2;
        }
        length = std::stoul(d.headers.count("content-length") ? d.headers["content-length"] : "0");
        pending_ = std::move(d);
      }
      if (head_end != std::string::npos && in.size() >= head_end + 4 + length) break;
    }
    pending_.body = in.substr(head_end + 4, length);
    int status = 200;
    {
      std::lock_guard<std::mutex> l(mu_);
      if (!statuses_.empty()) {
        status = statuses_.front();
        statuses_.pop_front();
      }
      pending_.answered = status;
      got_.push_back(pending_);
    }
    std::string reply = "HTTP/1.1 " + std::to_string(status) + " X\r\nContent-Length: 0\r\n"
                        "Connection: close\r\n\r\n";
    (void)!::write(c, reply.data(), reply.size());
  }

  int fd_ = -1;
  bool ok_ = false;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  std::mutex mu_;
  std::deque<int> statuses_;
  std::vector<Delivery> got_;
  Delivery pending_;
};

// One HTTP request to the node's HTTP face: (status, body).
std::pair<long, std::string> Http(const std::string& method, const std::string& url,
                                  const std::string& body = "") {
  std::pair<long, std::string> r{0, ""};
  CURL* c = curl_easy_init();
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method.c_str());
  if (!body.empty()) curl_easy_setopt(c, CURLOPT_COPYPOSTFIELDS, body.c_str());
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, +[](char* p, size_t s, size_t n, void* out) {
    static_cast<std::string*>(out)->append(p, s * n);
    return s * n;
  });
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &r.second);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 30000L);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  if (curl_easy_perform(c) == CURLE_OK) curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.first);
  curl_easy_cleanup(c);
  return r;
}

// ---- against a node ----

class CallbackIntegrationTest : public DirTest {
 protected:
  static constexpr const char* kSecret = "s3cret-for-tests";
  // A node whose callbacks retry quickly, signed with kSecret.
  std::unique_ptr<NodeProcess> StartNode(const std::string& name,
                                         std::vector<std::string> extra = {}) {
    std::string config = dir_ + "/" + name + ".toml";
    std::ofstream(config) << "[callbacks]\n"
                             "allow = [\"127.0.0.0/8\", \"::1\"]\n"
                             "secret = \"" << kSecret << "\"\n"
                             "backoff = \"100ms\"\n"
                             "backoff_max = \"300ms\"\n"
                             "timeout = \"2s\"\n";
    extra.push_back("--config");
    extra.push_back(config);
    auto node = std::make_unique<NodeProcess>(name, dir_ + "/" + name, 2, extra);
    EXPECT_TRUE(node->Start()) << "node did not start; see " << node->log_path();
    return node;
  }
  static JobSpec Echo(const std::string& callback) {
    JobSpec s;
    s.type = "echo";
    s.payload = Pack(std::string("called back"));
    s.callback = callback;
    return s;
  }
  static void ExpectSigned(const Delivery& d) {
    EXPECT_EQ(d.headers.at("content-type"), "application/json");
    EXPECT_EQ(d.headers.at("x-jobnet-signature"), http::CallbackSignature(kSecret, d.body));
    EXPECT_FALSE(d.headers.at("x-jobnet-delivery").empty());
  }
};

TEST_F(CallbackIntegrationTest, FailsTwiceThenLandsSigned) {
  int port = FreePort();
  Receiver receiver(port, {500, 500, 200});
  ASSERT_TRUE(receiver.ok());
  auto node = StartNode("n1");
  auto client = node->Connect();
  ASSERT_NE(client, nullptr);
  std::string url = "http://127.0.0.1:" + std::to_string(port) + "/done?k=v";
  auto r = client->Submit(Echo(url));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  const std::string id = r.value().id;
  ASSERT_TRUE(Eventually([&] {
    auto j = client->GetStatus(id);
    return j.ok() && j.value().callback_state == CallbackState::kDelivered;
  })) << "not delivered; see " << node->log_path();
  auto got = receiver.got();
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0].answered, 500);
  EXPECT_EQ(got[1].answered, 500);
  EXPECT_EQ(got[2].answered, 200);
  for (size_t i = 0; i < got.size(); ++i) {
    ExpectSigned(got[i]);
    EXPECT_EQ(got[i].target, "/done?k=v");
    EXPECT_EQ(got[i].headers.at("x-jobnet-delivery"), got[0].headers.at("x-jobnet-delivery"));
    EXPECT_EQ(got[i].headers.at("x-jobnet-attempt"), std::to_string(i + 1));
    auto job = nlohmann::json::parse(got[i].body);
    EXPECT_EQ(job["id"], id);
    EXPECT_EQ(job["state"], "succeeded");
    EXPECT_EQ(job["result"], "called back");
    EXPECT_EQ(job["callback"], url);
  }
  auto j = client->GetStatus(id);
  ASSERT_TRUE(j.ok());
  EXPECT_EQ(j.value().callback, url);
  EXPECT_EQ(j.value().callback_attempts, 3u);
  EXPECT_TRUE(j.value().callback_error.empty());
  auto stats = client->Stats();
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats.value().counters["callbacks_delivered"], 1u);
  EXPECT_EQ(stats.value().counters["callback_attempts"], 3u);
  EXPECT_EQ(stats.value().counters["callbacks_pending"], 0u);
  // `jobnet status` shows the delivery.
  auto cli = RunCli("status " + id + " --to " + node->endpoint());
  EXPECT_EQ(cli.exit_code, 0);
  EXPECT_NE(cli.out.find("delivered"), std::string::npos) << cli.out;
  EXPECT_NE(cli.out.find(url), std::string::npos) << cli.out;
}

TEST_F(CallbackIntegrationTest, DestinationRefusedAtSubmit) {
  auto node = StartNode("n1");
  auto client = node->Connect();
  ASSERT_NE(client, nullptr);
  for (const char* url : {"http://10.1.2.3/hook", "http://example.com/hook", "ftp://127.0.0.1/x",
                          "127.0.0.1:80/x"}) {
    auto r = client->Submit(Echo(url));
    ASSERT_FALSE(r.ok()) << url;
    EXPECT_TRUE(r.status().IsInvalidArgument()) << url << ": " << r.status().ToString();
  }
  auto cli = RunCli("submit echo 1 --callback http://10.1.2.3/hook --to " + node->endpoint());
  EXPECT_NE(cli.exit_code, 0);
  auto list = client->List(ListQuery{});
  ASSERT_TRUE(list.ok());
  EXPECT_TRUE(list.value().empty());  // nothing was taken
}

TEST_F(CallbackIntegrationTest, PendingDeliverySurvivesSigkill) {
  int port = FreePort();  // nothing listens yet: every attempt is refused
  auto node = StartNode("n1");
  auto client = node->Connect();
  ASSERT_NE(client, nullptr);
  auto r = client->Submit(Echo("http://127.0.0.1:" + std::to_string(port) + "/cb"));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  const std::string id = r.value().id;
  // The job ended and its delivery failed at least once: it is pending in the journal.
  ASSERT_TRUE(Eventually([&] {
    auto j = client->GetStatus(id);
    return j.ok() && j.value().state == JobState::kSucceeded &&
           j.value().callback_state == CallbackState::kPending && j.value().callback_attempts >= 1;
  }));
  EXPECT_FALSE(client->GetStatus(id).value().callback_error.empty());
  client.reset();
  node->Kill();  // SIGKILL
  Receiver receiver(port);
  ASSERT_TRUE(receiver.ok());
  ASSERT_TRUE(node->Start());
  client = node->Connect();
  ASSERT_NE(client, nullptr);
  ASSERT_TRUE(Eventually([&] { return !receiver.got().empty(); })) << "see " << node->log_path();
  auto got = receiver.got();
  ExpectSigned(got[0]);
  EXPECT_EQ(nlohmann::json::parse(got[0].body)["id"], id);
  ASSERT_TRUE(Eventually([&] {
    auto j = client->GetStatus(id);
    return j.ok() && j.value().callback_state == CallbackState::kDelivered;
  }));
}

TEST_F(CallbackIntegrationTest, HttpFaceTakesShowsAndCountsCallbacks) {
  int port = FreePort();
  Receiver receiver(port);
  ASSERT_TRUE(receiver.ok());
  const std::string base = "http://127.0.0.1:" + std::to_string(FreePort());
  auto node = StartNode("n1", {"--http", base.substr(7)});
  const std::string url = "http://127.0.0.1:" + std::to_string(port) + "/hook";
  auto refused = Http("POST", base + "/api/jobs", R"({"type":"echo","callback":"http://10.0.0.1/x"})");
  EXPECT_EQ(refused.first, 400);
  EXPECT_EQ(nlohmann::json::parse(refused.second)["error"]["code"], "invalid_argument");
  auto sub = Http("POST", base + "/api/jobs?wait=true",
                  R"({"type":"echo","payload":7,"callback":")" + url + R"("})");
  ASSERT_EQ(sub.first, 200) << sub.second;
  auto job = nlohmann::json::parse(sub.second);
  EXPECT_EQ(job["callback"], url);
  const std::string id = job["id"];
  ASSERT_TRUE(Eventually([&] {
    auto j = nlohmann::json::parse(Http("GET", base + "/api/jobs/" + id).second);
    return j.value("callback_state", "") == "delivered";
  }));
  auto j = nlohmann::json::parse(Http("GET", base + "/api/jobs/" + id).second);
  EXPECT_EQ(j["callback_attempts"], 1);
  EXPECT_EQ(j["callback_error"], nullptr);
  // The POSTed body is the job as GET /api/jobs/{id} showed it then (still pending).
  auto posted = nlohmann::json::parse(receiver.got().at(0).body);
  EXPECT_EQ(posted["callback_state"], "pending");
  posted.erase("callback_state");
  j.erase("callback_state");
  posted.erase("callback_attempts");
  j.erase("callback_attempts");
  posted.erase("callback_next_at");
  j.erase("callback_next_at");
  EXPECT_EQ(posted, j);
  auto metrics = Http("GET", base + "/metrics").second;
  EXPECT_NE(metrics.find("jobnet_callbacks_pending{node=\"n1\"} 0"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("jobnet_callbacks_delivered_total{node=\"n1\"} 1"), std::string::npos);
  EXPECT_NE(metrics.find("jobnet_callbacks_failed_total{node=\"n1\"} 0"), std::string::npos);
}

}  // namespace
}  // namespace jobnet::testing
