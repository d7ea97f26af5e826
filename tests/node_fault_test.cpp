// Faults a node must survive, against real `jobnet node` processes on loopback ports: a start
// that cannot listen, a journal that fails to write, a damaged write-ahead log or job record (in
// either half of the two-thread recovery), a full disk, a job
// that kills its node every time it runs, and a schedule that fell due while its node was down.
#include <gtest/gtest.h>

#include <msgpack.hpp>
#include <nlohmann/json.hpp>
#include <zmq.hpp>

#include <rocksdb/db.h>
#include <sys/mount.h>
#include <sys/statvfs.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <set>

#include "node_harness.hpp"
#include "pipelined_client.hpp"
#include "protocol/codec.hpp"

namespace jobnet {
namespace {

using testing::Eventually;
using testing::NodeProcess;
using testing::Pack;
using testing::RunCli;
using testing::Spec;
using testing::SubmitAll;
using testing::WaitAll;

class NodeFaultTest : public testing::DirTest {};

TEST_F(NodeFaultTest, StartThatCannotListenTouchesNoJob) {
  std::string data = dir_ + "/n1";
  auto node = std::make_unique<NodeProcess>("n1", data, 1);
  ASSERT_TRUE(node->Start());
  std::string ep = node->endpoint();
  auto c = node->Connect();
  std::vector<std::string> ids;
  for (int i = 0; i < 3; ++i) ids.push_back(c->Submit(Spec("sleep", Pack(200))).value().id);
  ASSERT_TRUE(Eventually([&] {
    return c->GetStatus(ids[0]).value().state == protocol::JobState::kRunning;
  }));
  node->Signal(SIGKILL);
  c.reset();
  // Another node holds the port: the restart fails (exit 6) before recovering anything.
  std::string cmd = std::string(JOBNET_BIN) + " node --id n1 --listen " + ep + " --data " + data +
                    " 2>/dev/null";
  {
    // Occupy the port with a plain ZeroMQ socket.
    zmq::context_t ctx;
    zmq::socket_t hold(ctx, zmq::socket_type::router);
    hold.set(zmq::sockopt::linger, 0);
    hold.bind(ep);
    for (int i = 0; i < 3; ++i) {
      int rc = std::system(cmd.c_str());
      ASSERT_TRUE(WIFEXITED(rc));
      EXPECT_EQ(WEXITSTATUS(rc), 6);
    }
  }
  auto show = RunCli("journal " + data + " show " + ids[0] + " --json");
  ASSERT_EQ(show.exit_code, 0);
  EXPECT_EQ(nlohmann::json::parse(show.out)["attempts"], 1);  // untouched by the failed starts
  EXPECT_EQ(nlohmann::json::parse(show.out)["state"], "running");
  node = std::make_unique<NodeProcess>("n1", data, 1);
  ASSERT_TRUE(node->Start());
  c = node->Connect();
  auto done = WaitAll(*c, ids);
  EXPECT_EQ(done[ids[0]].attempts, 2u);  // one interrupted attempt, one that succeeded
  EXPECT_EQ(done[ids[1]].attempts, 1u);
  EXPECT_EQ(done[ids[2]].attempts, 1u);
  for (const auto& id : ids) EXPECT_EQ(done[id].state, protocol::JobState::kSucceeded);
}

TEST_F(NodeFaultTest, JournalWriteFailureStopsTheNodeAndLosesNothingAcknowledged) {
  std::string data = dir_ + "/n1";
  ::setenv("JOBNET_FAILPOINT_JOURNAL_WRITES", "20", 1);
  auto node = std::make_unique<NodeProcess>("n1", data, 2);
  bool started = node->Start();
  ::unsetenv("JOBNET_FAILPOINT_JOURNAL_WRITES");
  ASSERT_TRUE(started);
  auto c = node->Connect(2000);
  ASSERT_TRUE(c);
  std::vector<std::string> acked;
  Status failure;
  for (int i = 0; i < 200 && failure.ok(); ++i) {
    auto a = c->Submit(Spec("echo", Pack(i)));
    if (a.ok()) {
      acked.push_back(a.value().id);
    } else {
      failure = a.status();
    }
  }
  // The write that failed was answered with a storage error (or the node was already gone).
  ASSERT_FALSE(failure.ok());
  EXPECT_TRUE(failure.code() == Code::kStorage || failure.IsTimeout() || failure.IsUnavailable())
      << failure.ToString();
  ASSERT_FALSE(acked.empty());
  // The node stops itself with exit code 70 rather than serve what it cannot make durable.
  int status = node->Signal(0, std::chrono::seconds(10));
  ASSERT_TRUE(WIFEXITED(status)) << status;
  EXPECT_EQ(WEXITSTATUS(status), 70);
  // Restarted on a healthy disk: every acknowledged job is there and finishes.
  node = std::make_unique<NodeProcess>("n1", data, 2);
  ASSERT_TRUE(node->Start());
  c = node->Connect();
  auto done = WaitAll(*c, acked);
  ASSERT_EQ(done.size(), acked.size());
  for (const auto& id : acked) EXPECT_EQ(done[id].state, protocol::JobState::kSucceeded) << id;
}

// The WAL of a stopped node, damaged two ways. A torn tail (the end of the last write cut off,
// as a crash during that write leaves it) recovers without that write. 64 bytes flipped in the
// middle, before writes that were acknowledged after it, must not pass for a whole journal: the
// node refuses to start (exit 5, naming the file) and `journal verify` reports it.
TEST_F(NodeFaultTest, DamagedWalIsRefusedAndReportedTornTailRecovers) {
  std::string data = dir_ + "/n1";
  {
    NodeProcess node("n1", data, 1);
    ASSERT_TRUE(node.Start());
    auto c = node.Connect();
    std::vector<JobSpec> specs;
    for (int i = 0; i < 400; ++i) {
      JobSpec d = Spec("echo", Pack(std::string(200, 'a' + i % 26)));
      d.delay_ms = 3600 * 1000;  // stays delayed: nothing runs, nothing else is written
      specs.push_back(d);
    }
    ASSERT_EQ(SubmitAll(*c, specs).size(), 400u);
    JobSpec last = specs[0];
    ASSERT_TRUE(c->Submit(last).ok());  // the last write holds this job alone
    ASSERT_EQ(node.Signal(SIGTERM), 0);
  }
  std::filesystem::path wal;
  for (auto& e : std::filesystem::directory_iterator(data))
    if (e.path().extension() == ".log") wal = e.path();
  ASSERT_FALSE(wal.empty());
  auto size = std::filesystem::file_size(wal);
  ASSERT_GT(size, 65536u);  // several 32 KB blocks: the middle is far from the tail

  std::string torn = dir_ + "/torn";
  std::filesystem::copy(data, torn, std::filesystem::copy_options::recursive);
  std::filesystem::resize_file(torn + "/" + wal.filename().string(), size - 100);
  {
    NodeProcess node("n1", torn, 1);
    ASSERT_TRUE(node.Start());
    auto c = node.Connect();
    protocol::ListRequest req;
    req.limit = 1000;
    auto jobs = c->List(req);
    ASSERT_TRUE(jobs.ok()) << jobs.status().ToString();
    EXPECT_EQ(jobs.value().size(), 400u);  // all but the torn last write
  }

  {
    std::fstream f(wal, std::ios::in | std::ios::out | std::ios::binary);
    std::string bytes(64, '\0');
    f.seekg(static_cast<std::streamoff>(size / 2));
    f.read(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    for (char& b : bytes) b = static_cast<char>(~b);  // flip every bit
    f.seekp(static_cast<std::streamoff>(size / 2));
    f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  }
  NodeProcess node("n1", data, 1);
  EXPECT_FALSE(node.Start());
  int status = node.Signal(0, std::chrono::seconds(10));
  ASSERT_TRUE(WIFEXITED(status)) << status;
  EXPECT_EQ(WEXITSTATUS(status), 5);
  std::ifstream log(node.log_path());
  std::stringstream text;
  text << log.rdbuf();
  EXPECT_NE(text.str().find("damaged before its last synced write"), std::string::npos) << text.str();
  EXPECT_NE(text.str().find(wal.filename().string() + " is damaged at byte"), std::string::npos)
      << text.str();
  auto verify = RunCli("journal " + data + " verify");
  EXPECT_EQ(verify.exit_code, 1) << verify.out;
  EXPECT_NE(verify.out.find("problem: journal " + data + " is damaged"), std::string::npos)
      << verify.out;
  EXPECT_NE(verify.out.find("FAILED: 0 jobs checked, 1 problem(s)"), std::string::npos)
      << verify.out;
}

// Recovery scans the journal on one thread and decodes it on two (node.cpp Recover: the reader
// decodes every other batch of 2,048 jobs, the main thread the rest). A journal of 5,000 jobs
// comes back whole; one damaged job record, whichever thread meets it, stops the start with
// exit 5 and the record's key, and neither thread is left waiting for the other.
TEST_F(NodeFaultTest, DamagedJobRecordStopsRecoveryOnEitherThread) {
  constexpr uint64_t kJobs = 5000;
  std::string data = dir_ + "/n1";
  {
    NodeProcess node("n1", data, 1);
    ASSERT_TRUE(node.Start());
    auto c = node.Connect();
    std::vector<JobSpec> specs;
    for (uint64_t i = 0; i < kJobs; ++i) {
      JobSpec d = Spec("echo", Pack(std::to_string(i)));
      d.delay_ms = 3600 * 1000;
      specs.push_back(d);
    }
    ASSERT_EQ(SubmitAll(*c, specs).size(), kJobs);
    ASSERT_EQ(node.Signal(SIGTERM), 0);
  }
  // seq 100 is in the first batch (the reader decodes it), 3000 in the second (the main thread).
  for (uint64_t seq : {0, 100, 3000}) {
    std::string copy = dir_ + "/copy" + std::to_string(seq);
    std::filesystem::copy(data, copy, std::filesystem::copy_options::recursive);
    std::string key = "j:";
    for (int shift = 56; shift >= 0; shift -= 8) key.push_back(static_cast<char>(seq >> shift));
    if (seq != 0) {
      rocksdb::DB* db = nullptr;
      ASSERT_TRUE(rocksdb::DB::Open(rocksdb::Options(), copy, &db).ok());
      ASSERT_TRUE(db->Put(rocksdb::WriteOptions(), key, "\x81\xa1v\x01 garbage").ok());
      delete db;
    }
    NodeProcess node("n1", copy, 1);
    if (seq == 0) {
      ASSERT_TRUE(node.Start());
      auto st = node.Connect()->Stats();
      ASSERT_TRUE(st.ok()) << st.status().ToString();
      EXPECT_EQ(st.value().jobs["delayed"], kJobs);
      continue;
    }
    EXPECT_FALSE(node.Start());
    int status = node.Signal(0, std::chrono::seconds(10));
    ASSERT_TRUE(WIFEXITED(status)) << status;
    EXPECT_EQ(WEXITSTATUS(status), 5) << seq;
    std::ifstream log(node.log_path());
    std::stringstream text;
    text << log.rdbuf();
    EXPECT_NE(text.str().find("cannot recover journal"), std::string::npos) << text.str();
    EXPECT_NE(text.str().find("record " + rocksdb::Slice(key).ToString(true)), std::string::npos)
        << text.str();
  }
}

// A 4 MiB tmpfs holds the journal; a filler file beside it takes the space.
class FullDiskTest : public NodeFaultTest {
 protected:
  void SetUp() override {
    disk_ = dir_ + "/disk";
    std::filesystem::create_directories(disk_);
    if (::mount("tmpfs", disk_.c_str(), "tmpfs", 0, "size=4m") != 0)
      GTEST_SKIP() << "cannot mount a 4 MiB tmpfs at " << disk_ << " (" << std::strerror(errno)
                   << "): a full disk needs root or CAP_SYS_ADMIN to simulate";
    mounted_ = true;
  }
  void TearDown() override {
    if (mounted_) ::umount2(disk_.c_str(), MNT_DETACH);
    NodeFaultTest::TearDown();
  }
  // Leaves about `free_bytes` free on the small disk.
  void Fill(uint64_t free_bytes) {
    struct statvfs v {};
    ASSERT_EQ(::statvfs(disk_.c_str(), &v), 0);
    uint64_t avail = uint64_t{v.f_bavail} * v.f_frsize;
    std::ofstream f(disk_ + "/filler", std::ios::binary | std::ios::app);
    std::string chunk(4096, 'f');
    for (uint64_t n = 0; n + free_bytes < avail && f; n += chunk.size()) f.write(chunk.data(), chunk.size());
  }
  void Unfill() { std::filesystem::remove(disk_ + "/filler"); }

  std::string disk_;
  bool mounted_ = false;
};

// Issue 7: on a full disk the node used to abort inside RocksDB (exit 134). Now writes are
// refused with storage_full while reads go on; when space returns the held batch is written and
// submits succeed again; nothing acknowledged is lost across a restart; and a start on a full
// disk exits 5 with a clear message.
TEST_F(FullDiskTest, FullDiskRefusesWritesServesReadsAndResumes) {
  std::string data = disk_ + "/n1";
  auto start = [&] {
    auto n = std::make_unique<NodeProcess>("n1", data, 1);
    n->set_log_path(dir_ + "/n1.log");  // not on the disk that fills up
    return n;
  };
  auto node = start();
  ASSERT_TRUE(node->Start());
  auto c = node->Connect();
  auto done = c->Wait(c->Submit(Spec("echo", Pack(7))).value().id, 10000);
  ASSERT_TRUE(done.ok()) << done.status().ToString();

  Fill(100 << 10);
  std::vector<std::string> acked;
  Status refused;
  for (int i = 0; i < 200 && refused.ok(); ++i) {
    JobSpec d = Spec("echo", Pack(std::string(20000, 'a' + i % 26)));
    d.delay_ms = 3600 * 1000;
    auto a = c->Submit(d);
    if (a.ok()) {
      acked.push_back(a.value().id);
    } else {
      refused = a.status();
    }
  }
  ASSERT_TRUE(refused.IsStorageFull()) << refused.ToString();
  ASSERT_FALSE(acked.empty());
  // Still full: new writes are refused at once, reads are answered.
  EXPECT_TRUE(c->Submit(Spec("echo", Pack(1))).status().IsStorageFull());
  EXPECT_TRUE(c->Cancel(acked[0]).status().IsStorageFull());
  auto st = c->GetStatus(acked[0]);
  ASSERT_TRUE(st.ok()) << st.status().ToString();
  EXPECT_EQ(st.value().state, protocol::JobState::kDelayed);
  auto waited = c->Wait(done.value().id, 1000);
  ASSERT_TRUE(waited.ok()) << waited.status().ToString();
  EXPECT_EQ(waited.value().state, protocol::JobState::kSucceeded);
  protocol::ListRequest req;
  req.limit = 1000;
  auto listed = c->List(req);
  ASSERT_TRUE(listed.ok()) << listed.status().ToString();
  EXPECT_GE(listed.value().size(), acked.size() + 1);
  auto stats = c->Stats();
  ASSERT_TRUE(stats.ok()) << stats.status().ToString();
  EXPECT_EQ(stats.value().counters["journal_full"], 1u);
  EXPECT_TRUE(node->Running());

  // Space returns: the node resumes by itself.
  Unfill();
  std::string after;
  ASSERT_TRUE(Eventually([&] {
    auto a = c->Submit(Spec("echo", Pack(2)));
    if (a.ok()) after = a.value().id;
    return a.ok();
  }));
  auto ran = c->Wait(after, 10000);
  ASSERT_TRUE(ran.ok()) << ran.status().ToString();
  EXPECT_EQ(ran.value().state, protocol::JobState::kSucceeded);
  EXPECT_EQ(c->Stats().value().counters["journal_full"], 0u);
  ASSERT_EQ(node->Signal(SIGTERM), 0);

  // A start on a full disk: exit 5 and a message that says so, no abort.
  Fill(0);
  node = start();
  EXPECT_FALSE(node->Start());
  int status = node->Signal(0, std::chrono::seconds(10));
  ASSERT_TRUE(WIFEXITED(status)) << status;
  EXPECT_EQ(WEXITSTATUS(status), 5);
  std::ifstream log(node->log_path());
  std::stringstream text;
  text << log.rdbuf();
  EXPECT_NE(text.str().find("cannot open journal: storage_full"), std::string::npos) << text.str();

  // With space again, every acknowledged job is there.
  Unfill();
  node = start();
  ASSERT_TRUE(node->Start());
  c = node->Connect();
  for (const auto& id : acked) {
    auto j = c->GetStatus(id);
    ASSERT_TRUE(j.ok()) << id << ": " << j.status().ToString();
    EXPECT_EQ(j.value().state, protocol::JobState::kDelayed) << id;
  }
  EXPECT_EQ(c->GetStatus(after).value().state, protocol::JobState::kSucceeded);
}

// A job that kills its node every time it runs must still use up its attempts and end dead:
// workers start jobs without waiting for the fsync of their `running` record, and the run marks
// (storage/run_marks.hpp) are what count the attempt across the crash.
TEST_F(NodeFaultTest, PoisonJobThatKillsItsNodeEndsDeadAfterMaxAttempts) {
  std::string cfg = dir_ + "/node.toml";
  {
    std::ofstream f(cfg);
    f << "workers = 2\n[exec.allow]\npoison = [\"sh\", \"-c\", \"kill -9 $PPID; sleep 5\"]\n";
  }
  NodeProcess node("n1", dir_ + "/n1", 2, {"--config", cfg});
  // A slow journal: every run of the poison job kills the node before its `running` record is
  // durable, so only the run marks can count the attempts.
  struct SlowJournal {
    SlowJournal() { ::setenv("JOBNET_FAILPOINT_JOURNAL_DELAY_MS", "150", 1); }
    ~SlowJournal() { ::unsetenv("JOBNET_FAILPOINT_JOURNAL_DELAY_MS"); }
  } slow_journal;
  ASSERT_TRUE(node.Start());
  std::string id;
  {
    auto c = node.Connect();
    JobSpec poison = Spec("exec", Pack(std::string("poison")));
    poison.max_attempts = 3;
    poison.delay_ms = 500;  // acknowledged before it first runs
    auto a = c->Submit(poison);
    ASSERT_TRUE(a.ok()) << a.status().ToString();
    id = a.value().id;
  }
  int deaths = 0;
  for (int round = 0; round < 8; ++round) {
    // Each run kills the node: wait for that, or for the job to have no attempts left.
    JobInfo final_job;
    bool job_dead = false;
    ASSERT_TRUE(Eventually(
        [&] {
          if (!node.Running()) return true;
          auto c = node.Connect(1000);
          if (!c) return false;
          auto j = c->GetStatus(id);
          job_dead = j.ok() && j.value().state == JobState::kDead;
          if (job_dead) final_job = j.value();
          return job_dead;
        },
        std::chrono::seconds(30)));
    if (job_dead) {
      EXPECT_EQ(final_job.attempts, 3u);
      EXPECT_NE(final_job.error.find("restart"), std::string::npos) << final_job.error;
      EXPECT_EQ(deaths, 3);
      return;
    }
    ++deaths;
    node.Start();  // recovery re-runs it at once: the node may die before it answers
  }
  FAIL() << "the poison job did not end dead; the node died " << deaths << " times";
}

// A run's end that only a `wait` is waiting for lingers for a submit to share its fsync
// (result_linger_us, docs/journal.md §5). With nothing else written it still goes when its time
// is up, and the `wait` is answered only once it is durable: a SIGKILL right after finds it.
// The bound is checked at start.
TEST_F(NodeFaultTest, LingeringRunEndIsDurableBeforeItsWaitIsAnswered) {
  std::string cfg = dir_ + "/node.toml";
  std::ofstream(cfg) << "workers = 2\nresult_linger_us = " << limits::kResultLingerUsMax << "\n";
  NodeProcess node("n1", dir_ + "/n1", 2, {"--config", cfg});
  ASSERT_TRUE(node.Start());
  std::vector<std::string> ids;
  {
    auto c = node.Connect();
    ASSERT_TRUE(c);
    for (int i = 0; i < 5; ++i) {
      auto a = c->Submit(Spec("echo", Pack(i)));
      ASSERT_TRUE(a.ok()) << a.status().ToString();
      auto j = c->Wait(a.value().id, 10000);
      ASSERT_TRUE(j.ok()) << j.status().ToString();
      ASSERT_EQ(j.value().state, JobState::kSucceeded);
      ids.push_back(a.value().id);
    }
  }
  node.Kill();
  ASSERT_TRUE(node.Start());
  auto c = node.Connect();
  ASSERT_TRUE(c);
  for (const auto& id : ids) {
    auto j = c->GetStatus(id);
    ASSERT_TRUE(j.ok()) << j.status().ToString();
    EXPECT_EQ(j.value().state, JobState::kSucceeded) << id;
  }
  node.Kill();
  std::ofstream(cfg) << "result_linger_us = " << limits::kResultLingerUsMax + 1 << "\n";
  NodeProcess bad("n2", dir_ + "/n2", 1, {"--config", cfg});
  EXPECT_FALSE(bad.Start());
  EXPECT_EQ(WEXITSTATUS(bad.Signal(0)), 2);
}

// Goal: ticks of a schedule missed while its node was SIGKILLed fire once on restart, not once
// per missed tick; then the schedule goes on with its regular ticks. Method: every 2 s, killed
// for 4.5 s (two or three ticks missed), restarted, paused as soon as a job appears. No
// assertion depends on how fast the node runs: the interval starts again at the catch-up fire,
// so the k-th job after it must be at least k intervals later.
TEST_F(NodeFaultTest, ScheduleMissedWhileKilledFiresOnceOnRestart) {
  using Ms = std::chrono::milliseconds;
  auto wall_ms = [] {
    return static_cast<uint64_t>(std::chrono::duration_cast<Ms>(
                                     std::chrono::system_clock::now().time_since_epoch())
                                     .count());
  };
  std::string data = dir_ + "/n1";
  auto node = std::make_unique<NodeProcess>("n1", data, 2);
  ASSERT_TRUE(node->Start());
  auto c = node->Connect();
  ScheduleSpec spec;
  spec.name = "tick";
  spec.every_ms = 2000;
  spec.job.type = "echo";
  spec.job.payload = Pack("tick");
  auto added = c->AddSchedule(spec);
  ASSERT_TRUE(added.ok()) << added.status().ToString();
  EXPECT_GT(added.value().next_fire_ms, 0u);
  auto fires = [](Client& cl) -> uint64_t {
    auto l = cl.ListSchedules(nullptr, true);
    return l.ok() && l.value().size() == 1 ? l.value()[0].fires : 0;
  };
  ASSERT_TRUE(Eventually([&] { return fires(*c) >= 1; }));
  ASSERT_TRUE(WIFSIGNALED(node->Signal(SIGKILL)));
  c.reset();
  std::this_thread::sleep_for(Ms(4500));  // the outage itself: ticks pass unserved

  const uint64_t restart_ms = wall_ms();
  node = std::make_unique<NodeProcess>("n1", data, 2);
  ASSERT_TRUE(node->Start());
  c = node->Connect();
  auto echo_jobs = [&] {
    ListQuery q;
    q.limit = limits::kListLimitMax;
    std::vector<JobInfo> out;
    auto l = c->List(q);
    if (l.ok())
      for (auto& j : l.value())
        if (j.type == "echo") out.push_back(j);
    return out;
  };
  auto after_restart = [&] {
    std::vector<JobInfo> out;
    for (auto& j : echo_jobs())
      if (j.created_at_ms >= restart_ms) out.push_back(j);
    return out;
  };
  ASSERT_TRUE(Eventually([&] { return !after_restart().empty(); }));
  ASSERT_TRUE(c->ChangeSchedule("tick", "pause").ok());
  auto post = after_restart();
  std::sort(post.begin(), post.end(),
            [](const JobInfo& a, const JobInfo& b) { return a.created_at_ms < b.created_at_ms; });
  ASSERT_FALSE(post.empty());
  for (size_t k = 1; k < post.size(); ++k)
    EXPECT_GE(post[k].created_at_ms, post[0].created_at_ms + k * spec.every_ms)
        << "job " << post[k].id << " fired without a tick of its own: a second catch-up fire";
  // Every fire made exactly one job, across the kill too (none lost, none doubled).
  EXPECT_EQ(fires(*c), echo_jobs().size());
  std::set<std::string> ids;
  for (auto& j : echo_jobs()) ids.insert(j.id);
  EXPECT_EQ(ids.size(), echo_jobs().size());
}

}  // namespace
}  // namespace jobnet
