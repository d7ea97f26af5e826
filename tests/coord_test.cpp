// Goal: the etcd client and the coordination primitives keep etcd's promises as failover needs
// them (docs/failover.md): KV and transactions, leases that live exactly as long as they are
// renewed, one winner per shard with epochs that only grow, watches that see every change, and
// bounded, clear failures against dead or hostile endpoints.
// Method: a real etcd (Debian etcd-server) per case on free loopback ports (tests/etcd_harness.hpp);
// hostile replies come from a one-shot HTTP server on a loopback socket in the test. Waits are
// conditions with deadlines; the only waits on time are lease TTLs, which are the thing tested.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>

#include <gtest/gtest.h>

#include "coord/coordinator.hpp"
#include "coord/etcd_client.hpp"
#include "etcd_harness.hpp"

namespace jobnet::coord {
namespace {

using Clock = std::chrono::steady_clock;
using jobnet::testing::Eventually;

long MsSince(Clock::time_point t) {
  return static_cast<long>(
      std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t).count());
}

std::unique_ptr<EtcdClient> OpenClient(std::vector<std::string> endpoints,
                                       uint32_t timeout_ms = 1000,
                                       uint32_t bytes_max = kEtcdResponseBytesMax) {
  EtcdOptions o;
  o.endpoints = std::move(endpoints);
  o.request_timeout_ms = timeout_ms;
  o.response_bytes_max = bytes_max;
  std::unique_ptr<EtcdClient> c;
  Status s = EtcdClient::Open(o, &c);
  EXPECT_TRUE(s.ok()) << s.ToString();
  return c;
}

class CoordTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string why;
    ASSERT_TRUE(etcd_.Start(&why)) << why;
    client_ = OpenClient({etcd_.endpoint()});
    ASSERT_NE(client_, nullptr);
  }

  std::unique_ptr<Coordinator> StartCoordinator(const std::string& id,
                                                uint32_t keepalive_interval_ms = 0) {
    CoordinatorOptions o;
    o.cluster = "t";
    o.node_id = id;
    o.keepalive_interval_ms = keepalive_interval_ms;
    std::unique_ptr<Coordinator> c;
    Status s = Coordinator::Start(client_.get(), o, &c);
    EXPECT_TRUE(s.ok()) << s.ToString();
    return c;
  }

  bool Exists(const std::string& key) {
    auto r = client_->Range(key);
    return r.ok() && !r.value().kvs.empty();
  }

  jobnet::testing::EtcdProcess etcd_;
  std::unique_ptr<EtcdClient> client_;
};

TEST_F(CoordTest, PutRangeDeleteAndBinaryBytes) {
  const std::string key("k/\x00\xff\x01", 5);
  const std::string value("v\x00\x80 bytes", 9);
  auto rev = client_->Put(key, value);
  ASSERT_TRUE(rev.ok()) << rev.status().ToString();
  auto got = client_->Range(key);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  ASSERT_EQ(got.value().kvs.size(), 1u);
  EXPECT_EQ(got.value().kvs[0].key, key);
  EXPECT_EQ(got.value().kvs[0].value, value);
  EXPECT_EQ(got.value().kvs[0].mod_revision, rev.value());
  ASSERT_TRUE(client_->Put("p/a", "1").ok());
  ASSERT_TRUE(client_->Put("p/b", "2").ok());
  ASSERT_TRUE(client_->Put("q", "3").ok());
  auto prefix = client_->Range("p/", PrefixEnd("p/"));
  ASSERT_TRUE(prefix.ok());
  ASSERT_EQ(prefix.value().kvs.size(), 2u);
  EXPECT_EQ(prefix.value().kvs[1].value, "2");
  auto deleted = client_->DeleteRange("p/", PrefixEnd("p/"));
  ASSERT_TRUE(deleted.ok());
  EXPECT_EQ(deleted.value(), 2);
  EXPECT_TRUE(client_->Range("p/", PrefixEnd("p/")).value().kvs.empty());
  EXPECT_TRUE(client_->Range("absent").value().kvs.empty());
}

TEST_F(CoordTest, TxnRunsOneBranchOnItsCompare) {
  TxnRequest create;
  create.compare.push_back({"t", Compare::Target::kCreate, Compare::Op::kEqual, 0, ""});
  create.success.push_back({TxnOp::Kind::kPut, "t", "first", 0, ""});
  create.failure.push_back({TxnOp::Kind::kRange, "t", "", 0, ""});
  auto first = client_->Txn(create);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_TRUE(first.value().succeeded);
  auto second = client_->Txn(create);
  ASSERT_TRUE(second.ok());
  EXPECT_FALSE(second.value().succeeded);
  ASSERT_EQ(second.value().ranges.size(), 1u);
  ASSERT_EQ(second.value().ranges[0].size(), 1u);
  EXPECT_EQ(second.value().ranges[0][0].value, "first");
  EXPECT_EQ(second.value().ranges[0][0].mod_revision, first.value().revision);
  // A compare on the value: only a writer that saw "first" replaces it.
  TxnRequest swap;
  swap.compare.push_back({"t", Compare::Target::kValue, Compare::Op::kEqual, 0, "first"});
  swap.success.push_back({TxnOp::Kind::kPut, "t", "second", 0, ""});
  EXPECT_TRUE(client_->Txn(swap).value().succeeded);
  EXPECT_FALSE(client_->Txn(swap).value().succeeded);
  EXPECT_EQ(client_->Range("t").value().kvs[0].value, "second");
}

TEST_F(CoordTest, KeepAliveKeepsAKeyBeyondItsTtlAndExpiryDeletesIt) {
  auto lease = client_->LeaseGrant(2);
  ASSERT_TRUE(lease.ok()) << lease.status().ToString();
  ASSERT_TRUE(client_->Put("leased", "x", lease.value()).ok());
  EXPECT_EQ(client_->Range("leased").value().kvs[0].lease, lease.value());
  const auto start = Clock::now();
  while (MsSince(start) < 4000) {  // twice the TTL, renewed every 500 ms
    auto ttl = client_->LeaseKeepAlive(lease.value());
    ASSERT_TRUE(ttl.ok()) << ttl.status().ToString();
    EXPECT_GE(ttl.value(), 2);
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
  EXPECT_TRUE(Exists("leased"));
  // No more renewals: etcd deletes the key once the TTL passes (it checks leases every 0.5 s).
  const auto stopped = Clock::now();
  EXPECT_TRUE(Eventually([&] { return !Exists("leased"); }, std::chrono::seconds(6)));
  EXPECT_GE(MsSince(stopped), 1000);
  auto late = client_->LeaseKeepAlive(lease.value());
  EXPECT_TRUE(late.status().IsNotFound()) << late.status().ToString();
}

TEST_F(CoordTest, RevokeDeletesTheLeasesKeysAtOnce) {
  auto lease = client_->LeaseGrant(30);
  ASSERT_TRUE(lease.ok());
  ASSERT_TRUE(client_->Put("a", "1", lease.value()).ok());
  ASSERT_TRUE(client_->Put("b", "2", lease.value()).ok());
  ASSERT_TRUE(client_->LeaseRevoke(lease.value()).ok());
  EXPECT_FALSE(Exists("a"));
  EXPECT_FALSE(Exists("b"));
  Status again = client_->LeaseRevoke(lease.value());
  EXPECT_TRUE(again.IsNotFound()) << again.ToString();
  auto put = client_->Put("c", "3", lease.value());
  EXPECT_TRUE(put.status().IsNotFound()) << put.status().ToString();
}

TEST_F(CoordTest, OnlyOneCampaignerWinsAndTheLoserLearnsWho) {
  auto a = StartCoordinator("n1");
  auto b = StartCoordinator("n2");
  auto won = a->Campaign("n1");
  ASSERT_TRUE(won.ok()) << won.status().ToString();
  auto lost = b->Campaign("n1");
  EXPECT_TRUE(lost.status().IsConflict());
  EXPECT_NE(lost.status().message().find("'n1'"), std::string::npos) << lost.status().message();
  auto again = a->Campaign("n1");  // a retried campaign of the holder is its own epoch
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again.value(), won.value());
  auto holder = b->Holder("n1");
  ASSERT_TRUE(holder.ok());
  EXPECT_EQ(holder.value().primary, "n1");
  EXPECT_EQ(holder.value().epoch, won.value());
  EXPECT_EQ(holder.value().lease, a->lease());
  EXPECT_TRUE(b->Holder("n9").status().IsNotFound());
}

TEST_F(CoordTest, LoserWinsAfterTheWinnersLeaseExpiresWithALargerEpoch) {
  // The winner stops renewing (as a frozen or cut-off node would): keep-alives every 60 s.
  auto a = StartCoordinator("n1", 60000);
  auto b = StartCoordinator("n2");
  auto first = a->Campaign("s");
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  Result<int64_t> second = Status::Conflict("not yet");
  ASSERT_TRUE(Eventually([&] {
    second = b->Campaign("s");
    return second.ok();
  }, std::chrono::seconds(8)));
  // The fence's clock: the new primary won only after the old one's lease had surely ended.
  EXPECT_GE(Clock::now(), a->LeaseValidUntil());
  EXPECT_GT(second.value(), first.value());
  EXPECT_EQ(b->Holder("s").value().primary, "n2");
  EXPECT_TRUE(a->Campaign("s").status().IsConflict());
}

TEST_F(CoordTest, AShardIsWonOnlyAfterTheLastWinItWasReadAt) {
  auto a = StartCoordinator("n1");
  auto b = StartCoordinator("n2");
  auto never = a->LastWinOf("s");
  ASSERT_TRUE(never.ok()) << never.status().ToString();
  EXPECT_EQ(never.value().primary, "");
  EXPECT_EQ(never.value().revision, 0);
  auto e1 = a->Campaign("s", never.value(), "h1");
  ASSERT_TRUE(e1.ok()) << e1.status().ToString();
  auto last1 = b->LastWinOf("s");
  ASSERT_TRUE(last1.ok());
  EXPECT_EQ(last1.value().primary, "n1");
  EXPECT_EQ(last1.value().revision, e1.value());
  EXPECT_EQ(last1.value().history, "h1");
  ASSERT_TRUE(a->Resign("s", e1.value()).ok());
  // The key is free, but a campaign on a stale read of the last win loses, and says who won.
  auto stale = b->Campaign("s", never.value(), "h2");
  ASSERT_TRUE(stale.status().IsConflict()) << stale.status().ToString();
  EXPECT_NE(stale.status().message().find("has been won by 'n1'"), std::string::npos)
      << stale.status().message();
  auto e2 = b->Campaign("s", last1.value(), "h1");
  ASSERT_TRUE(e2.ok()) << e2.status().ToString();
  EXPECT_GT(e2.value(), e1.value());
  ASSERT_TRUE(b->Resign("s", e2.value()).ok());
  // n1 read the last win before n2 took the shard: it can never win it back on that read.
  EXPECT_TRUE(a->Campaign("s", last1.value(), "h1").status().IsConflict());
  EXPECT_EQ(a->LastWinOf("s").value().primary, "n2");
}

TEST_F(CoordTest, ResignOnlyAtItsOwnEpochAndStopHandsOver) {
  auto a = StartCoordinator("n1");
  auto b = StartCoordinator("n2");
  auto e1 = a->Campaign("s");
  ASSERT_TRUE(e1.ok());
  ASSERT_TRUE(a->Resign("s", e1.value()).ok());
  EXPECT_TRUE(a->Holder("s").status().IsNotFound());
  auto e2 = b->Campaign("s");
  ASSERT_TRUE(e2.ok());
  EXPECT_GT(e2.value(), e1.value());
  EXPECT_TRUE(a->Resign("s", e1.value()).IsConflict());  // never deletes a successor's key
  EXPECT_EQ(a->Holder("s").value().primary, "n2");
  // Stopping b revokes its lease: a wins at once, without waiting out the TTL.
  b.reset();
  auto e3 = a->Campaign("s");
  ASSERT_TRUE(e3.ok()) << e3.status().ToString();
  EXPECT_GT(e3.value(), e2.value());
}

TEST_F(CoordTest, MembersRegisterUnderTheirLeaseAndLeaveWithIt) {
  auto a = StartCoordinator("n1");
  auto b = StartCoordinator("n2");
  ASSERT_TRUE(a->Register("tcp://127.0.0.1:1001").ok());
  ASSERT_TRUE(b->Register("tcp://127.0.0.1:1002").ok());
  auto both = a->Members();
  ASSERT_TRUE(both.ok());
  ASSERT_EQ(both.value().size(), 2u);
  EXPECT_EQ(both.value()[0].id, "n1");
  EXPECT_EQ(both.value()[1].endpoint, "tcp://127.0.0.1:1002");
  EXPECT_EQ(both.value()[1].lease, b->lease());
  // Past the TTL (2 s) the keep-alive thread has kept n1 registered.
  std::this_thread::sleep_for(std::chrono::milliseconds(2500));
  b.reset();
  auto one = a->Members();
  ASSERT_TRUE(one.ok());
  ASSERT_EQ(one.value().size(), 1u);
  EXPECT_EQ(one.value()[0].id, "n1");
  EXPECT_FALSE(a->LeaseLost());
}

TEST_F(CoordTest, LostLeaseIsReportedAndStopsCampaigns) {
  std::atomic<int> lost{0};
  CoordinatorOptions o;
  o.cluster = "t";
  o.node_id = "n1";
  o.keepalive_interval_ms = 100;
  o.on_lease_lost = [&lost] { ++lost; };
  std::unique_ptr<Coordinator> a;
  ASSERT_TRUE(Coordinator::Start(client_.get(), o, &a).ok());
  ASSERT_TRUE(client_->LeaseRevoke(a->lease()).ok());  // as etcd would after a long freeze
  ASSERT_TRUE(Eventually([&] { return a->LeaseLost(); }, std::chrono::seconds(5)));
  EXPECT_EQ(lost.load(), 1);
  EXPECT_TRUE(a->Campaign("s").status().IsConflict());
  EXPECT_TRUE(a->Register("tcp://x").IsConflict());
}

struct Seen {
  std::mutex mu;
  std::vector<WatchEvent> events;
  Status ended;
  size_t Count() {
    std::lock_guard<std::mutex> lock(mu);
    return events.size();
  }
};

TEST_F(CoordTest, WatchSeesPutsAndDeletesUnderAPrefix) {
  auto a = StartCoordinator("n1");
  Seen seen;
  auto watch = a->WatchShards(0, [&seen](const WatchBatch& b) {
    std::lock_guard<std::mutex> lock(seen.mu);
    seen.events.insert(seen.events.end(), b.events.begin(), b.events.end());
    if (!b.status.ok()) seen.ended = b.status;
  });
  // The watch opens asynchronously: put until it has seen one, so nothing is assumed of timing
  // (several warm-up puts may be seen; only the events of s1 are checked below).
  ASSERT_TRUE(Eventually([&] {
    if (seen.Count() == 0) client_->Put(a->ShardKey("warmup"), "{}");
    return seen.Count() > 0;
  }, std::chrono::seconds(10)));
  client_->Put("/jobnet/t/elsewhere", "x");  // outside the prefix: not seen
  auto epoch = a->Campaign("s1");
  ASSERT_TRUE(epoch.ok());
  ASSERT_TRUE(a->Resign("s1", epoch.value()).ok());
  auto s1_events = [&] {
    std::lock_guard<std::mutex> lock(seen.mu);
    std::vector<WatchEvent> out;
    for (const auto& e : seen.events) {
      EXPECT_NE(e.kv.key, "/jobnet/t/elsewhere");
      if (e.kv.key == a->ShardKey("s1")) out.push_back(e);
    }
    return out;
  };
  ASSERT_TRUE(Eventually([&] { return s1_events().size() >= 2; }));
  const auto events = s1_events();
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].type, WatchEvent::Type::kPut);
  EXPECT_EQ(events[0].kv.mod_revision, epoch.value());
  EXPECT_NE(events[0].kv.value.find("\"n1\""), std::string::npos);
  EXPECT_EQ(events[1].type, WatchEvent::Type::kDelete);
  EXPECT_GT(events[1].kv.mod_revision, epoch.value());
  std::lock_guard<std::mutex> lock(seen.mu);
  EXPECT_TRUE(seen.ended.ok());
}

TEST_F(CoordTest, WatchFromACompactedRevisionEndsWithNotFound) {
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(client_->Put("w", std::to_string(i)).ok());
  auto now = client_->Range("w");
  ASSERT_TRUE(now.ok());
  auto compact = client_->Post("/v3/kv/compaction",
                               "{\"revision\":\"" + std::to_string(now.value().revision) + "\"}");
  ASSERT_TRUE(compact.ok()) << compact.status().ToString();
  Seen seen;
  std::atomic<bool> ended{false};
  auto watch = client_->Watch("w", "", 1, [&](const WatchBatch& b) {
    std::lock_guard<std::mutex> lock(seen.mu);
    if (!b.status.ok()) {
      seen.ended = b.status;
      ended = true;
    }
  });
  ASSERT_TRUE(Eventually([&] { return ended.load(); }, std::chrono::seconds(10)));
  EXPECT_TRUE(seen.ended.IsNotFound()) << seen.ended.ToString();
}

TEST_F(CoordTest, ADeadEndpointIsSkippedForALiveOne) {
  const int dead = jobnet::testing::FreePort();  // claimed, nothing listens
  auto c = OpenClient({"http://127.0.0.1:" + std::to_string(dead), etcd_.endpoint()});
  const auto start = Clock::now();
  auto put = c->Put("k", "v");
  EXPECT_TRUE(put.ok()) << put.status().ToString();
  EXPECT_LT(MsSince(start), 1000);
}

// ---- failures without etcd: no etcd process is needed, so a plain fixture -------------------

class EtcdFailureTest : public ::testing::Test {
 protected:
  // A loopback socket that listens and never answers; its port.
  int SilentListener() {
    listener_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(listener_, reinterpret_cast<sockaddr*>(&a), sizeof a);
    ::listen(listener_, 16);
    socklen_t len = sizeof a;
    ::getsockname(listener_, reinterpret_cast<sockaddr*>(&a), &len);
    return ntohs(a.sin_port);
  }
  // Serves one connection with `reply` (written whole, then closed) on a thread; its port.
  int OneShotServer(std::string reply) {
    const int port = SilentListener();
    server_ = std::thread([this, reply = std::move(reply)] {
      const int fd = ::accept(listener_, nullptr, nullptr);
      if (fd < 0) return;
      std::string request;
      char buf[4096];
      // The whole request: headers, then the Content-Length bytes of the body.
      while (true) {
        const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
        if (n <= 0) break;
        request.append(buf, static_cast<size_t>(n));
        const auto end = request.find("\r\n\r\n");
        if (end == std::string::npos) continue;
        const auto cl = request.find("Content-Length: ");
        const size_t body = cl == std::string::npos ? 0 : std::stoul(request.substr(cl + 16));
        if (request.size() >= end + 4 + body) break;
      }
      for (size_t off = 0; off < reply.size();) {
        const ssize_t n = ::send(fd, reply.data() + off, reply.size() - off, MSG_NOSIGNAL);
        if (n <= 0) break;
        off += static_cast<size_t>(n);
      }
      ::close(fd);
    });
    return port;
  }
  void TearDown() override {
    if (listener_ >= 0) ::shutdown(listener_, SHUT_RDWR);
    if (server_.joinable()) server_.join();
    if (listener_ >= 0) ::close(listener_);
  }
  static std::string Url(int port) { return "http://127.0.0.1:" + std::to_string(port); }
  static std::string Http200(const std::string& body, bool with_length = true) {
    std::string head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n";
    if (with_length) head += "Content-Length: " + std::to_string(body.size()) + "\r\n";
    return head + "\r\n" + body;
  }
  static std::unique_ptr<EtcdClient> Open(const std::string& url, uint32_t timeout_ms = 1000,
                                          uint32_t bytes_max = kEtcdResponseBytesMax) {
    return OpenClient({url}, timeout_ms, bytes_max);
  }

  int listener_ = -1;
  std::thread server_;
};

TEST_F(EtcdFailureTest, OptionsAreChecked) {
  std::unique_ptr<EtcdClient> c;
  EXPECT_TRUE(EtcdClient::Open(EtcdOptions{}, &c).IsInvalidArgument());
  EtcdOptions o;
  o.endpoints = {"127.0.0.1:2379"};
  EXPECT_TRUE(EtcdClient::Open(o, &c).IsInvalidArgument());
  EXPECT_EQ(c, nullptr);
}

TEST_F(EtcdFailureTest, RefusedEndpointIsUnavailableAtOnce) {
  const int port = jobnet::testing::FreePort();  // claimed, nothing listens
  auto c = Open(Url(port));
  const auto start = Clock::now();
  auto r = c->Range("k");
  EXPECT_TRUE(r.status().IsUnavailable()) << r.status().ToString();
  EXPECT_NE(r.status().message().find(std::to_string(port)), std::string::npos);
  EXPECT_NE(r.status().message().find("tried 1 endpoint"), std::string::npos);
  EXPECT_LT(MsSince(start), 1000);
}

TEST_F(EtcdFailureTest, SilentEndpointTimesOutWithinTheBudget) {
  auto c = Open(Url(SilentListener()), 300);
  const auto start = Clock::now();
  auto r = c->LeaseKeepAlive(1);
  EXPECT_TRUE(r.status().IsTimeout()) << r.status().ToString();
  EXPECT_GE(MsSince(start), 250);
  EXPECT_LT(MsSince(start), 800);
}

TEST_F(EtcdFailureTest, OversizedReplyIsRefused) {
  // Announced too large: refused before the body is read.
  auto c = Open(Url(OneShotServer(Http200(std::string(64 << 10, ' ') + "{}"))), 2000, 4096);
  auto r = c->Range("k");
  EXPECT_TRUE(r.status().IsTooLarge()) << r.status().ToString();
}

TEST_F(EtcdFailureTest, OversizedReplyWithoutALengthIsCutOff) {
  auto c = Open(Url(OneShotServer(Http200(std::string(1 << 20, ' ') + "{}", false))), 2000, 4096);
  auto r = c->Range("k");
  EXPECT_TRUE(r.status().IsTooLarge()) << r.status().ToString();
}

TEST_F(EtcdFailureTest, DeeplyNestedReplyIsRefused) {
  const std::string nested = "{\"a\":" + std::string(200000, '[') + std::string(200000, ']') + "}";
  auto c = Open(Url(OneShotServer(Http200(nested))));
  auto r = c->Range("k");
  EXPECT_TRUE(r.status().IsCorruption()) << r.status().ToString();
}

TEST_F(EtcdFailureTest, MalformedRepliesAreCorruption) {
  auto c = Open(Url(OneShotServer(Http200("not json"))));
  EXPECT_TRUE(c->Range("k").status().IsCorruption());
}

TEST_F(EtcdFailureTest, BadFieldsInAReplyAreCorruption) {
  // A key that is not base64 and a revision that is not a number.
  auto c = Open(Url(OneShotServer(Http200(
      "{\"header\":{\"revision\":\"7\"},\"kvs\":[{\"key\":\"%%%\",\"mod_revision\":\"x\"}]}"))));
  auto r = c->Range("k");
  EXPECT_TRUE(r.status().IsCorruption()) << r.status().ToString();
}

TEST_F(EtcdFailureTest, EtcdErrorsKeepTheirMeaning) {
  const std::string body =
      "{\"error\":\"etcdserver: no leader\",\"message\":\"etcdserver: no leader\",\"code\":14}";
  auto c = Open(Url(OneShotServer("HTTP/1.1 503 Service Unavailable\r\nContent-Length: " +
                                  std::to_string(body.size()) +
                                  "\r\nConnection: close\r\n\r\n" + body)));
  auto r = c->Put("k", "v");
  EXPECT_TRUE(r.status().IsUnavailable()) << r.status().ToString();
  EXPECT_NE(r.status().message().find("no leader"), std::string::npos);
}

}  // namespace
}  // namespace jobnet::coord
