// Journal contract: write, close, reopen and read back; incarnation bumps; failed writes (the
// injectable seam) return a Status and leave nothing behind; damaged records and files are
// reported as errors, never crashes; purges remove jobs with their history; a journal held by a
// running process is reported as locked.
#include <gtest/gtest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <rocksdb/db.h>

#include <filesystem>
#include <fstream>

#include "storage/journal.hpp"

namespace jobnet {
namespace {

using protocol::Job;
using protocol::JobEvent;
using protocol::JobState;
using protocol::JobWrite;

class JournalTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("jobnet_journal_test_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::unique_ptr<Journal> Open(JournalOptions o = {}) {
    std::unique_ptr<Journal> j;
    Status s = Journal::Open(dir_.string(), o, &j);
    EXPECT_TRUE(s.ok()) << s.ToString();
    return j;
  }
  static JobWrite MakeWrite(uint64_t seq, JobState state, uint32_t first_event, uint32_t events) {
    JobWrite w;
    w.job.seq = seq;
    w.job.id = "n1-" + std::to_string(seq);
    w.job.spec.type = "echo";
    w.job.state = state;
    w.job.events = first_event + events;
    if (protocol::IsFinal(state)) w.job.finished_at_ms = 5;
    for (uint32_t i = 0; i < events; ++i)
      w.events.emplace_back(first_event + i, JobEvent{1000 + i, state, 0, "ev", {}, {}});
    return w;
  }

  // Opens with events_kept = kept (the options in *o, to reopen with).
  std::unique_ptr<Journal> OpenKeeping(uint64_t kept, JournalOptions* o) {
    o->events_kept = kept;
    return Open(*o);
  }
  // One write of n new jobs from *seq on, one queued event each; *seq moves past them.
  static Status WriteNewJobs(Journal* j, int n, uint64_t* seq) {
    std::vector<JobWrite> batch;
    for (int i = 0; i < n; ++i, ++*seq) batch.push_back(MakeWrite(*seq, JobState::kQueued, 0, 1));
    return j->Write(batch, {}, *seq);
  }

  // The journal's one write-ahead log (RocksDB's NNNNNN.log).
  std::filesystem::path WalFile() const {
    std::filesystem::path wal;
    for (auto& entry : std::filesystem::directory_iterator(dir_))
      if (entry.path().extension() == ".log") {
        EXPECT_TRUE(wal.empty()) << "more than one WAL: " << wal << " " << entry.path();
        wal = entry.path();
      }
    return wal;
  }
  // Writes jobs 1..n, one synced batch each, with 200-byte payloads, and closes the journal.
  void WriteJobs(uint64_t n) {
    auto j = Open();
    for (uint64_t seq = 1; seq <= n; ++seq) {
      JobWrite w = MakeWrite(seq, JobState::kDelayed, 0, 1);
      w.job.spec.payload = "\xc5\x00\xc8" + std::string(200, 'x');  // bin16 of 200 bytes
      ASSERT_TRUE(j->Write({w}, {}, seq + 1).ok());
    }
  }
  size_t CountJobs() {
    auto j = Open();
    if (!j) return 0;
    std::vector<Job> jobs;
    uint64_t next_seq = 0;
    EXPECT_TRUE(j->LoadAll(&jobs, &next_seq).ok());
    return jobs.size();
  }

  std::filesystem::path dir_;
};

TEST_F(JournalTest, WriteCloseReopenReadBack) {
  {
    auto j = Open();
    ASSERT_TRUE(j);
    EXPECT_EQ(j->incarnation(), 1u);
    JobWrite first = MakeWrite(1, JobState::kQueued, 0, 1);
    first.job.spec.payload = "\xa5hello";
    ASSERT_TRUE(j->Write({first, MakeWrite(2, JobState::kDelayed, 0, 1)}, {}, 3).ok());
    // Later writes carry the job without re-writing its payload.
    JobWrite later = MakeWrite(1, JobState::kRunning, 1, 1);
    later.job.spec.payload.clear();
    ASSERT_TRUE(j->Write({later}, {}, 0).ok());
    EXPECT_EQ(j->stats().batches, 2u);
  }
  auto j = Open();
  EXPECT_EQ(j->incarnation(), 2u);
  std::vector<Job> jobs;
  uint64_t next_seq = 0;
  ASSERT_TRUE(j->LoadAll(&jobs, &next_seq).ok());
  ASSERT_EQ(jobs.size(), 2u);
  EXPECT_EQ(next_seq, 3u);
  EXPECT_EQ(jobs[0].state, JobState::kRunning);
  EXPECT_EQ(jobs[0].spec.payload, "\xa5hello");
  EXPECT_EQ(jobs[1].state, JobState::kDelayed);
  EXPECT_EQ(j->Get(1).value().spec.payload, "\xa5hello");
  std::vector<std::pair<uint32_t, JobEvent>> history;
  ASSERT_TRUE(j->History(1, &history).ok());
  ASSERT_EQ(history.size(), 2u);
  EXPECT_EQ(history[1].first, 1u);
  EXPECT_EQ(history[1].second.state, JobState::kRunning);
  std::vector<std::string> problems;
  uint64_t checked = 0;
  ASSERT_TRUE(j->Verify(&problems, &checked).ok());
  EXPECT_TRUE(problems.empty()) << problems[0];
  EXPECT_EQ(checked, 2u);
}

TEST_F(JournalTest, LoadAllStreamsJobsInSeqOrderWithPayloads) {
  WriteJobs(5);
  auto j = Open();
  std::vector<uint64_t> seqs;
  uint64_t next_seq = 0;
  ASSERT_TRUE(j->LoadAll(&next_seq, [&](Job&& job) {
                 EXPECT_EQ(job.spec.payload, "\xc5\x00\xc8" + std::string(200, 'x'));
                 Job mine = std::move(job);  // the caller owns what it is handed
                 seqs.push_back(mine.seq);
               }).ok());
  EXPECT_EQ(next_seq, 6u);
  EXPECT_EQ(seqs, (std::vector<uint64_t>{1, 2, 3, 4, 5}));
}

TEST_F(JournalTest, FailedWriteReturnsStatusAndWritesNothing) {
  JournalOptions o;
  bool fail = true;
  o.before_write = [&](size_t) {
    return fail ? Status::Storage("simulated: no space left on device") : Status::OK();
  };
  {
    auto j = Open(o);
    Status s = j->Write({MakeWrite(1, JobState::kQueued, 0, 1)}, {}, 2);
    EXPECT_EQ(s.code(), Code::kStorage);
    EXPECT_NE(s.message().find("no space"), std::string::npos);
    fail = false;
    ASSERT_TRUE(j->Write({MakeWrite(2, JobState::kQueued, 0, 1)}, {}, 3).ok());
  }
  auto j = Open();
  std::vector<Job> jobs;
  uint64_t next_seq = 0;
  ASSERT_TRUE(j->LoadAll(&jobs, &next_seq).ok());
  ASSERT_EQ(jobs.size(), 1u);
  EXPECT_EQ(jobs[0].seq, 2u);
}

TEST_F(JournalTest, PurgeRemovesJobAndHistory) {
  auto j = Open();
  ASSERT_TRUE(j->Write({MakeWrite(1, JobState::kSucceeded, 0, 3), MakeWrite(2, JobState::kQueued, 0, 1)}, {}, 3).ok());
  ASSERT_TRUE(j->Write({}, {1}, 0).ok());
  EXPECT_TRUE(j->Get(1).status().IsNotFound());
  {
    // Its payload went with it (Verify below would report an orphan payload).
    std::vector<Job> jobs;
    uint64_t next_seq = 0;
    ASSERT_TRUE(j->LoadAll(&jobs, &next_seq).ok());
    ASSERT_EQ(jobs.size(), 1u);
  }
  std::vector<std::pair<uint32_t, JobEvent>> history;
  ASSERT_TRUE(j->History(1, &history).ok());
  EXPECT_TRUE(history.empty());
  std::vector<std::string> problems;
  uint64_t checked = 0;
  ASSERT_TRUE(j->Verify(&problems, &checked).ok());
  EXPECT_TRUE(problems.empty());
  EXPECT_EQ(checked, 1u);
}

TEST_F(JournalTest, PoolSettingIsKeptAcrossReopenAndADamagedOneIsCorruption) {
  {
    auto j = Open();
    PoolSetting none;
    ASSERT_TRUE(j->LoadPoolSetting(&none).ok());
    EXPECT_EQ(none.workers, 0u);  // never set
    ASSERT_TRUE(j->Write({}, {}, 0, PoolSetting{9, 4}).ok());
    ASSERT_TRUE(j->Write({MakeWrite(1, JobState::kQueued, 0, 1)}, {}, 2).ok());  // leaves it be
  }
  {
    auto j = Open();
    PoolSetting p;
    ASSERT_TRUE(j->LoadPoolSetting(&p).ok());
    EXPECT_EQ(p.workers, 9u);
    EXPECT_EQ(p.configured, 4u);
  }
  {
    rocksdb::DB* db = nullptr;
    rocksdb::Options ro;
    ASSERT_TRUE(rocksdb::DB::Open(ro, dir_.string(), &db).ok());
    ASSERT_TRUE(db->Put(rocksdb::WriteOptions(), "m:workers", std::string("\0\0\0\0\0\0\0\4", 8)).ok());
    delete db;
  }
  PoolSetting p;
  auto j = Open();
  EXPECT_TRUE(j->LoadPoolSetting(&p).IsCorruption());  // 0 workers is no pool
  std::vector<std::string> problems;
  uint64_t checked = 0;
  ASSERT_TRUE(j->Verify(&problems, &checked).ok());
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_NE(problems[0].find("m:workers"), std::string::npos);
}

TEST_F(JournalTest, DamagedRecordIsCorruptionNamingTheKey) {
  { Open()->Write({MakeWrite(1, JobState::kQueued, 0, 1)}, {}, 2); }
  {
    rocksdb::DB* db = nullptr;
    rocksdb::Options ro;
    ASSERT_TRUE(rocksdb::DB::Open(ro, dir_.string(), &db).ok());
    std::string key = "j:";
    key.append(7, '\0');
    key.push_back('\x01');
    ASSERT_TRUE(db->Put(rocksdb::WriteOptions(), key, "\x81\xa1v\x01 garbage").ok());
    std::string orphan = "h:";
    orphan.append(7, '\0');
    orphan.push_back('\x09');
    orphan.append(4, '\0');
    ASSERT_TRUE(db->Put(rocksdb::WriteOptions(), orphan, "junk").ok());
    delete db;
  }
  auto j = Open();
  std::vector<Job> jobs;
  uint64_t next_seq = 0;
  Status s = j->LoadAll(&jobs, &next_seq);
  EXPECT_TRUE(s.IsCorruption()) << s.ToString();
  std::vector<std::string> problems;
  uint64_t checked = 0;
  ASSERT_TRUE(j->Verify(&problems, &checked).ok());
  EXPECT_FALSE(problems.empty());
}

TEST_F(JournalTest, DamagedFilesFailToOpenWithAStatus) {
  { Open()->Write({MakeWrite(1, JobState::kQueued, 0, 1)}, {}, 2); }
  for (auto& entry : std::filesystem::directory_iterator(dir_)) {
    auto name = entry.path().filename().string();
    if (name.rfind("MANIFEST", 0) == 0) {
      std::ofstream f(entry.path(), std::ios::trunc);
      f << "this is not a manifest";
    }
  }
  std::unique_ptr<Journal> j;
  Status s = Journal::Open(dir_.string(), JournalOptions{}, &j);
  EXPECT_FALSE(s.ok());
  EXPECT_FALSE(j);
}

// A crash while a batch is being written leaves part of its record at the end of the WAL. That
// batch was never acknowledged: the journal opens without it and with everything before it.
TEST_F(JournalTest, TornWalTailRecovers) {
  WriteJobs(300);
  std::filesystem::path wal = WalFile();
  ASSERT_FALSE(wal.empty());
  auto size = std::filesystem::file_size(wal);
  std::filesystem::resize_file(wal, size - 100);  // cuts into the last job's record
  EXPECT_EQ(CountJobs(), 299u);
  // The torn record is gone for good: the next open sees a whole journal.
  EXPECT_EQ(CountJobs(), 299u);
}

// Damage before the last synced write would silently drop acknowledged jobs under RocksDB's
// default recovery mode (it stops replaying at the first bad record). The journal must refuse
// to open, name the damaged file, and the read-only open the `verify` tool uses must refuse too.
TEST_F(JournalTest, WalDamagedInTheMiddleIsRefusedAndNamed) {
  WriteJobs(300);  // ~75 KB of WAL: three 32 KB blocks
  std::filesystem::path wal = WalFile();
  ASSERT_FALSE(wal.empty());
  auto size = std::filesystem::file_size(wal);
  {
    std::fstream f(wal, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(size / 2));
    std::string junk(64, '\0');
    for (size_t i = 0; i < junk.size(); ++i) junk[i] = static_cast<char>(0xA5 ^ i);
    f.write(junk.data(), static_cast<std::streamsize>(junk.size()));
  }
  for (bool read_only : {false, true}) {
    JournalOptions o;
    o.read_only = read_only;
    std::unique_ptr<Journal> j;
    Status s = Journal::Open(dir_.string(), o, &j);
    EXPECT_TRUE(s.IsCorruption()) << "read_only=" << read_only << ": " << s.ToString();
    EXPECT_NE(s.message().find(wal.filename().string()), std::string::npos) << s.ToString();
    EXPECT_FALSE(j);
  }
}

// The same damage in the WAL's last 32 KB block, at every offset of a record's span: where it
// hits a record length, RocksDB itself cannot tell it from a torn tail (this is the case
// kTolerateCorruptedTailRecords lets through).
TEST_F(JournalTest, WalDamagedInItsLastBlockIsRefusedWhereverItHits) {
  WriteJobs(60);  // ~15 KB of WAL: one block, records of ~250 bytes
  std::filesystem::path copy = dir_.string() + ".whole";
  std::filesystem::copy(dir_, copy, std::filesystem::copy_options::recursive);
  std::string wal_name = WalFile().filename().string();
  auto size = std::filesystem::file_size(WalFile());
  for (size_t off = size / 2; off < size / 2 + 300; off += 5) {
    std::filesystem::remove_all(dir_);
    std::filesystem::copy(copy, dir_, std::filesystem::copy_options::recursive);
    {
      std::fstream f(dir_ / wal_name, std::ios::in | std::ios::out | std::ios::binary);
      f.seekp(static_cast<std::streamoff>(off));
      std::string junk(64, '\xff');
      f.write(junk.data(), static_cast<std::streamsize>(junk.size()));
    }
    std::unique_ptr<Journal> j;
    Status s = Journal::Open(dir_.string(), JournalOptions{}, &j);
    EXPECT_TRUE(s.IsCorruption()) << "damage at " << off << ": " << s.ToString();
  }
  std::filesystem::remove_all(copy);
}

// A torn write can also leave its length on disk but zeros for its bytes (the file grew, the
// data did not make it): still a torn tail, recovered without it.
TEST_F(JournalTest, TornWalTailOfZerosRecovers) {
  WriteJobs(300);
  std::filesystem::path wal = WalFile();
  auto size = std::filesystem::file_size(wal);
  {
    std::fstream f(wal, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(size - 150));
    std::string zeros(150, '\0');
    f.write(zeros.data(), static_cast<std::streamsize>(zeros.size()));
  }
  EXPECT_EQ(CountJobs(), 299u);
}

TEST_F(JournalTest, ReadOnlyOpenOfMissingJournalIsNotFound) {
  JournalOptions o;
  o.read_only = true;
  std::unique_ptr<Journal> j;
  EXPECT_TRUE(Journal::Open(dir_.string(), o, &j).IsNotFound());
}

TEST_F(JournalTest, JournalHeldByAnotherProcessIsLocked) {
  auto j = Open();
  ASSERT_TRUE(j);
  pid_t pid = ::fork();
  if (pid == 0) {
    // fcntl locks are per process: only another process sees this one's lock.
    std::unique_ptr<Journal> other;
    JournalOptions o;
    o.read_only = true;
    Status s = Journal::Open(dir_.string(), o, &other);
    ::_exit(Journal::IsLocked(dir_.string()) && s.IsLocked() ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  j.reset();
  EXPECT_FALSE(Journal::IsLocked(dir_.string()));
}

TEST_F(JournalTest, SchedulesArePutDeletedAndReloadedInTheJobsBatch) {
  auto sched = [](const std::string& name, uint64_t fires) {
    protocol::Schedule s;
    s.spec.name = name;
    s.spec.cron = "*/5 * * * *";
    s.spec.job.type = "echo";
    s.fires = fires;
    return s;
  };
  {
    auto j = Open();
    ASSERT_TRUE(j->Write({}, {}, 0, PoolSetting{}, {{"a", false, sched("a", 0)}, {"b", false, sched("b", 0)}}).ok());
    // A fire: the job and the schedule's new record in one batch; a removal in the next.
    ASSERT_TRUE(j->Write({MakeWrite(1, JobState::kQueued, 0, 1)}, {}, 2, PoolSetting{},
                         {{"a", false, sched("a", 1)}})
                    .ok());
    ASSERT_TRUE(j->Write({}, {}, 0, PoolSetting{}, {{"b", true, {}}}).ok());
  }
  auto j = Open();
  std::vector<protocol::Schedule> got;
  ASSERT_TRUE(j->LoadSchedules([&](protocol::Schedule&& s) { got.push_back(std::move(s)); }).ok());
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].spec.name, "a");
  EXPECT_EQ(got[0].fires, 1u);
  EXPECT_EQ(got[0].spec.cron, "*/5 * * * *");
}

TEST_F(JournalTest, QueueSettingsSurviveReopenAndTheLastWriteWins) {
  {
    auto j = Open();
    protocol::QueueSettings q{"stack", jobnet::QueueOrder::kLifo, 2, 0, 1, false, 10, "n1"};
    ASSERT_TRUE(j->Write({}, {}, 0, PoolSetting{}, {}, {q}).ok());
    q.paused = true;
    q.updated_at_ms = 11;
    protocol::QueueSettings other{"other", jobnet::QueueOrder::kFifo, 0, 5, 3, false, 12, "n2"};
    ASSERT_TRUE(j->Write({MakeWrite(1, JobState::kQueued, 0, 1)}, {}, 2, PoolSetting{}, {}, {q, other}).ok());
  }
  auto j = Open();
  std::vector<protocol::QueueSettings> qs;
  ASSERT_TRUE(j->LoadQueues(&qs).ok());
  ASSERT_EQ(qs.size(), 2u);
  EXPECT_EQ(qs[0].name, "other");  // by name
  EXPECT_EQ(qs[0].rate, 5u);
  EXPECT_EQ(qs[1].name, "stack");
  EXPECT_EQ(qs[1].order, jobnet::QueueOrder::kLifo);
  EXPECT_TRUE(qs[1].paused);
  EXPECT_EQ(qs[1].updated_at_ms, 11u);
  std::vector<Job> jobs;
  uint64_t next_seq = 0;
  ASSERT_TRUE(j->LoadAll(&jobs, &next_seq).ok());
  EXPECT_EQ(jobs.size(), 1u);  // queue records are not jobs
  std::vector<std::string> problems;
  uint64_t checked = 0;
  ASSERT_TRUE(j->Verify(&problems, &checked).ok());
  EXPECT_TRUE(problems.empty()) << problems.front();
}

TEST_F(JournalTest, DamagedScheduleRecordIsCorruptionNamingTheKey) {
  {
    rocksdb::DB* db = nullptr;
    rocksdb::Options ro;
    ro.create_if_missing = true;
    ASSERT_TRUE(rocksdb::DB::Open(ro, dir_.string(), &db).ok());
    ASSERT_TRUE(db->Put(rocksdb::WriteOptions(), "s:tick", "\x81\xa1v\x01 garbage").ok());
    delete db;
  }
  auto j = Open();
  Status s = j->LoadSchedules([](protocol::Schedule&&) {});
  EXPECT_TRUE(s.IsCorruption()) << s.ToString();
  EXPECT_NE(s.message().find("s:tick"), std::string::npos) << s.ToString();
  std::vector<std::string> problems;
  uint64_t checked = 0;
  ASSERT_TRUE(j->Verify(&problems, &checked).ok());
  EXPECT_FALSE(problems.empty());
}

// ---- the event stream ("e:" keys) ----

// Every event read back with ReadEvents from `from` on.
std::vector<protocol::StateEvent> ReadAllEvents(const Journal& j, uint64_t from = 1) {
  std::vector<protocol::StateEvent> out;
  uint64_t covered = 0;
  Status s = j.ReadEvents(from, UINT64_MAX - 1, UINT32_MAX,
                          [&](protocol::StateEvent&& e) {
                            out.push_back(std::move(e));
                            return true;
                          },
                          &covered);
  EXPECT_TRUE(s.ok()) << s.ToString();
  return out;
}

TEST_F(JournalTest, EveryJournaledEventGetsTheNextStreamSeqInTheSameBatch) {
  auto j = Open();
  EXPECT_EQ(j->next_event_seq(), 1u);
  EXPECT_EQ(j->oldest_event_seq(), 1u);
  JobWrite a = MakeWrite(1, JobState::kQueued, 0, 1);
  a.job.spec.queue = "mail";
  JobWrite b = MakeWrite(2, JobState::kRunning, 0, 2);
  b.events[1].second.node = "n2";
  b.events[1].second.error = "boom";
  b.events[1].second.attempt = 1;
  std::vector<protocol::StateEvent> published;
  ASSERT_TRUE(j->Write({a, b}, {}, 3, {}, {}, {}, &published).ok());
  ASSERT_EQ(published.size(), 3u);
  EXPECT_EQ(j->next_event_seq(), 4u);
  EXPECT_EQ(published[0].seq, 1u);
  EXPECT_EQ(published[0].id, "n1-1");
  EXPECT_EQ(published[0].queue, "mail");
  EXPECT_EQ(published[0].type, "echo");
  EXPECT_EQ(published[0].state, JobState::kQueued);
  EXPECT_EQ(published[0].at_ms, 1000u);
  EXPECT_EQ(published[2].seq, 3u);
  EXPECT_EQ(published[2].node, "n2");
  EXPECT_EQ(published[2].error, "boom");
  EXPECT_EQ(published[2].attempt, 1u);
  auto read = ReadAllEvents(*j);
  ASSERT_EQ(read.size(), 3u);
  EXPECT_EQ(read[2].seq, 3u);
  EXPECT_EQ(read[2].error, "boom");
  EXPECT_EQ(read[1].id, "n1-2");
  // A range, and a scan bound: covered_to says how far it looked.
  uint64_t covered = 0;
  std::vector<uint64_t> seqs;
  auto collect = [&](protocol::StateEvent&& e) {
    seqs.push_back(e.seq);
    return true;
  };
  ASSERT_TRUE(j->ReadEvents(2, 10, 1, collect, &covered).ok());
  EXPECT_EQ(seqs, std::vector<uint64_t>({2}));
  EXPECT_EQ(covered, 2u);
  seqs.clear();
  ASSERT_TRUE(j->ReadEvents(2, 10, 100, collect, &covered).ok());
  EXPECT_EQ(seqs, std::vector<uint64_t>({2, 3}));
  EXPECT_EQ(covered, 10u);  // read to the end of the range
  std::vector<std::string> problems;
  uint64_t checked = 0;
  ASSERT_TRUE(j->Verify(&problems, &checked).ok());
  EXPECT_TRUE(problems.empty()) << problems.front();
}

// A progress-only write adds one stream event, marked as progress, and leaves the job's record
// and history as they were.
TEST_F(JournalTest, AProgressWriteIsAStreamEventOnly) {
  auto j = Open();
  ASSERT_TRUE(j->Write({MakeWrite(1, JobState::kRunning, 0, 2)}, {}, 2).ok());
  JobWrite p = MakeWrite(1, JobState::kRunning, 2, 0);
  p.progress = true;
  p.job.events = 99;  // would show if the record were rewritten
  p.job.attempts = 1;
  p.job.rare.mut().progress = 42;
  p.job.rare.mut().progress_message = "half way";
  p.job.rare.mut().progress_at_ms = 5000;
  std::vector<protocol::StateEvent> published;
  ASSERT_TRUE(j->Write({p}, {}, 0, {}, {}, {}, &published).ok());
  ASSERT_EQ(published.size(), 1u);
  EXPECT_EQ(published[0].seq, 3u);
  auto read = ReadAllEvents(*j);
  ASSERT_EQ(read.size(), 3u);
  EXPECT_FALSE(read[1].progress_report);
  EXPECT_TRUE(read[2].progress_report);
  EXPECT_EQ(read[2].state, JobState::kRunning);
  EXPECT_EQ(read[2].progress, 42u);
  EXPECT_EQ(read[2].progress_message, "half way");
  EXPECT_EQ(read[2].at_ms, 5000u);
  EXPECT_EQ(read[2].attempt, 1u);
  std::vector<protocol::Job> jobs;
  uint64_t next_seq = 0;
  ASSERT_TRUE(j->LoadAll(&jobs, &next_seq).ok());
  ASSERT_EQ(jobs.size(), 1u);
  EXPECT_EQ(jobs[0].events, 2u);
  EXPECT_EQ(jobs[0].rare.get().progress, 0u);  // progress itself is not part of the job's record
}

TEST_F(JournalTest, TheNextEventSeqSurvivesReopenAndAFailedWriteTakesNone) {
  {
    auto j = Open();
    ASSERT_TRUE(j->Write({MakeWrite(1, JobState::kQueued, 0, 2)}, {}, 2).ok());
  }
  JournalOptions o;
  bool fail = true;
  o.before_write = [&fail](size_t) { return fail ? Status::Storage("injected") : Status::OK(); };
  auto j = Open(o);
  EXPECT_EQ(j->next_event_seq(), 3u);
  std::vector<protocol::StateEvent> published;
  EXPECT_FALSE(j->Write({MakeWrite(1, JobState::kRunning, 2, 1)}, {}, 0, {}, {}, {}, &published).ok());
  EXPECT_TRUE(published.empty());
  EXPECT_EQ(j->next_event_seq(), 3u);
  fail = false;
  ASSERT_TRUE(j->Write({MakeWrite(1, JobState::kRunning, 2, 1)}, {}, 0, {}, {}, {}, &published).ok());
  ASSERT_EQ(published.size(), 1u);
  EXPECT_EQ(published[0].seq, 3u);
  j.reset();
  auto again = Open();
  EXPECT_EQ(again->next_event_seq(), 4u);
  EXPECT_EQ(ReadAllEvents(*again).size(), 3u);
  // Purging the job keeps its events: the stream is trimmed by count, not with its jobs.
  ASSERT_TRUE(again->Write({}, {1}, 0).ok());
  EXPECT_EQ(ReadAllEvents(*again).size(), 3u);
}

TEST_F(JournalTest, TheOldestEventsBeyondEventsKeptAreTrimmedAChunkAtATime) {
  JournalOptions o;
  auto j = OpenKeeping(1000, &o);
  uint64_t total = 0;
  uint64_t seq = 1;
  // Past events_kept + one chunk, the write trims down to events_kept.
  while (total <= o.events_kept + limits::kEventsTrimChunk) {
    ASSERT_TRUE(WriteNewJobs(j.get(), 100, &seq).ok());
    total += 100;
    if (total <= o.events_kept + limits::kEventsTrimChunk) {
      EXPECT_EQ(j->oldest_event_seq(), 1u);
    }
  }
  EXPECT_EQ(j->next_event_seq(), total + 1);
  EXPECT_EQ(j->oldest_event_seq(), total + 1 - o.events_kept);
  auto kept = ReadAllEvents(*j);
  ASSERT_EQ(kept.size(), o.events_kept);
  EXPECT_EQ(kept.front().seq, j->oldest_event_seq());
  // Reading from before the oldest starts at the oldest.
  EXPECT_EQ(ReadAllEvents(*j, 1).front().seq, j->oldest_event_seq());
  uint64_t oldest = j->oldest_event_seq(), next = j->next_event_seq();
  j.reset();
  auto again = Open(o);
  EXPECT_EQ(again->oldest_event_seq(), oldest);
  EXPECT_EQ(again->next_event_seq(), next);
  std::vector<std::string> problems;
  uint64_t checked = 0;
  ASSERT_TRUE(again->Verify(&problems, &checked).ok());
  EXPECT_TRUE(problems.empty()) << problems.front();
}

// Writes with more events than one record holds: the trim removes whole records only, so
// the oldest kept event is a record's first, at most one record's worth before keep_from.
TEST_F(JournalTest, TrimmingKeepsTheRecordThatHoldsTheOldestKeptEvent) {
  JournalOptions o;
  auto j = OpenKeeping(1000, &o);
  uint64_t seq = 1;
  int trims = 0;
  for (int w = 0; w < 20; ++w) {  // 700 events a write: records of 512 and 188
    const uint64_t before = j->oldest_event_seq();
    ASSERT_TRUE(WriteNewJobs(j.get(), 700, &seq).ok());
    const uint64_t oldest = j->oldest_event_seq(), keep_from = j->next_event_seq() - o.events_kept;
    if (oldest == before) continue;
    ++trims;
    EXPECT_LE(oldest, keep_from);
    EXPECT_GT(oldest + limits::kStreamRecordEventsMax, keep_from);
    const uint64_t in_write = (oldest - 1) % 700;  // records start at 0 and 512 within a write
    EXPECT_TRUE(in_write == 0 || in_write == limits::kStreamRecordEventsMax) << oldest;
  }
  EXPECT_GE(trims, 2);
  const uint64_t next = j->next_event_seq(), oldest = j->oldest_event_seq();
  EXPECT_EQ(next, 14001u);
  auto kept = ReadAllEvents(*j);
  ASSERT_EQ(kept.size(), next - oldest);
  EXPECT_EQ(kept.front().seq, oldest);
  EXPECT_EQ(kept.back().seq, next - 1);
  // A read from inside a record starts at the asked seq.
  EXPECT_EQ(ReadAllEvents(*j, next - 3).front().seq, next - 3);
  std::vector<std::string> problems;
  uint64_t checked = 0;
  ASSERT_TRUE(j->Verify(&problems, &checked).ok());
  EXPECT_TRUE(problems.empty()) << problems.front();
}

// An older stream record that does not decode is corruption when read and in verify; the
// newest (which tells the next seq at open) fails the open, naming its key.
TEST_F(JournalTest, DamagedEventRecordIsCorruptionWhenRead) {
  {
    auto j = Open();
    ASSERT_TRUE(j->Write({MakeWrite(1, JobState::kQueued, 0, 1)}, {}, 2).ok());
    ASSERT_TRUE(j->Write({MakeWrite(1, JobState::kRunning, 1, 1)}, {}, 0).ok());
  }
  auto damage = [&](char seq) {
    rocksdb::DB* raw = nullptr;
    ASSERT_TRUE(rocksdb::DB::Open(rocksdb::Options(), dir_.string(), &raw).ok());
    std::string key = "e:";
    key.append(7, '\0');
    key.push_back(seq);
    ASSERT_TRUE(raw->Put(rocksdb::WriteOptions(), key, "\x93garbage").ok());
    delete raw;
  };
  damage('\1');
  auto j = Open();
  EXPECT_EQ(j->next_event_seq(), 3u);
  uint64_t covered = 0;
  Status s = j->ReadEvents(1, 10, 10, [](protocol::StateEvent&&) { return true; }, &covered);
  EXPECT_TRUE(s.IsCorruption()) << s.ToString();
  std::vector<std::string> problems;
  uint64_t checked = 0;
  ASSERT_TRUE(j->Verify(&problems, &checked).ok());
  EXPECT_FALSE(problems.empty());
  j.reset();
  damage('\2');
  std::unique_ptr<Journal> again;
  Status open = Journal::Open(dir_.string(), JournalOptions{}, &again);
  EXPECT_TRUE(open.IsCorruption()) << open.ToString();
  EXPECT_NE(open.message().find("653A0000000000000002"), std::string::npos) << open.ToString();
}

}  // namespace
}  // namespace jobnet
