// Replication below the network (docs/failover.md §6): the frame codec on good and hostile
// bytes, and a journal's batches applied to a backup's copy, batch by batch and by snapshot,
// giving the same jobs; a copy refuses batches that are not journal writes.
#include "protocol/replication.hpp"

#include <gtest/gtest.h>
#include <rocksdb/write_batch.h>
#include <unistd.h>

#include <filesystem>
#include <random>

#include "jobnet/limits.h"
#include "storage/journal.hpp"

namespace jobnet {
namespace {

using protocol::ReplAck;
using protocol::ReplCode;
using protocol::ReplFrame;
using protocol::ReplKind;

TEST(ReplicationCodecTest, FramesAndAcksRoundTrip) {
  ReplFrame f{ReplKind::kBatch, "n1", 42, 7, "hist-1", std::string("\0\1\2batch", 8)};
  ReplFrame g;
  std::string bytes = protocol::EncodeReplFrame(f);
  ASSERT_TRUE(protocol::DecodeReplFrame(bytes.data(), bytes.size(), &g).ok());
  EXPECT_EQ(g.kind, ReplKind::kBatch);
  EXPECT_EQ(g.shard, "n1");
  EXPECT_EQ(g.epoch, 42);
  EXPECT_EQ(g.seq, 7u);
  EXPECT_EQ(g.history, "hist-1");
  EXPECT_EQ(g.data, f.data);
  ReplAck a{ReplCode::kNeedSnapshot, "n1", 41, 3, true, "gap"};
  ReplAck b;
  bytes = protocol::EncodeReplAck(a);
  ASSERT_TRUE(protocol::DecodeReplAck(bytes.data(), bytes.size(), &b).ok());
  EXPECT_EQ(b.code, ReplCode::kNeedSnapshot);
  EXPECT_EQ(b.epoch, 41);
  EXPECT_EQ(b.seq, 3u);
  EXPECT_TRUE(b.complete);
  EXPECT_EQ(b.message, "gap");
}

TEST(ReplicationCodecTest, HostileFramesAreRefused) {
  ReplFrame out;
  auto refused = [&](const ReplFrame& f) {
    std::string bytes = protocol::EncodeReplFrame(f);
    return !protocol::DecodeReplFrame(bytes.data(), bytes.size(), &out).ok();
  };
  EXPECT_TRUE(refused(ReplFrame{ReplKind::kBatch, "../etc", 1, 1, "h1", "x"}));
  EXPECT_TRUE(refused(ReplFrame{ReplKind::kBatch, "", 1, 1, "h1", "x"}));
  EXPECT_TRUE(refused(ReplFrame{ReplKind::kBatch, std::string(65, 'a'), 1, 1, "h1", "x"}));
  EXPECT_TRUE(refused(ReplFrame{ReplKind::kBatch, "n1", 0, 1, "h1", "x"}));  // no epoch
  EXPECT_TRUE(refused(ReplFrame{ReplKind::kBatch, "n1", 1, 0, "h1", "x"}));  // batches count from 1
  EXPECT_TRUE(refused(ReplFrame{ReplKind::kBatch, "n1", 1, 1, "h1", ""}));
  EXPECT_FALSE(refused(ReplFrame{ReplKind::kProbe, "n1", 1, 0, "h1", ""}));
  EXPECT_TRUE(refused(ReplFrame{ReplKind::kProbe, "n1", 1, 0, std::string(65, 'h'), ""}));
  EXPECT_FALSE(refused(ReplFrame{ReplKind::kSnapshotLast, "n1.b_2-x", 1, 0, "h1", ""}));
  // Random bytes and every truncation of a good frame: an error, never a crash.
  std::string good = protocol::EncodeReplFrame(ReplFrame{ReplKind::kBatch, "n1", 3, 9, "h1", "data"});
  for (size_t n = 0; n < good.size(); ++n)
    EXPECT_FALSE(protocol::DecodeReplFrame(good.data(), n, &out).ok()) << n;
  std::string wrong_version = good;
  wrong_version[1] = 2;
  EXPECT_FALSE(protocol::DecodeReplFrame(wrong_version.data(), wrong_version.size(), &out).ok());
  std::mt19937 rng(7);
  for (int i = 0; i < 2000; ++i) {
    std::string junk(rng() % 64, '\0');
    for (auto& c : junk) c = static_cast<char>(rng());
    ReplAck a;
    (void)protocol::DecodeReplFrame(junk.data(), junk.size(), &out);
    (void)protocol::DecodeReplAck(junk.data(), junk.size(), &a);
  }
}

TEST(ReplicationCodecTest, BlobPartsAndForgetListsAreBoundedAndRoundTrip) {
  const std::string hash(64, 'a');
  protocol::ReplBlobPart p{hash, 10, 4, "bytes"}, q;
  ASSERT_TRUE(protocol::DecodeBlobPart(protocol::EncodeBlobPart(p), &q).ok());
  EXPECT_EQ(q.hash, hash);
  EXPECT_EQ(q.size, 10u);
  EXPECT_EQ(q.offset, 4u);
  EXPECT_EQ(q.bytes, "bytes");
  auto bad = [&](const protocol::ReplBlobPart& part) {
    return protocol::DecodeBlobPart(protocol::EncodeBlobPart(part), &q).IsCorruption();
  };
  EXPECT_TRUE(bad({"../" + std::string(61, 'a'), 10, 0, "x"}));      // not a hash
  EXPECT_TRUE(bad({std::string(64, 'A'), 10, 0, "x"}));             // upper case
  EXPECT_TRUE(bad({hash, 10, 8, "xyz"}));                           // past the blob's end
  EXPECT_TRUE(bad({hash, 10, 11, ""}));                             // offset past it
  EXPECT_TRUE(bad({hash, limits::kBlobBytesMaxMax + 1, 0, "x"}));  // larger than any blob
  EXPECT_TRUE(bad({hash, 5ull << 20, 0, std::string(limits::kBlobChunkBytesMax + 1, 'x')}));
  EXPECT_FALSE(bad({hash, 0, 0, ""}));  // the empty blob
  std::vector<std::string> hashes{hash, std::string(64, 'b')}, back;
  ASSERT_TRUE(protocol::DecodeBlobHashes(protocol::EncodeBlobHashes(hashes), &back).ok());
  EXPECT_EQ(back, hashes);
  EXPECT_FALSE(protocol::DecodeBlobHashes(
                   protocol::EncodeBlobHashes(std::vector<std::string>(
                       protocol::kBlobForgetMax + 1, hash)),
                   &back)
                   .ok());
  EXPECT_FALSE(protocol::DecodeBlobHashes(protocol::EncodeBlobHashes({"not-a-hash"}), &back).ok());
  // A frame carries its part or list checked: a bad one is refused before any store sees it.
  ReplFrame out;
  auto refused = [&](ReplKind kind, std::string data) {
    std::string bytes = protocol::EncodeReplFrame(ReplFrame{kind, "n1", 1, 0, "h1", data});
    return !protocol::DecodeReplFrame(bytes.data(), bytes.size(), &out).ok();
  };
  EXPECT_FALSE(refused(ReplKind::kBlob, protocol::EncodeBlobPart(p)));
  EXPECT_TRUE(refused(ReplKind::kBlob, "junk"));
  EXPECT_TRUE(refused(ReplKind::kBlobForget, protocol::EncodeBlobPart(p)));
  EXPECT_FALSE(refused(ReplKind::kProbe, std::string(protocol::kSecretBytesMax, 's')));
  EXPECT_TRUE(refused(ReplKind::kProbe, std::string(protocol::kSecretBytesMax + 1, 's')));
}

class ReplicaJournalTest : public ::testing::Test {
 protected:
  void SetUp() override {
    base_ = std::filesystem::temp_directory_path() /
            ("jobnet_replication_test_" + std::to_string(::getpid()) + "_" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(base_);
  }
  void TearDown() override { std::filesystem::remove_all(base_); }

  std::unique_ptr<Journal> Open(const std::string& name, JournalOptions o = {}) {
    std::unique_ptr<Journal> j;
    Status s = Journal::Open((base_ / name).string(), o, &j);
    EXPECT_TRUE(s.ok()) << s.ToString();
    return j;
  }
  // `n` new queued jobs from *seq on, in one write; *seq moves past them.
  static Status WriteJobs(Journal* j, int n, uint64_t* seq, const std::string& payload = "\xa1x") {
    std::vector<protocol::JobWrite> writes;
    for (int i = 0; i < n; ++i, ++*seq) {
      protocol::JobWrite w;
      w.job.seq = *seq;
      w.job.id = "n1-" + std::to_string(*seq);
      w.job.spec.type = "echo";
      w.job.spec.payload = payload;
      w.job.state = protocol::JobState::kQueued;
      w.job.events = 1;
      w.events.emplace_back(0,
                            protocol::JobEvent{1000, protocol::JobState::kQueued, 0, "", {}, {}});
      writes.push_back(std::move(w));
    }
    return j->Write(writes, {}, *seq);
  }
  static std::vector<std::string> Ids(const Journal& j) {
    std::vector<protocol::Job> jobs;
    uint64_t next = 0;
    EXPECT_TRUE(j.LoadAll(&jobs, &next).ok());
    std::vector<std::string> ids;
    for (const auto& job : jobs) ids.push_back(job.id + ":" + job.spec.payload);
    return ids;
  }

  std::filesystem::path base_;
};

TEST_F(ReplicaJournalTest, ShippedBatchesAndSnapshotsMakeTheSameJournal) {
  auto copy = Open("copy");
  uint64_t shipped = 0;
  JournalOptions po;
  po.replicate = [&](const std::string& batch, const std::function<Status()>& write_local) {
    Status s = copy->ApplyReplica(batch, false, ReplicaPosition{5, ++shipped, true}, true);
    if (!s.ok()) return s;
    return write_local();
  };
  auto primary = Open("primary", po);
  uint64_t seq = 1;
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(WriteJobs(primary.get(), 3, &seq).ok());
  // A purge (a delete) ships too.
  ASSERT_TRUE(primary->Write({}, {2}, 0).ok());
  EXPECT_EQ(Ids(*copy), Ids(*primary));
  EXPECT_EQ(Ids(*copy).size(), 14u);
  ReplicaPosition pos;
  ASSERT_TRUE(copy->LoadReplicaPosition(&pos).ok());
  EXPECT_EQ(pos.epoch, 5);
  EXPECT_EQ(pos.seq, 6u);
  EXPECT_TRUE(pos.complete);
  std::vector<std::string> problems;
  uint64_t checked = 0;
  ASSERT_TRUE(copy->Verify(&problems, &checked).ok());
  EXPECT_TRUE(problems.empty()) << problems.front();

  // A snapshot in small chunks into a copy that held other things first: the same jobs, and
  // nothing of what it held.
  auto other = Open("other");
  uint64_t other_seq = 100;
  ASSERT_TRUE(WriteJobs(other.get(), 4, &other_seq).ok());
  int chunks = 0;
  ASSERT_TRUE(
      primary
          ->SnapshotChunks(
              200,
              [&](std::string batch, bool last) {
                ++chunks;
                return other->ApplyReplica(batch, chunks == 1, ReplicaPosition{6, 0, last}, last);
              })
          .ok());
  EXPECT_GT(chunks, 3);
  EXPECT_EQ(Ids(*other), Ids(*primary));
  ASSERT_TRUE(other->LoadReplicaPosition(&pos).ok());
  EXPECT_EQ(pos.epoch, 6);
  EXPECT_TRUE(pos.complete);
  // The copy's position is no journal record: a snapshot of a copy does not carry it.
  auto third = Open("third");
  ASSERT_TRUE(other
                  ->SnapshotChunks(1 << 20,
                                   [&](std::string batch, bool) {
                                     return third->ApplyReplica(batch, true, ReplicaPosition{},
                                                                true);
                                   })
                  .ok());
  EXPECT_EQ(Ids(*third), Ids(*primary));
}

TEST_F(ReplicaJournalTest, ACopyRefusesWhatIsNoJournalWrite) {
  auto copy = Open("copy");
  uint64_t seq = 1;
  ASSERT_TRUE(WriteJobs(copy.get(), 2, &seq).ok());
  const auto before = Ids(*copy);
  auto refused = [&](const std::string& batch) {
    Status s = copy->ApplyReplica(batch, false, ReplicaPosition{1, 1, true}, true);
    return s.IsCorruption();
  };
  rocksdb::WriteBatch foreign;
  foreign.Put("zz-not-a-journal-key", "x");
  EXPECT_TRUE(refused(foreign.Data()));
  rocksdb::WriteBatch position;
  position.Put("m:replica", std::string(17, '\0'));
  EXPECT_TRUE(refused(position.Data()));
  rocksdb::WriteBatch merge;
  merge.Merge("j:x", "y");
  EXPECT_TRUE(refused(merge.Data()));
  EXPECT_TRUE(refused("short"));
  std::mt19937 rng(11);
  for (int i = 0; i < 20000; ++i) {
    // A plausible header (count 1..3) and records whose tags are mostly RocksDB's own.
    std::string junk(12 + rng() % 64, '\0');
    for (auto& c : junk) c = static_cast<char>(rng() % 4 == 0 ? rng() : rng() % 0x18);
    junk[8] = static_cast<char>(1 + rng() % 3);
    junk[9] = junk[10] = junk[11] = 0;
    EXPECT_FALSE(copy->ApplyReplica(junk, false, ReplicaPosition{1, 1, true}, false).ok());
  }
  // A good batch after all that still applies, and nothing refused was written.
  rocksdb::WriteBatch good;
  good.Put("j:zzzz-probe-key", "x");
  good.Delete("j:zzzz-probe-key");
  EXPECT_TRUE(copy->ApplyReplica(good.Data(), false, ReplicaPosition{1, 2, true}, true).ok());
  EXPECT_EQ(Ids(*copy), before);
}

}  // namespace
}  // namespace jobnet
