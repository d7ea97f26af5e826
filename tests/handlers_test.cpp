// The list of types (docs/handlers.md's table against the registry), and the text and HTTP task
// types, run as a worker runs them (handlers::Run) on real inputs: the
// sentiment rules (negation flips the label, boosts and "but"), summarize picking the central
// sentence, find_patterns' positions and a hostile pattern on a long input, and http_request
// against a local Python HTTP server (GET, POST, binary, size bound, cancel) and a refused
// host. Payload checks at submit go through Registry::CheckPayload, as the node's do.
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "handlers/registry.hpp"

namespace jobnet::handlers {
namespace {

using Json = nlohmann::json;

class HandlersTest : public ::testing::Test {
 protected:
  HandlersTest() {
    ctx_.job_id = "t-1";
    ctx_.attempt = 1;
    ctx_.deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    ctx_.cancelled = &cancelled_;
    ctx_.config = &config_;
  }
  static std::string Msgpack(const Json& j) {
    std::vector<uint8_t> b = Json::to_msgpack(j);
    return std::string(b.begin(), b.end());
  }
  // Runs `type` on `payload`; the result as JSON (null when the run failed: see error_).
  Json Run(const std::string& type, const Json& payload) {
    HandlerResult r = handlers::Run(type, Msgpack(payload), ctx_);
    error_ = r.error;
    if (!r.ok) return nullptr;
    return Json::from_msgpack(r.result);
  }
  Status Check(const std::string& type, const Json& payload) {
    return Registry::Global().CheckPayload(type, Msgpack(payload));
  }

  std::atomic<bool> cancelled_{false};
  HandlerConfig config_;
  HandlerContext ctx_;
  std::string error_;
};

// ---- the list of types: the registry's, and docs/handlers.md's table follows it ----

// The type names in the first column of docs/handlers.md's "| Type | Payload ... |" table.
std::set<std::string> DocumentedTypes() {
  std::ifstream in(std::string(JOBNET_SOURCE_DIR) + "/docs/handlers.md");
  std::set<std::string> types;
  bool in_table = false;
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("| Type |", 0) == 0) {
      in_table = true;
    } else if (in_table && line.rfind("|", 0) != 0) {
      break;
    } else if (in_table && line.rfind("| `", 0) == 0) {
      size_t end = line.find('`', 3);
      if (end != std::string::npos) types.insert(line.substr(3, end - 3));
    }
  }
  return types;
}

TEST_F(HandlersTest, DocsTableListsEveryRegisteredTypeAndNoOther) {
  std::vector<std::string> registered = Registry::Global().Types();
  EXPECT_EQ(DocumentedTypes(), std::set<std::string>(registered.begin(), registered.end()))
      << "docs/handlers.md's table of types and the registry differ: add or remove the row";
  for (const auto& h : Registry::Global().Describe()) {
    EXPECT_FALSE(h.payload.empty()) << h.type;
    EXPECT_FALSE(h.result.empty()) << h.type;
  }
}

// ---- sentiment ----

TEST_F(HandlersTest, SentimentNegationFlipsTheLabel) {
  Json good = Run("sentiment", "The new release is good.");
  ASSERT_FALSE(good.is_null()) << error_;
  EXPECT_EQ(good["label"], "positive");
  EXPECT_EQ(good["matched"], 1);
  Json not_good = Run("sentiment", "The new release is not good.");
  EXPECT_EQ(not_good["label"], "negative");
  EXPECT_EQ(Run("sentiment", "I don't really like it")["label"], "negative");
  EXPECT_EQ(Run("sentiment", "It is not bad at all")["label"], "positive");
  // A sentence end stops the negation.
  EXPECT_EQ(Run("sentiment", "Not now. The food was good")["label"], "positive");
}

TEST_F(HandlersTest, SentimentBoostersScaleAndButWeighsTheLaterClause) {
  double plain = Run("sentiment", "the service was good")["score"];
  double very = Run("sentiment", "the service was very good")["score"];
  double slightly = Run("sentiment", "the service was slightly good")["score"];
  EXPECT_GT(very, plain);
  EXPECT_LT(slightly, plain);
  EXPECT_GT(slightly, 0);
  EXPECT_EQ(Run("sentiment", "The food was great but the service was terrible")["label"],
            "negative");
  EXPECT_EQ(Run("sentiment", "The service was terrible but the food was great")["label"],
            "positive");
  Json neutral = Run("sentiment", "The meeting is on Tuesday at noon.");
  EXPECT_EQ(neutral["label"], "neutral");
  EXPECT_EQ(neutral["matched"], 0);
  EXPECT_EQ(neutral["words"], 7);
}

TEST_F(HandlersTest, SentimentLexiconLoadsAndPayloadIsChecked) {
  EXPECT_TRUE(Check("sentiment", "any text").ok());  // also proves the lexicon parsed
  EXPECT_TRUE(Check("sentiment", 42).IsInvalidArgument());
}

// ---- summarize ----

const char kEnergyText[] =
    "Solar panels convert sunlight into electricity for homes. "
    "Wind turbines generate electricity from moving air. "
    "Solar panels and wind turbines both generate clean electricity for homes and cities. "
    "Cities buy electricity from wind farms and solar parks. "
    "My cat sleeps all afternoon.";

TEST_F(HandlersTest, SummarizePicksTheCentralSentence) {
  Json r = Run("summarize", {{"text", kEnergyText}, {"n", 1}});
  ASSERT_FALSE(r.is_null()) << error_;
  ASSERT_EQ(r["sentences"].size(), 1u);
  EXPECT_EQ(r["sentences"][0],
            "Solar panels and wind turbines both generate clean electricity for homes and cities.");
  EXPECT_EQ(r["total"], 5);
  EXPECT_LE(r["iterations"].get<int>(), static_cast<int>(limits::kSummarizeIterationsMax));
  // The top three come back in the text's order, and the unrelated sentence is not among them.
  Json three = Run("summarize", {{"text", kEnergyText}, {"n", 3}});
  std::vector<int> idx = three["indices"];
  EXPECT_TRUE(std::is_sorted(idx.begin(), idx.end()));
  EXPECT_EQ(std::count(idx.begin(), idx.end(), 4), 0);
  EXPECT_EQ(Run("summarize", "One sentence only.")["sentences"][0], "One sentence only.");
}

TEST_F(HandlersTest, SummarizeRefusesBadPayloadsAtSubmit) {
  EXPECT_TRUE(Check("summarize", {{"text", "a. b."}, {"n", 0}}).IsInvalidArgument());
  EXPECT_TRUE(Check("summarize", {{"n", 2}}).IsInvalidArgument());
  EXPECT_TRUE(Check("summarize", {{"text", "x"}, {"top", 2}}).IsInvalidArgument());
  std::string many;
  for (uint32_t i = 0; i <= limits::kSummarizeSentencesMax; ++i) many += "Short one. ";
  EXPECT_TRUE(Check("summarize", many).IsInvalidArgument());
  EXPECT_TRUE(Check("summarize", {{"text", "fine."}, {"n", 2}}).ok());
}

// ---- find_patterns ----

TEST_F(HandlersTest, FindPatternsCountsAndPositionsInBytes) {
  Json r = Run("find_patterns", {{"text", "cat bat cat"}, {"patterns", {"cat", "b.t", "dog"}}});
  ASSERT_FALSE(r.is_null()) << error_;
  EXPECT_EQ(r["patterns"][0]["count"], 2);
  EXPECT_EQ(r["patterns"][0]["positions"], Json::parse("[[0,3],[8,11]]"));
  EXPECT_EQ(r["patterns"][1]["positions"], Json::parse("[[4,7]]"));
  EXPECT_EQ(r["patterns"][2]["count"], 0);
  // Past max_matches only the count goes on; empty matches advance a byte at a time.
  Json capped = Run("find_patterns", {{"text", "aaaa"}, {"patterns", {"a", "x*"}}, {"max_matches", 2}});
  EXPECT_EQ(capped["patterns"][0]["count"], 4);
  EXPECT_EQ(capped["patterns"][0]["positions"].size(), 2u);
  EXPECT_EQ(capped["patterns"][0]["truncated"], true);
  EXPECT_EQ(capped["patterns"][1]["count"], 5);
  // Offsets are bytes: "é" is two.
  EXPECT_EQ(Run("find_patterns", {{"text", "é!"}, {"patterns", {"!"}}})["patterns"][0]["positions"],
            Json::parse("[[2,3]]"));
}

TEST_F(HandlersTest, FindPatternsRefusesABadPatternAtSubmit) {
  Status s = Check("find_patterns", {{"text", "x"}, {"patterns", {"ok", "(unclosed"}}});
  EXPECT_TRUE(s.IsInvalidArgument());
  EXPECT_NE(s.message().find("pattern 1"), std::string::npos) << s.message();
  EXPECT_TRUE(Check("find_patterns", {{"text", "x"}, {"patterns", Json::array()}}).IsInvalidArgument());
  EXPECT_TRUE(Check("find_patterns", {{"patterns", {"a"}}}).IsInvalidArgument());
  EXPECT_TRUE(Check("find_patterns", {{"text", "x"}, {"patterns", {"a"}}, {"max_matches", 10001}})
                  .IsInvalidArgument());
}

// A backtracking engine takes exponential time on these; RE2 is linear. The test's bound is
// ctest's timeout; the time taken is printed.
TEST_F(HandlersTest, FindPatternsHostilePatternOnALongInputFinishes) {
  std::string text(900 * 1024, 'a');
  auto t0 = std::chrono::steady_clock::now();
  Json r = Run("find_patterns", {{"text", text}, {"patterns", {"(a*)*b", "(a+a+)+b", "(a|aa)+$x"}}});
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                std::chrono::steady_clock::now() - t0).count();
  ASSERT_FALSE(r.is_null()) << error_;
  for (const auto& p : r["patterns"]) EXPECT_EQ(p["count"], 0);
  std::printf("three hostile patterns over %zu bytes: %lld ms\n", text.size(),
              static_cast<long long>(ms));
}

// ---- http_request ----

// A local HTTP server (Debian's python3): GET /hello, /binary, /big, /slow (never answers in
// time), and POST /echo that answers with the request body.
class HttpServer {
 public:
  explicit HttpServer(const std::string& dir) {
    script_ = dir + "/server.py";
    std::ofstream(script_) << R"PY(
import sys, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
class H(BaseHTTPRequestHandler):
    def log_message(self, *a): pass
    def send(self, code, body, ctype="text/plain; charset=utf-8"):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def do_GET(self):
        if self.path == "/hello": return self.send(200, b"hello")
        if self.path == "/binary": return self.send(200, bytes([0, 255, 1]), "application/octet-stream")
        if self.path == "/big": return self.send(200, b"x" * (600 * 1024))
        if self.path == "/slow":
            time.sleep(30)
            return self.send(200, b"late")
        self.send(404, b"no such page")
    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(n)
        self.send(201, b"got:" + body + b" type:" + self.headers.get("X-Kind", "").encode())
ThreadingHTTPServer.daemon_threads = True
s = ThreadingHTTPServer(("127.0.0.1", 0), H)
print(s.server_address[1], flush=True)
s.serve_forever()
)PY";
    int fds[2];
    if (::pipe(fds) != 0) return;
    pid_ = ::fork();
    if (pid_ == 0) {
      ::dup2(fds[1], 1);
      ::close(fds[0]);
      ::execl("/usr/bin/python3", "python3", script_.c_str(), static_cast<char*>(nullptr));
      ::_exit(127);
    }
    ::close(fds[1]);
    // The server prints its port once it listens: reading it is the wait for it to be up.
    std::string line;
    char c;
    while (::read(fds[0], &c, 1) == 1 && c != '\n') line.push_back(c);
    ::close(fds[0]);
    port_ = line.empty() ? 0 : std::stoi(line);
  }
  ~HttpServer() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  std::string Url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }
  int port() const { return port_; }

 private:
  std::string script_;
  pid_t pid_ = -1;
  int port_ = 0;
};

class HttpRequestTest : public HandlersTest {
 protected:
  void SetUp() override {
    dir_ = (std::filesystem::temp_directory_path() /
            ("jobnet_http_request_" + std::to_string(::getpid())))
               .string();
    std::filesystem::create_directories(dir_);
    server_ = std::make_unique<HttpServer>(dir_);
    ASSERT_NE(server_->port(), 0) << "the Python HTTP server did not start";
  }
  void TearDown() override {
    server_.reset();
    std::filesystem::remove_all(dir_);
  }
  std::string dir_;
  std::unique_ptr<HttpServer> server_;
};

TEST_F(HttpRequestTest, GetAndPostToALoopbackServer) {
  Json r = Run("http_request", {{"url", server_->Url("/hello")}, {"include_headers", true}});
  ASSERT_FALSE(r.is_null()) << error_;
  EXPECT_EQ(r["status"], 200);
  EXPECT_EQ(r["body"], "hello");
  EXPECT_EQ(r["encoding"], "text");
  EXPECT_EQ(r["headers"]["content-length"], "5");
  Json post = Run("http_request", {{"url", server_->Url("/echo")},
                                   {"method", "POST"},
                                   {"body", "a=1"},
                                   {"headers", {{"X-Kind", "form"}}}});
  ASSERT_FALSE(post.is_null()) << error_;
  EXPECT_EQ(post["status"], 201);
  EXPECT_EQ(post["body"], "got:a=1 type:form");
  EXPECT_FALSE(post.contains("headers"));
  // An HTTP error status is a result, not a failed run: the job did its request.
  EXPECT_EQ(Run("http_request", {{"url", server_->Url("/missing")}})["status"], 404);
  Json bin = Run("http_request", {{"url", server_->Url("/binary")}});
  EXPECT_EQ(bin["encoding"], "base64");
  EXPECT_EQ(bin["body"], "AP8B");
  EXPECT_EQ(bin["bytes"], 3);
}

TEST_F(HttpRequestTest, HostsOutsideTheAllowListAreRefused) {
  EXPECT_TRUE(Run("http_request", {{"url", "http://example.com/"}}).is_null());
  EXPECT_NE(error_.find("host 'example.com' is not allowed"), std::string::npos) << error_;
  config_.http_allow_loopback = false;
  EXPECT_TRUE(Run("http_request", {{"url", server_->Url("/hello")}}).is_null());
  EXPECT_NE(error_.find("not allowed"), std::string::npos) << error_;
  config_.http_allow.insert("127.0.0.1");  // named explicitly
  EXPECT_EQ(Run("http_request", {{"url", server_->Url("/hello")}})["body"], "hello");
  // Checked at submit: the URL's form, method and fields (not the host: that is the node's).
  EXPECT_TRUE(Check("http_request", {{"url", "ftp://127.0.0.1/x"}}).IsInvalidArgument());
  EXPECT_TRUE(Check("http_request", {{"url", "not a url"}}).IsInvalidArgument());
  EXPECT_TRUE(Check("http_request", {{"url", "http://h/"}, {"method", "PUT"}}).IsInvalidArgument());
  EXPECT_TRUE(Check("http_request", {{"url", "http://h/"}, {"headers", {{"A", "b\r\nX: y"}}}})
                  .IsInvalidArgument());
  EXPECT_TRUE(Check("http_request", {{"url", "http://h/"}}).ok());
}

TEST_F(HttpRequestTest, ResponseSizeIsBoundedAndACancelStopsTheTransfer) {
  EXPECT_TRUE(Run("http_request", {{"url", server_->Url("/big")}}).is_null());
  EXPECT_NE(error_.find("larger than"), std::string::npos) << error_;
  std::thread canceller([this] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    cancelled_ = true;
  });
  Json r = Run("http_request", {{"url", server_->Url("/slow")}, {"timeout_ms", 60000}});
  canceller.join();
  EXPECT_TRUE(r.is_null());
  EXPECT_EQ(error_, "http_request: stopped");
  // And its own timeout ends a request that takes too long.
  cancelled_ = false;
  EXPECT_TRUE(Run("http_request", {{"url", server_->Url("/slow")}, {"timeout_ms", 200}}).is_null());
  EXPECT_NE(error_.find("imeout"), std::string::npos) << error_;
}

}  // namespace
}  // namespace jobnet::handlers
