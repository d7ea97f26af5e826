// A node with --etcd holds its shard under an etcd lease (docs/failover.md §5), against real
// etcd and node processes: the shard key names it with an epoch that stats report; while etcd
// is frozen the node stops acknowledging (unavailable, counted), gives the lease up once its TTL
// has passed and, once etcd is back, holds the shard again at a larger epoch and serves as before;
// a second live process with its id is refused; a clean stop hands the shard over at once and a
// restart after SIGKILL waits out the old lease and wins again. No assertion depends on speed: each
// state is awaited.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <fstream>
#include <iterator>
#include <set>
#include <nlohmann/json.hpp>

#include "base/exit_codes.hpp"
#include "coord/etcd_client.hpp"
#include "etcd_harness.hpp"
#include "node_harness.hpp"
#include "pipelined_client.hpp"
#include "protocol/messages.hpp"

namespace jobnet {
namespace {

using testing::Eventually;
using testing::NodeProcess;
using testing::Pack;
using testing::Spec;

class FenceTest : public testing::EtcdTest {
 protected:
  FenceTest() : EtcdTest("ft") {}
  void SetUp() override { StartEtcd(); }
};

TEST_F(FenceTest, FrozenEtcdFencesTheNodeAndItHoldsItsShardAgainAfter) {
  NodeProcess node("n1", dir_ + "/n1", 2, EtcdArgs());
  ASSERT_TRUE(node.Start());
  auto [primary, epoch] = Shard("n1");
  EXPECT_EQ(primary, "n1");
  ASSERT_GT(epoch, 0);
  auto members = kv_->Range("/jobnet/ft/members/n1");
  ASSERT_TRUE(members.ok() && members.value().kvs.size() == 1u);
  EXPECT_EQ(nlohmann::json::parse(members.value().kvs[0].value).value("endpoint", ""),
            node.endpoint());

  auto c = node.Connect(2000);
  ASSERT_TRUE(c);
  EXPECT_EQ(Counter(*c, "shard_epoch"), static_cast<uint64_t>(epoch));
  EXPECT_EQ(Counter(*c, "fenced"), 0u);
  auto before = c->Submit(Spec("echo", Pack(1)));
  ASSERT_TRUE(before.ok()) << before.status().ToString();
  ASSERT_TRUE(c->Wait(before.value().id, 10000).ok());

  etcd_.Signal(SIGSTOP);  // the lease cannot be renewed: the fence drops before it could end
  Status refused;
  ASSERT_TRUE(Eventually(
      [&] {
        auto r = c->Submit(Spec("echo", Pack(2)));
        if (r.ok()) return false;
        refused = r.status();
        return r.status().IsUnavailable();
      },
      std::chrono::seconds(15)))
      << refused.ToString();
  EXPECT_NE(refused.message().find("etcd lease"), std::string::npos) << refused.message();
  EXPECT_EQ(Counter(*c, "fenced"), 1u);
  EXPECT_GE(Counter(*c, "fenced_refused"), 1u);
  // Reads go on while fenced.
  auto status = c->GetStatus(before.value().id);
  ASSERT_TRUE(status.ok()) << status.status().ToString();
  EXPECT_EQ(status.value().state, protocol::JobState::kSucceeded);

  // Frozen until the node has given the lease up (a shorter freeze only pauses it: the next
  // renewal lifts the fence at the same epoch).
  ASSERT_TRUE(Eventually([&] { return LogHas(node, "etcd lease of shard n1 lost"); },
                         std::chrono::seconds(15)));
  etcd_.Signal(SIGCONT);
  std::string after_id;
  ASSERT_TRUE(Eventually(
      [&] {
        auto r = c->Submit(Spec("echo", Pack(3)));
        if (r.ok()) after_id = r.value().id;
        return r.ok();
      },
      std::chrono::seconds(30)));
  auto done = c->Wait(after_id, 10000);
  ASSERT_TRUE(done.ok()) << done.status().ToString();
  EXPECT_EQ(done.value().state, protocol::JobState::kSucceeded);
  EXPECT_EQ(Counter(*c, "fenced"), 0u);
  auto [again, epoch2] = Shard("n1");
  EXPECT_EQ(again, "n1");
  EXPECT_GT(epoch2, epoch);
  EXPECT_EQ(Counter(*c, "shard_epoch"), static_cast<uint64_t>(epoch2));
}

// Membership from etcd (docs/failover.md §5): nodes given no --peer link to every other
// registered member, the ones already there at start and one that joins later, and then work
// as peers do: liveness, requests forwarded to a job's owner, runs on the peers' workers.
TEST_F(FenceTest, NodesWithoutPeerFlagsFindEachOtherInEtcd) {
  NodeProcess n1("n1", dir_ + "/n1", 1, EtcdArgs());
  NodeProcess n2("n2", dir_ + "/n2", 2, EtcdArgs());
  ASSERT_TRUE(n1.Start());
  ASSERT_TRUE(n2.Start());
  auto c1 = n1.Connect(2000);
  ASSERT_TRUE(c1);
  auto alive_peers = [](Client& c) {
    std::set<std::string> alive;
    auto st = c.Stats();
    if (st.ok())
      for (const auto& p : st.value().peers)
        if (p.state == "alive") alive.insert(p.node);
    return alive;
  };
  ASSERT_TRUE(Eventually([&] { return alive_peers(*c1) == std::set<std::string>{"n2"}; },
                         std::chrono::seconds(20)));
  NodeProcess n3("n3", dir_ + "/n3", 2, EtcdArgs());  // joins later: n1 and n2 find it
  ASSERT_TRUE(n3.Start());
  auto c3 = n3.Connect(2000);
  ASSERT_TRUE(c3);
  ASSERT_TRUE(Eventually(
      [&] { return alive_peers(*c1) == std::set<std::string>{"n2", "n3"}; },
      std::chrono::seconds(20)));
  ASSERT_TRUE(Eventually(
      [&] { return alive_peers(*c3) == std::set<std::string>{"n1", "n2"}; },
      std::chrono::seconds(20)));

  // n1 has one worker: a burst of sleeps spills onto its peers, and n3 answers for n1's jobs.
  std::vector<std::string> ids;
  for (int i = 0; i < 12; ++i) {
    auto r = c1->Submit(Spec("sleep", Pack(200)));
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    ids.push_back(r.value().id);
  }
  for (const auto& id : ids) {
    auto w = c3->Wait(id, 30000);
    ASSERT_TRUE(w.ok()) << id << ": " << w.status().ToString();
    EXPECT_EQ(w.value().state, protocol::JobState::kSucceeded) << id;
  }
  EXPECT_GE(Counter(*c1, "remote_completed"), 1u);
  EXPECT_GE(Counter(*c3, "transport_forwarded"), 1u);
  EXPECT_TRUE(LogHas(n1, "a member registered in etcd"));
}

TEST_F(FenceTest, SecondProcessWithTheIdIsRefusedAndAStopHandsTheShardOver) {
  NodeProcess node("n1", dir_ + "/n1", 1, EtcdArgs());
  ASSERT_TRUE(node.Start());
  const int64_t epoch = Shard("n1").second;
  ASSERT_GT(epoch, 0);

  // The twin takes etcd from its config file rather than flags.
  const std::string cfg = dir_ + "/twin.toml";
  std::ofstream(cfg) << "etcd = [\"" << etcd_.endpoint() << "\"]\ncluster_name = \"ft\"\n";
  NodeProcess twin("n1", dir_ + "/twin", 1, {"--config", cfg});
  EXPECT_FALSE(twin.Start());
  EXPECT_EQ(WEXITSTATUS(twin.Signal(0)), exit_code::kCoordination);

  // After a SIGKILL the old lease lives on for up to its TTL: the restart waits it out.
  node.Kill();
  ASSERT_TRUE(node.Start());
  const int64_t epoch2 = Shard("n1").second;
  EXPECT_GT(epoch2, epoch);

  // A clean stop revokes the lease: the member and shard keys are gone when it has exited.
  EXPECT_EQ(WEXITSTATUS(node.Signal(SIGTERM)), 0);
  EXPECT_EQ(Shard("n1").second, 0);
  auto members = kv_->Range("/jobnet/ft/members/n1");
  ASSERT_TRUE(members.ok());
  EXPECT_TRUE(members.value().kvs.empty());

  // A bad etcd endpoint is a configuration error; an unreachable one fails the start.
  NodeProcess bad("n2", dir_ + "/n2", 1, {"--etcd", "127.0.0.1:2379"});
  EXPECT_FALSE(bad.Start());
  EXPECT_EQ(WEXITSTATUS(bad.Signal(0)), exit_code::kConfig);
  std::ofstream(cfg) << "etcd = \"" << etcd_.endpoint() << "\"\n";  // not an array
  NodeProcess bad_file("n4", dir_ + "/n4", 1, {"--config", cfg});
  EXPECT_FALSE(bad_file.Start());
  EXPECT_EQ(WEXITSTATUS(bad_file.Signal(0)), exit_code::kConfig);
  // Replication without etcd, or with a malformed endpoint, is a configuration error.
  NodeProcess lone("n5", dir_ + "/n5", 1, {"--backup", "tcp://127.0.0.1:1"});
  EXPECT_FALSE(lone.Start());
  EXPECT_EQ(WEXITSTATUS(lone.Signal(0)), exit_code::kConfig);
  NodeProcess bad_backup("n6", dir_ + "/n6", 1,
                         {"--etcd", etcd_.endpoint(), "--backup", "127.0.0.1:5"});
  EXPECT_FALSE(bad_backup.Start());
  EXPECT_EQ(WEXITSTATUS(bad_backup.Signal(0)), exit_code::kConfig);
  NodeProcess away("n3", dir_ + "/n3", 1,
                   {"--etcd", "http://127.0.0.1:" + std::to_string(testing::FreePort())});
  EXPECT_FALSE(away.Start());
  EXPECT_EQ(WEXITSTATUS(away.Signal(0)), exit_code::kCoordination);
}

}  // namespace
}  // namespace jobnet
