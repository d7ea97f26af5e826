// The replication channel in one process (docs/failover.md §6): a primary's journal with a
// ReplicaShipper in front, a ReplicaServer on loopback as its backup. Batches arrive in order
// and the copy holds the same jobs; a new epoch starts with a snapshot; a sender from an older
// epoch, a journal that replaced the one the copy follows, and a sender to a shard the backup
// took over are all refused and nothing of theirs is written.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>

#include "jobnet/limits.h"
#include "node/replica_server.hpp"
#include "node/replica_shipper.hpp"
#include "node_harness.hpp"
#include "storage/blob_store.hpp"
#include "storage/journal.hpp"

namespace jobnet {
namespace {

class ReplicaChannelTest : public ::testing::Test {
 protected:
  void SetUp() override {
    base_ = std::filesystem::temp_directory_path() /
            ("jobnet_replica_channel_" + std::to_string(::getpid()) + "_" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(base_);
    std::filesystem::create_directories(base_);
    ReplicaServerOptions so;
    so.listen = "tcp://127.0.0.1:" + std::to_string(testing::FreePort());
    so.dir = (base_ / "replicas").string();
    ASSERT_TRUE(ReplicaServer::Start(so, &server_).ok());
  }
  void TearDown() override {
    server_.reset();
    std::filesystem::remove_all(base_);
  }

  // A primary journal in base_/name shipping to the server at epoch *epoch (read per batch).
  struct Primary {
    std::shared_ptr<ReplicaShipper> shipper;
    std::unique_ptr<Journal> journal;
    uint64_t seq = 1;
  };
  Primary OpenPrimary(const std::string& name, std::atomic<int64_t>* epoch) {
    Primary p;
    ReplicaShipperOptions ro;
    ro.shard = "n1";
    ro.backups = {server_->endpoint()};
    ro.epoch = [epoch] { return epoch->load(); };
    ro.answer_timeout_ms = 500;
    std::unique_ptr<ReplicaShipper> s;
    EXPECT_TRUE(ReplicaShipper::Create(ro, &s).ok());
    p.shipper = std::move(s);
    JournalOptions jo;
    jo.replicate = [sh = p.shipper](const std::string& b, const std::function<Status()>& w) {
      return sh->Replicate(b, w);
    };
    EXPECT_TRUE(Journal::Open((base_ / name).string(), jo, &p.journal).ok());
    p.shipper->SetJournal(p.journal.get());
    return p;
  }
  static Status WriteJobs(Primary& p, int n) {
    std::vector<protocol::JobWrite> writes;
    for (int i = 0; i < n; ++i, ++p.seq) {
      protocol::JobWrite w;
      w.job.seq = p.seq;
      w.job.id = "n1-" + std::to_string(p.seq);
      w.job.spec.type = "echo";
      w.job.spec.payload = "\xa1x";
      w.job.state = protocol::JobState::kQueued;
      w.job.events = 1;
      w.events.emplace_back(0,
                            protocol::JobEvent{1000, protocol::JobState::kQueued, 0, "", {}, {}});
      writes.push_back(std::move(w));
    }
    return p.journal->Write(writes, {}, p.seq);
  }
  // The jobs of the server's copy of n1 (closed for reading; the server opens it again).
  size_t CopyJobs(ReplicaPosition* pos) {
    EXPECT_TRUE(server_->HasCompleteCopy("n1", pos));
    std::string dir;
    EXPECT_TRUE(server_->Release("n1", &dir).ok());
    JournalOptions ro;
    ro.read_only = true;
    std::unique_ptr<Journal> j;
    EXPECT_TRUE(Journal::Open(dir, ro, &j).ok());
    std::vector<protocol::Job> jobs;
    uint64_t next = 0;
    EXPECT_TRUE(j->LoadAll(&jobs, &next).ok());
    return jobs.size();
  }

  std::filesystem::path base_;
  std::unique_ptr<ReplicaServer> server_;
};

TEST_F(ReplicaChannelTest, BatchesArriveInOrderAndANewEpochStartsWithASnapshot) {
  std::atomic<int64_t> epoch{5};
  Primary p = OpenPrimary("primary", &epoch);
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(WriteJobs(p, 3).ok());
  EXPECT_EQ(p.shipper->stats().snapshots.load(), 1u);  // the first write found an empty copy
  EXPECT_EQ(p.shipper->stats().batches.load(), 10u);
  epoch = 9;  // a new lease: batches are numbered anew, on a new snapshot
  ASSERT_TRUE(WriteJobs(p, 2).ok());
  EXPECT_EQ(p.shipper->stats().snapshots.load(), 2u);
  ReplicaPosition pos;
  ASSERT_TRUE(server_->HasCompleteCopy("n1", &pos));
  EXPECT_EQ(pos.epoch, 9);
  EXPECT_EQ(pos.seq, 1u);
  EXPECT_EQ(pos.history, p.journal->history());
  EXPECT_EQ(CopyJobs(&pos), 32u);
}

TEST_F(ReplicaChannelTest, OlderEpochsAndReplacedJournalsAreRefused) {
  std::atomic<int64_t> epoch{7};
  Primary p = OpenPrimary("primary", &epoch);
  ASSERT_TRUE(WriteJobs(p, 4).ok());
  // A deposed primary (an older epoch) is refused: its write fails and deposes it.
  std::atomic<int64_t> old_epoch{6};
  Primary zombie = OpenPrimary("zombie", &old_epoch);
  Status s = WriteJobs(zombie, 1);
  EXPECT_TRUE(s.IsConflict()) << s.ToString();
  EXPECT_NE(s.message().find("has seen epoch 7"), std::string::npos) << s.message();
  // A primary whose journal was wiped (a new history) must not overwrite the copy, even at a
  // later epoch.
  std::atomic<int64_t> later{8};
  Primary wiped = OpenPrimary("wiped", &later);
  s = WriteJobs(wiped, 1);
  EXPECT_TRUE(s.IsConflict()) << s.ToString();
  EXPECT_NE(s.message().find("does not continue"), std::string::npos) << s.message();
  ReplicaPosition pos;
  EXPECT_EQ(CopyJobs(&pos), 4u);
  EXPECT_EQ(pos.history, p.journal->history());
  // Once the backup has taken the shard over, even the real primary is deposed.
  s = WriteJobs(p, 1);
  EXPECT_TRUE(s.IsConflict()) << s.ToString();
}

// A shard's blobs and callback secret reach its backups (docs/failover.md §6): a blob is on
// the backup before its put is answered, a backup that joins later gets every blob with its
// snapshot, a sweep's removals follow, and the node that takes the shard over finds the blobs
// and the secret where its own node kept them.
TEST_F(ReplicaChannelTest, BlobsAndTheCallbackSecretGoWithTheCopy) {
  std::atomic<int64_t> epoch{3};
  Primary p = OpenPrimary("primary", &epoch);
  uint64_t now = 1'000'000;
  BlobStoreOptions bo;
  bo.grace_ms = 1000;
  bo.now_ms = [&now] { return now; };
  bo.replicate = [sh = p.shipper](const std::string& h, uint64_t size) {
    return sh->ShipBlob(h, size);
  };
  bo.removed = [sh = p.shipper](const std::vector<std::string>& h) { sh->ForgetBlobs(h); };
  std::shared_ptr<BlobStore> blobs;
  {
    std::unique_ptr<BlobStore> b;
    ASSERT_TRUE(BlobStore::Open((base_ / "primary-blobs").string(), bo, &b).ok());
    blobs = std::move(b);
  }
  // The store holds the shipper (its hooks): the shipper holds the store weakly, as the node
  // wires them, or neither would ever be freed.
  BlobSource source;
  std::weak_ptr<BlobStore> store = blobs;
  source.each = [store](const std::function<Status(const std::string&, uint64_t)>& each) {
    auto b = store.lock();
    return b ? b->ForEachComplete(each) : Status::Unavailable("closed");
  };
  source.read = [store](const std::string& h, uint64_t off) -> Result<std::string> {
    auto b = store.lock();
    if (!b) return Status::Unavailable("closed");
    auto part = b->GetChunk({h, off, 0, {}});
    if (!part.ok()) return part.status();
    return part.value().data;
  };
  source.has = [store](const std::string& h) {
    auto b = store.lock();
    return b && b->BlobSize(h).ok();
  };
  p.shipper->SetBlobs(source);
  p.shipper->SetCallbackSecret("s3cret");

  // Three chunks and a bit: shipped part by part before the write returns.
  std::string big(3 * limits::kBlobChunkBytesMax + 77, '\0');
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>(i * 7 + 1);
  auto big_hash = blobs->WriteBlob(big);
  ASSERT_TRUE(big_hash.ok()) << big_hash.status().ToString();
  EXPECT_EQ(server_->stats().blobs_stored.load(), 1u);
  ASSERT_TRUE(WriteJobs(p, 2).ok());
  auto small = blobs->WriteBlob("small");
  ASSERT_TRUE(small.ok());
  auto gone = blobs->WriteBlob("swept");
  ASSERT_TRUE(gone.ok());
  EXPECT_EQ(p.shipper->stats().blobs.load(), 3u);
  // Putting one again asks the backup, which has it: nothing more is sent.
  const uint64_t sent = p.shipper->stats().blob_bytes.load();
  ASSERT_TRUE(blobs->WriteBlob("small").ok());
  EXPECT_EQ(p.shipper->stats().blob_bytes.load(), sent);

  // A backup added later gets the journal and every blob before its copy is complete.
  ReplicaServerOptions lo;
  lo.listen = "tcp://127.0.0.1:" + std::to_string(testing::FreePort());
  lo.dir = (base_ / "late").string();
  std::unique_ptr<ReplicaServer> late;
  ASSERT_TRUE(ReplicaServer::Start(lo, &late).ok());
  ASSERT_TRUE(p.shipper->AddBackup(lo.listen));
  EXPECT_FALSE(p.shipper->AddBackup(lo.listen));  // known
  ASSERT_TRUE(p.shipper->SyncNow().ok());
  EXPECT_EQ(late->stats().blobs_stored.load(), 3u);
  ReplicaPosition pos;
  EXPECT_TRUE(late->HasCompleteCopy("n1", &pos));

  // The sweep removes "swept" here, and so on both backups; "small" is put again first, and
  // stays everywhere.
  now += 1000;
  ASSERT_TRUE(blobs->WriteBlob("small").ok());
  auto referenced = [&](const std::string& h) { return h == big_hash.value(); };
  EXPECT_EQ(blobs->Sweep(referenced).value(), 1u);
  EXPECT_EQ(server_->stats().blobs_forgotten.load(), 1u);
  EXPECT_EQ(late->stats().blobs_forgotten.load(), 1u);

  // Taken over: the copy's blobs and secret are where the shard's node keeps them.
  for (ReplicaServer* server : {server_.get(), late.get()}) {
    std::string dir;
    ASSERT_TRUE(server->Release("n1", &dir).ok());
    std::unique_ptr<BlobStore> copy;
    ASSERT_TRUE(BlobStore::Open(dir + "/blobs", BlobStoreOptions{}, &copy).ok());
    auto back = copy->ReadBlob(big_hash.value());
    ASSERT_TRUE(back.ok()) << back.status().ToString();
    EXPECT_TRUE(back.value() == big);
    EXPECT_EQ(copy->ReadBlob(small.value()).value(), "small");
    EXPECT_TRUE(copy->ReadBlob(gone.value()).status().IsNotFound());
    std::ifstream secret(dir + "/callback.secret");
    std::string line;
    std::getline(secret, line);
    EXPECT_EQ(line, "s3cret");
  }
}

}  // namespace
}  // namespace jobnet
