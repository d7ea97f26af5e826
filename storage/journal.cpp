// RocksDB journal; key layout in journal.hpp.
#include "storage/journal.hpp"

#include "storage/rocks_logger.hpp"
#include "storage/rocks_status.hpp"
#include "storage/wal_check.hpp"

#include "protocol/codec.hpp"
#include "base/check.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <rocksdb/db.h>
#include <rocksdb/env.h>
#include <rocksdb/listener.h>
#include <rocksdb/options.h>
#include <rocksdb/slice_transform.h>
#include <rocksdb/write_batch.h>

#include <cstdio>
#include <cstring>
#include <chrono>
#include <filesystem>
#include <iostream>
#include <map>
#include <mutex>
#include <random>

namespace jobnet {
namespace {

constexpr char kFormatKey[] = "m:format";
constexpr char kIncarnationKey[] = "m:incarnation";
constexpr char kNextSeqKey[] = "m:next_seq";
constexpr char kWorkersKey[] = "m:workers";
constexpr char kHistoryKey[] = "m:history";
constexpr char kFormat[] = "2";
const std::string kQueuePrefix = "q:";

// 32 random hex digits naming a journal's history (journal.hpp "m:history").
std::string NewHistoryId() {
  std::random_device rd;
  static const char* kHex = "0123456789abcdef";
  std::string id;
  for (int i = 0; i < 4; ++i) {
    uint32_t r = rd();
    for (int k = 0; k < 8; ++k, r >>= 4) id.push_back(kHex[r & 0xf]);
  }
  return id;
}

void PutFixed64(std::string* s, uint64_t v) {
  for (int i = 7; i >= 0; --i) s->push_back(static_cast<char>((v >> (i * 8)) & 0xff));
}
void PutFixed32(std::string* s, uint32_t v) {
  for (int i = 3; i >= 0; --i) s->push_back(static_cast<char>((v >> (i * 8)) & 0xff));
}
uint64_t GetFixed(const char* p, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}

std::string JobKey(uint64_t seq) {
  std::string k = "j:";
  PutFixed64(&k, seq);
  return k;
}
std::string PayloadKey(uint64_t seq) {
  std::string k = "p:";
  PutFixed64(&k, seq);
  return k;
}
std::string CallbackKey(uint64_t seq) {
  std::string k = "c:";
  PutFixed64(&k, seq);
  return k;
}
std::string EventPrefix(uint64_t seq) {
  std::string k = "h:";
  PutFixed64(&k, seq);
  return k;
}
std::string EventKey(uint64_t seq, uint32_t n) {
  std::string k = EventPrefix(seq);
  PutFixed32(&k, n);
  return k;
}
std::string ScheduleKey(const std::string& name) { return "s:" + name; }
const std::string kStreamPrefix = "e:";
std::string StreamKey(uint64_t event_seq) {
  std::string k = kStreamPrefix;
  PutFixed64(&k, event_seq);
  return k;
}
// The keys whose memtable inserts start from a hint: the place of the last insert of the same
// kind. A batch interleaves the kinds job by job ("j:", "p:", "h:" ...), while each kind's keys
// mostly grow, so without hints every insert searched the skip list from the top (perf: a sixth
// of the journal writer's time). RocksDB 7.8 keeps one hint per prefix for the point table and
// the range-deletion table alike, and a hint from the other table breaks the skip list: a key
// that can start a DeleteRange must stay out of the domain. So: job records, payloads and
// callback records (only ever deleted one key at a time) and the 14-byte event keys (a
// DeleteRange of a job's events starts at its 10-byte EventPrefix); not the stream ("e:").
class InsertHintKinds : public rocksdb::SliceTransform {
 public:
  const char* Name() const override { return "jobnet.InsertHintKinds"; }
  rocksdb::Slice Transform(const rocksdb::Slice& key) const override {
    return rocksdb::Slice(key.data(), 2);
  }
  bool InDomain(const rocksdb::Slice& key) const override {
    if (key.size() < 2 || key[1] != ':') return false;
    switch (key[0]) {
      case 'j':
      case 'p':
      case 'c':
        return key.size() == 10;
      case 'h':
        return key.size() == 14;
      default:
        return false;
    }
  }
};

std::string Fixed64Value(uint64_t v) {
  std::string s;
  PutFixed64(&s, v);
  return s;
}

using storage::FromRocks;

Status ReadU64(rocksdb::DB* db, const char* key, uint64_t* out) {
  std::string v;
  auto s = db->Get(rocksdb::ReadOptions(), key, &v);
  if (s.IsNotFound()) {
    *out = 0;
    return Status::OK();
  }
  if (!s.ok()) return FromRocks(s, std::string("read ") + key);
  if (v.size() != 8) return Status::Corruption(std::string(key) + " is not 8 bytes");
  *out = GetFixed(v.data(), 8);
  return Status::OK();
}

// RocksDB's own recovery from a full disk waits (in its SstFileManager) until the free space
// exceeds a 64 MiB buffer, and meanwhile makes DB::Resume() answer Busy: on a small disk the
// journal would never resume. Journal::Write resumes by itself instead.
class NoAutoRecovery : public rocksdb::EventListener {
 public:
  void OnErrorRecoveryBegin(rocksdb::BackgroundErrorReason, rocksdb::Status,
                            bool* auto_recovery) override {
    *auto_recovery = false;
  }
};

}  // namespace

bool Journal::IsLocked(const std::string& dir) {
  std::string path = dir + "/LOCK";
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  struct flock fl;
  std::memset(&fl, 0, sizeof fl);
  fl.l_type = F_WRLCK;
  fl.l_whence = SEEK_SET;
  bool locked = ::fcntl(fd, F_GETLK, &fl) == 0 && fl.l_type != F_UNLCK;
  ::close(fd);
  return locked;
}

Status Journal::EnableCompactions() {
  return FromRocks(db_->SetOptions({{"disable_auto_compactions", "false"}}), "enable compactions");
}

Status Journal::Open(const std::string& dir, const JournalOptions& options,
                     std::unique_ptr<Journal>* out) {
  out->reset();
  if (IsLocked(dir))
    return Status::Locked("journal " + dir + " is in use by a running node; stop it first");
  rocksdb::Options ro;
  ro.create_if_missing = !options.read_only;
  ro.IncreaseParallelism(2);
  ro.max_total_wal_size = 256ull << 20;
  // Memory and restart time: at most two 32 MiB memtables are held (RocksDB's default is 64
  // MiB), and a restart replays at most that much of the write-ahead log. A million waiting
  // jobs write about 300 MiB, flushed in 32 MiB steps without slowing the writes measurably.
  ro.write_buffer_size = 32ull << 20;
  ro.max_write_buffer_number = 2;
  ro.memtable_insert_with_hint_prefix_extractor = std::make_shared<InsertHintKinds>();
  auto logger = std::make_shared<storage::RocksLogger>("rocksdb", options.log);
  ro.info_log = logger;
  ro.info_log_level = rocksdb::InfoLogLevel::WARN_LEVEL;
  // Every write is synced before the next begins, so a crash can only tear the last one, and
  // recovery must stop there (point in time) whatever the torn bytes look like. That mode would
  // also stop silently at damage in the middle and drop every acknowledged write after it, so
  // CheckWalFiles refuses such a journal before RocksDB replays (and then deletes) its WAL.
  // kTolerateCorruptedTailRecords is no substitute: it refuses a torn write whose length made
  // it to disk but not its bytes, and passes damage to a record length in the WAL's last block.
  // paranoid_checks turns a failed write or sync into a background error that stops all writes
  // until Resume(), and checks file sizes and checksums at open.
  ro.wal_recovery_mode = rocksdb::WALRecoveryMode::kPointInTimeRecovery;
  ro.listeners.push_back(std::make_shared<NoAutoRecovery>());
  ro.paranoid_checks = true;
  ro.disable_auto_compactions = options.defer_compactions && !options.read_only;
  if (std::filesystem::exists(dir + "/CURRENT")) {
    if (Status w = CheckWalFiles(dir); !w.ok()) {
      if (!w.IsCorruption()) return w;
      return Status::Corruption("journal " + dir + " is damaged before its last synced write: " +
                                w.message() +
                                "; recovering it would lose acknowledged jobs, so it is refused: "
                                "restore the data dir from a copy, or move it away to start empty");
    }
  }
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s;
  if (options.read_only) {
    if (!std::filesystem::exists(dir + "/CURRENT"))
      return Status::NotFound("no journal in " + dir);
    s = rocksdb::DB::OpenForReadOnly(ro, dir, &raw);
  } else {
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec) return Status::Storage("cannot create " + dir + ": " + ec.message());
    s = rocksdb::DB::Open(ro, dir, &raw);
  }
  if (!s.ok()) {
    if (s.ToString().find("lock") != std::string::npos)
      return Status::Locked("journal " + dir + " is in use: " + s.ToString());
    if (s.IsCorruption()) {
      std::string where = logger->Dropped();
      return Status::Corruption("journal " + dir + " is damaged (" + s.ToString() +
                                (where.empty() ? "" : "; " + where) + ")");
    }
    if (s.IsNoSpace())
      return Status::StorageFull("open journal " + dir + ": " + s.ToString() +
                                 "; free space on its disk and start again");
    return FromRocks(s, "open journal " + dir);
  }
  std::unique_ptr<Journal> j(new Journal());
  j->db_.reset(raw);
  j->options_ = options;
  std::string format;
  s = raw->Get(rocksdb::ReadOptions(), kFormatKey, &format);
  if (s.ok() && format != kFormat)
    return Status::Corruption(
        "journal format '" + format + "' is not supported (want " + kFormat +
        (format == "1" ? "; format 1 was a pre-release layout: start from an empty data dir)"
                       : ")"));
  if (!s.ok() && !s.IsNotFound()) return FromRocks(s, "read format");
  uint64_t inc = 0;
  Status st = ReadU64(raw, kIncarnationKey, &inc);
  if (!st.ok()) return st;
  if (!options.read_only) {
    inc++;
    rocksdb::WriteBatch b;
    if (format.empty()) b.Put(kFormatKey, kFormat);  // a new journal
    if (!raw->Get(rocksdb::ReadOptions(), kHistoryKey, &j->history_).ok()) {
      j->history_ = NewHistoryId();  // a new journal, or one from before histories
      b.Put(kHistoryKey, j->history_);
    }
    b.Put(kIncarnationKey, Fixed64Value(inc));
    rocksdb::WriteOptions wo;
    wo.sync = true;
    st = FromRocks(raw->Write(wo, &b), "write incarnation");
    if (!st.ok()) return st;
  }
  j->incarnation_ = inc;
  if (options.read_only && !raw->Get(rocksdb::ReadOptions(), kHistoryKey, &j->history_).ok())
    j->history_.clear();
  // The event stream goes on after the newest "e:" key. Trimming always keeps the newest
  // events_kept (at least kEventsKeptMin) of them, so once one was written the last is there.
  {
    std::unique_ptr<rocksdb::Iterator> it(raw->NewIterator(rocksdb::ReadOptions()));
    it->SeekForPrev(StreamKey(UINT64_MAX));
    if (it->Valid() && it->key().starts_with(kStreamPrefix)) {
      if (it->key().size() != 10)
        return Status::Corruption("event key " + it->key().ToString(true) + " has a bad length");
      const uint64_t last = GetFixed(it->key().data() + 2, 8);  // the newest record's first
      std::vector<protocol::StateEvent> newest;
      Status rs = protocol::DecodeStreamRecord(it->value().ToString(), last, &newest);
      if (!rs.ok())
        return Status::Corruption("record " + it->key().ToString(true) + ": " + rs.message());
      it->Seek(kStreamPrefix);
      uint64_t first = it->Valid() && it->key().size() == 10 ? GetFixed(it->key().data() + 2, 8)
                                                               : last;
      j->next_event_seq_.store(last + newest.size());
      j->oldest_event_seq_.store(std::min(first, last));
    }
    if (!it->status().ok()) return FromRocks(it->status(), "read the event stream's end");
  }
  *out = std::move(j);
  return Status::OK();
}

Journal::~Journal() {
  if (db_) db_->Close();
}

Status Journal::Write(const std::vector<protocol::JobWrite>& writes,
                      const std::vector<uint64_t>& deletes, uint64_t next_seq,
                      const PoolSetting& pool,
                      const std::vector<protocol::ScheduleWrite>& schedules,
                      const std::vector<protocol::QueueSettings>& queues,
               std::vector<protocol::StateEvent>* events) {
  if (options_.read_only) return Status::Internal("journal opened read-only");
  size_t records = writes.size() + deletes.size() + (next_seq ? 1 : 0) + (pool.workers ? 1 : 0) +
                   schedules.size() + queues.size();
  if (options_.before_write) {
    Status s = options_.before_write(records);
    if (!s.ok()) return s;
  }
  rocksdb::WriteBatch b;
  // Event-stream seqs are taken here, on the one writing thread, so they follow the order in
  // which events become durable; they are kept only if the write succeeds.
  const uint64_t first_event_seq = next_event_seq_.load(std::memory_order_relaxed);
  std::vector<protocol::StateEvent> stream;
  // The next stream event, numbered and named after `job`.
  auto add_event = [&](const protocol::Job& job) -> protocol::StateEvent& {
    protocol::StateEvent& e = stream.emplace_back();
    e.seq = first_event_seq + stream.size() - 1;
    e.id = job.id;
    e.queue = job.spec.queue;
    e.type = job.spec.type;
    return e;
  };
  for (const auto& w : writes) {
    JOBNET_CHECK(w.job.seq != 0 && !w.job.id.empty());
    if (w.progress) {  // only a progress report of the running attempt, for the stream
      JOBNET_CHECK(w.events.empty() && !w.callback);
      protocol::StateEvent& e = add_event(w.job);
      e.state = w.job.state;
      e.at_ms = w.job.rare.get().progress_at_ms;
      e.attempt = w.job.attempts;
      e.progress_report = true;
      e.progress = w.job.rare.get().progress;
      e.progress_message = w.job.rare.get().progress_message;
      continue;
    }
    // A delivery attempt's write carries no events: only its callback record changed.
    if (!w.events.empty() || !w.callback) b.Put(JobKey(w.job.seq), protocol::EncodeJobRecord(w.job));
    if (w.callback) {
      const protocol::CallbackDelivery& d = w.job.rare.get().callback;
      JOBNET_CHECK(d.state != CallbackState::kNone && !w.job.spec.callback().empty());
      b.Put(CallbackKey(w.job.seq), protocol::EncodeCallbackRecord(d));
    }
    if (!w.events.empty() && w.events.front().first == 0)  // the job's first write
      b.Put(PayloadKey(w.job.seq), w.job.spec.payload);
    for (const auto& [n, ev] : w.events) {
      b.Put(EventKey(w.job.seq, n), protocol::EncodeEventRecord(ev));
      protocol::StateEvent& e = add_event(w.job);
      e.state = ev.state;
      e.at_ms = ev.at_ms;
      e.attempt = ev.attempt;
      e.node = ev.node;
      e.error = ev.error;
    }
  }
  const uint64_t event_seq = first_event_seq + stream.size();  // the next write's first
  // The batch's events in as few stream records as the per-record bound allows: one key for
  // up to kStreamRecordEventsMax events, not one per event.
  for (size_t i = 0; i < stream.size(); i += limits::kStreamRecordEventsMax) {
    size_t n = std::min<size_t>(limits::kStreamRecordEventsMax, stream.size() - i);
    b.Put(StreamKey(first_event_seq + i), protocol::EncodeStreamRecord(&stream[i], n));
  }
  // Trim the oldest events a chunk at a time: one range tombstone per kEventsTrimChunk events.
  // Only whole records go: the one holding keep_from stays, and becomes the oldest.
  uint64_t oldest = oldest_event_seq_.load(std::memory_order_relaxed);
  if (event_seq - oldest > options_.events_kept + limits::kEventsTrimChunk) {
    const uint64_t keep_from = event_seq - options_.events_kept;
    uint64_t record = keep_from;
    if (keep_from >= first_event_seq) {  // in this write's records
      record = first_event_seq + (keep_from - first_event_seq) / limits::kStreamRecordEventsMax *
                                     limits::kStreamRecordEventsMax;
    } else {
      std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
      it->SeekForPrev(StreamKey(keep_from));
      if (it->Valid() && it->key().starts_with(kStreamPrefix) && it->key().size() == 10)
        record = GetFixed(it->key().data() + 2, 8);
      else if (!it->status().ok())
        return FromRocks(it->status(), "find the oldest event record to keep");
    }
    if (record > oldest) {
      b.DeleteRange(StreamKey(oldest), StreamKey(record));
      oldest = record;
    }
  }
  for (uint64_t seq : deletes) {
    b.Delete(JobKey(seq));
    b.Delete(PayloadKey(seq));
    b.Delete(CallbackKey(seq));
    b.DeleteRange(EventPrefix(seq), EventPrefix(seq + 1));
  }
  if (next_seq != 0) b.Put(kNextSeqKey, Fixed64Value(next_seq));
  if (pool.workers != 0) {
    std::string v;
    PutFixed32(&v, pool.workers);
    PutFixed32(&v, pool.configured);
    b.Put(kWorkersKey, v);
  }
  for (const auto& sw : schedules) {
    JOBNET_CHECK(!sw.name.empty() && (sw.remove || sw.schedule.spec.name == sw.name));
    if (sw.remove) {
      b.Delete(ScheduleKey(sw.name));
    } else {
      b.Put(ScheduleKey(sw.name), protocol::EncodeScheduleRecord(sw.schedule));
    }
  }
  for (const auto& q : queues) {
    JOBNET_CHECK(protocol::Validate(q).ok());
    b.Put(kQueuePrefix + q.name, protocol::EncodeQueueRecord(q));
  }
  if (full_) {
    // The failed write left RocksDB in a background error that refuses writes; Resume() clears
    // it (switching to a new WAL and flushing) once there is space again. RocksDB's own
    // recovery thread may be resuming too: then Resume() is busy and we try again later.
    rocksdb::Status r = db_->Resume();
    if (!r.ok())
      return Status::StorageFull("journal disk is still full (resume: " + r.ToString() + ")");
    full_ = false;
  }
  rocksdb::WriteOptions wo;
  wo.sync = options_.sync;
  auto write_local = [&] {
    const auto sync_start = std::chrono::steady_clock::now();
    Status ws = FromRocks(db_->Write(wo, &b), "journal write");
    stats_.last_sync_us = static_cast<uint64_t>(
        std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() -
                                                              sync_start)
            .count());
    return ws;
  };
  Status s = options_.replicate ? options_.replicate(b.Data(), write_local) : write_local();
  if (s.ok()) {
    stats_.batches++;
    stats_.records += records;
    next_event_seq_.store(event_seq, std::memory_order_release);
    oldest_event_seq_.store(oldest, std::memory_order_release);
    if (events) events->insert(events->end(), std::make_move_iterator(stream.begin()),
                               std::make_move_iterator(stream.end()));
  }
  if (s.IsStorageFull()) full_ = true;
  return s;
}

namespace {
// Rebuilds job->history from the job's events, read with `it` (seeked to them).
Status LoadHistory(rocksdb::Iterator* it, protocol::Job* job) {
  std::string prefix = EventPrefix(job->seq);
  std::string owner = job->id.substr(0, job->id.rfind('-'));
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    auto ev = protocol::DecodeEventRecord(it->value().ToString());
    if (!ev.ok())
      return Status::Corruption("record " + it->key().ToString(true) + ": " +
                                ev.status().message());
    protocol::RecordEvent(ev.value(), owner, job);
  }
  return FromRocks(it->status(), "read events");
}
}  // namespace

namespace {
// A scan reads every record once: keep it out of the block cache (it would only evict what
// point reads use) and read ahead in large steps.
rocksdb::ReadOptions ScanOptions() {
  rocksdb::ReadOptions ro;
  ro.fill_cache = false;
  ro.readahead_size = 2u << 20;
  return ro;
}

// Moves `it` (over 10-byte keys "<prefix><seq>") to the first record at or past `seq`, and says
// whether that record is seq's.
bool SeekForward(rocksdb::Iterator* it, const char* prefix, uint64_t seq) {
  while (it->Valid() && it->key().starts_with(prefix) && it->key().size() == 10 &&
         GetFixed(it->key().data() + 2, 8) < seq)
    it->Next();
  return it->Valid() && it->key().starts_with(prefix) && it->key().size() == 10 &&
         GetFixed(it->key().data() + 2, 8) == seq;
}

// A key as Verify and the tools print it.
std::string Hex(const std::string& key) { return rocksdb::Slice(key).ToString(true); }
}  // namespace

Status Journal::ScanJobs(const std::function<bool(ScannedJob&&)>& fn) const {
  const rocksdb::ReadOptions ro = ScanOptions();
  // Job records, payloads and callback deliveries are all ordered by seq: walk them side by side.
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro));
  std::unique_ptr<rocksdb::Iterator> pit(db_->NewIterator(ro));
  std::unique_ptr<rocksdb::Iterator> cit(db_->NewIterator(ro));
  pit->Seek("p:");
  cit->Seek("c:");
  for (it->Seek("j:"); it->Valid() && it->key().starts_with("j:"); it->Next()) {
    if (it->key().size() != 10)
      return Status::Corruption("record " + it->key().ToString(true) + " has a bad key length");
    ScannedJob job;
    job.seq = GetFixed(it->key().data() + 2, 8);
    job.record.assign(it->value().data(), it->value().size());
    if ((job.has_payload = SeekForward(pit.get(), "p:", job.seq)))
      job.payload.assign(pit->value().data(), pit->value().size());
    // else: Verify reports the missing payload
    if ((job.has_callback = SeekForward(cit.get(), "c:", job.seq)))
      job.callback.assign(cit->value().data(), cit->value().size());
    if (!fn(std::move(job))) break;
  }
  if (!pit->status().ok()) return FromRocks(pit->status(), "scan payloads");
  if (!cit->status().ok()) return FromRocks(cit->status(), "scan callbacks");
  return FromRocks(it->status(), "scan jobs");
}

Journal::JobDecoder::JobDecoder(const Journal& journal) : journal_(journal) {}
Journal::JobDecoder::~JobDecoder() = default;

Result<protocol::Job> Journal::JobDecoder::Decode(ScannedJob&& scanned) {
  auto job = protocol::DecodeJobRecord(scanned.record);
  if (!job.ok())
    return Status::Corruption("record " + Hex(JobKey(scanned.seq)) + ": " +
                              job.status().message());
  if (job.value().seq != scanned.seq)
    return Status::Corruption("record " + Hex(JobKey(scanned.seq)) +
                              " holds another job's seq");
  if (scanned.has_payload) job.value().spec.payload = std::move(scanned.payload);
  if (scanned.has_callback) {
    auto d = protocol::DecodeCallbackRecord(scanned.callback);
    if (!d.ok())
      return Status::Corruption("record " + Hex(CallbackKey(scanned.seq)) + ": " +
                                d.status().message());
    job.value().rare.mut().callback = std::move(d.value());
  }
  // The attempt history is derived from the job's events. A job with only its submit event
  // never ran: skip the seek, so recovering a million waiting jobs reads no events at all.
  if (job.value().events > 1) {
    if (!events_) events_.reset(journal_.db_->NewIterator(ScanOptions()));
    if (Status hs = LoadHistory(events_.get(), &job.value()); !hs.ok()) return hs;
  }
  return job;
}

Status Journal::ForEachJob(const std::function<bool(protocol::Job&)>& fn) const {
  JobDecoder decoder(*this);
  Status failed;
  Status s = ScanJobs([&](ScannedJob&& scanned) {
    auto job = decoder.Decode(std::move(scanned));
    if (!job.ok()) {
      failed = job.status();
      return false;
    }
    return fn(job.value());
  });
  return failed.ok() ? s : failed;
}

Status Journal::LoadNextSeq(uint64_t* next_seq) const {
  return ReadU64(db_.get(), kNextSeqKey, next_seq);
}

Status Journal::LoadAll(uint64_t* next_seq,
                        const std::function<void(protocol::Job&&)>& fn) const {
  Status s = LoadNextSeq(next_seq);
  if (!s.ok()) return s;
  return ForEachJob([&](protocol::Job& j) {
    fn(std::move(j));
    return true;
  });
}

Status Journal::LoadPoolSetting(PoolSetting* out) const {
  *out = PoolSetting{};
  std::string v;
  auto s = db_->Get(rocksdb::ReadOptions(), kWorkersKey, &v);
  if (s.IsNotFound()) return Status::OK();
  if (!s.ok()) return FromRocks(s, std::string("read ") + kWorkersKey);
  if (v.size() != 8) return Status::Corruption(std::string(kWorkersKey) + " is not 8 bytes");
  PoolSetting p{static_cast<uint32_t>(GetFixed(v.data(), 4)),
                static_cast<uint32_t>(GetFixed(v.data() + 4, 4))};
  if (p.workers == 0 || p.workers > limits::kWorkersMax)
    return Status::Corruption(std::string(kWorkersKey) + " holds " + std::to_string(p.workers) +
                              " workers, outside 1.." + std::to_string(limits::kWorkersMax));
  *out = p;
  return Status::OK();
}

Status Journal::LoadSchedules(const std::function<void(protocol::Schedule&&)>& fn) const {
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
  for (it->Seek("s:"); it->Valid() && it->key().starts_with("s:"); it->Next()) {
    auto s = protocol::DecodeScheduleRecord(it->value().ToString());
    // Schedule names are printable: the key is shown as it is, not in hex.
    if (!s.ok())
      return Status::Corruption("record " + it->key().ToString() + ": " + s.status().message());
    if (ScheduleKey(s.value().spec.name) != it->key().ToString())
      return Status::Corruption("record " + it->key().ToString() + " holds another schedule's name");
    fn(std::move(s.value()));
  }
  return FromRocks(it->status(), "scan schedules");
}

Status Journal::LoadQueues(std::vector<protocol::QueueSettings>* out) const {
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
  for (it->Seek(kQueuePrefix); it->Valid() && it->key().starts_with(kQueuePrefix); it->Next()) {
    auto q = protocol::DecodeQueueRecord(it->value().ToString());
    if (!q.ok())
      return Status::Corruption("record " + it->key().ToString(true) + ": " + q.status().message());
    if (it->key().ToString() != kQueuePrefix + q.value().name)
      return Status::Corruption("record " + it->key().ToString(true) + " holds another queue");
    out->push_back(std::move(q.value()));
  }
  return FromRocks(it->status(), "scan queues");
}

Status Journal::LoadAll(std::vector<protocol::Job>* jobs, uint64_t* next_seq) const {
  return LoadAll(next_seq, [jobs](protocol::Job&& j) { jobs->push_back(std::move(j)); });
}

Result<protocol::Job> Journal::Get(uint64_t seq) const {
  std::string v;
  auto s = db_->Get(rocksdb::ReadOptions(), JobKey(seq), &v);
  if (s.IsNotFound()) return Status::NotFound("no job with seq " + std::to_string(seq));
  if (!s.ok()) return FromRocks(s, "read job");
  auto job = protocol::DecodeJobRecord(v);
  if (!job.ok()) return job;
  std::string payload;
  s = db_->Get(rocksdb::ReadOptions(), PayloadKey(seq), &payload);
  if (s.ok()) job.value().spec.payload = std::move(payload);
  else if (!s.IsNotFound()) return FromRocks(s, "read payload");
  return job;
}

Result<std::string> Journal::LoadPayload(uint64_t seq) const {
  std::string payload;
  auto s = db_->Get(rocksdb::ReadOptions(), PayloadKey(seq), &payload);
  if (s.IsNotFound()) return Status::NotFound("no payload for job seq " + std::to_string(seq));
  if (!s.ok()) return FromRocks(s, "read payload");
  return payload;
}

Status Journal::ReadEvents(uint64_t from_seq, uint64_t to_seq, uint32_t scan_max,
                           const std::function<bool(protocol::StateEvent&&)>& fn,
                           uint64_t* covered_to) const {
  *covered_to = from_seq == 0 ? 0 : from_seq - 1;
  if (from_seq == 0 || from_seq > to_seq || scan_max == 0) return Status::OK();
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
  // Start at the record that holds from_seq: the last one that begins at or before it.
  it->SeekForPrev(StreamKey(from_seq));
  if (!it->Valid() || !it->key().starts_with(kStreamPrefix)) it->Seek(StreamKey(from_seq));
  uint32_t read = 0;
  std::vector<protocol::StateEvent> record;
  for (; it->Valid() && it->key().starts_with(kStreamPrefix); it->Next()) {
    if (it->key().size() != 10)
      return Status::Corruption("event key " + it->key().ToString(true) + " has a bad length");
    const uint64_t first = GetFixed(it->key().data() + 2, 8);
    if (first > to_seq) break;
    record.clear();
    Status s = protocol::DecodeStreamRecord(it->value().ToString(), first, &record);
    if (!s.ok())
      return Status::Corruption("record " + it->key().ToString(true) + ": " + s.message());
    for (auto& ev : record) {
      if (ev.seq < from_seq) continue;
      if (ev.seq > to_seq) break;
      *covered_to = ev.seq;
      if (!fn(std::move(ev)) || ++read == scan_max) return Status::OK();
    }
  }
  if (!it->status().ok()) return FromRocks(it->status(), "read events");
  *covered_to = to_seq;  // nothing more up to to_seq
  return Status::OK();
}

Status Journal::History(uint64_t seq,
                        std::vector<std::pair<uint32_t, protocol::JobEvent>>* out) const {
  std::string prefix = EventPrefix(seq);
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    if (it->key().size() != prefix.size() + 4)
      return Status::Corruption("event key " + it->key().ToString(true) + " has a bad length");
    auto ev = protocol::DecodeEventRecord(it->value().ToString());
    if (!ev.ok()) return ev.status();
    out->emplace_back(static_cast<uint32_t>(GetFixed(it->key().data() + prefix.size(), 4)),
                      ev.value());
  }
  return FromRocks(it->status(), "scan history");
}

Status Journal::Verify(std::vector<std::string>* problems, uint64_t* jobs_checked) const {
  *jobs_checked = 0;
  // Every block of every table file, against its checksum: damage in data RocksDB has already
  // moved out of the WAL would otherwise only show when that record is read.
  if (rocksdb::Status c = db_->VerifyChecksum(); !c.ok())
    problems->push_back("checksum: " + c.ToString());
  uint64_t next_seq = 0;
  Status s = ReadU64(db_.get(), kNextSeqKey, &next_seq);
  if (!s.ok()) return s;
  PoolSetting pool;
  if (Status p = LoadPoolSetting(&pool); !p.ok()) problems->push_back(p.message());
  std::map<uint64_t, uint32_t> expected_events;  // seq -> event count from the job record
  uint64_t max_seq = 0;
  std::map<uint64_t, bool> payload_seen;  // seq -> has a job record
  {
    std::unique_ptr<rocksdb::Iterator> pit(db_->NewIterator(rocksdb::ReadOptions()));
    for (pit->Seek("p:"); pit->Valid() && pit->key().starts_with("p:"); pit->Next()) {
      if (pit->key().size() != 10) {
        problems->push_back("payload key " + pit->key().ToString(true) + " has a bad length");
        continue;
      }
      payload_seen[GetFixed(pit->key().data() + 2, 8)] = false;
      if (protocol::ValidateMsgpackValue(pit->value().ToString(), limits::kPayloadBytesMax).ok() ==
          false)
        problems->push_back("payload of job seq " +
                            std::to_string(GetFixed(pit->key().data() + 2, 8)) +
                            " is not one msgpack value");
    }
  }
  s = ForEachJob([&](const protocol::Job& j) {
    (*jobs_checked)++;
    auto p = payload_seen.find(j.seq);
    if (p == payload_seen.end()) {
      problems->push_back("job " + j.id + " has no payload record");
    } else {
      p->second = true;
    }
    expected_events[j.seq] = j.events;
    max_seq = std::max(max_seq, j.seq);
    if (protocol::IsFinal(j.state) && j.finished_at_ms == 0)
      problems->push_back("job " + j.id + " is final without finished_at");
    if (j.attempts > j.spec.max_attempts)
      problems->push_back("job " + j.id + " has more attempts than max_attempts");
    return problems->size() < 1000;
  });
  if (!s.ok()) {
    problems->push_back(s.ToString());
    return Status::OK();
  }
  for (const auto& [seq, has_job] : payload_seen)
    if (!has_job) problems->push_back("payload for job seq " + std::to_string(seq) +
                                      " without a job record");
  {
    // Callback deliveries belong to jobs (ForEachJob decoded those that do).
    std::unique_ptr<rocksdb::Iterator> cit(db_->NewIterator(rocksdb::ReadOptions()));
    for (cit->Seek("c:"); cit->Valid() && cit->key().starts_with("c:"); cit->Next()) {
      auto p = cit->key().size() == 10 ? payload_seen.find(GetFixed(cit->key().data() + 2, 8))
                                       : payload_seen.end();
      if (p == payload_seen.end() || !p->second)
        problems->push_back("callback record " + cit->key().ToString(true) +
                            " without a job record");
    }
  }
  if (max_seq != 0 && next_seq <= max_seq)
    problems->push_back("m:next_seq " + std::to_string(next_seq) + " is not past the highest job " +
                        std::to_string(max_seq));
  // Events: each must belong to a job and be numbered 0..events-1 without gaps.
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
  uint64_t cur = 0;
  uint32_t seen = 0;
  auto close_job = [&]() {
    if (cur == 0) return;
    auto e = expected_events.find(cur);
    if (e != expected_events.end() && e->second != seen)
      problems->push_back("job seq " + std::to_string(cur) + " has " + std::to_string(seen) +
                          " events, its record says " + std::to_string(e->second));
    if (e != expected_events.end()) expected_events.erase(e);
  };
  for (it->Seek("h:"); it->Valid() && it->key().starts_with("h:"); it->Next()) {
    if (it->key().size() != 14) {
      problems->push_back("event key " + it->key().ToString(true) + " has a bad length");
      continue;
    }
    uint64_t seq = GetFixed(it->key().data() + 2, 8);
    uint32_t n = static_cast<uint32_t>(GetFixed(it->key().data() + 10, 4));
    if (seq != cur) {
      close_job();
      cur = seq;
      seen = 0;
      if (expected_events.count(seq) == 0)
        problems->push_back("events for job seq " + std::to_string(seq) + " without a job record");
    }
    if (n != seen) problems->push_back("job seq " + std::to_string(seq) + " is missing event " +
                                       std::to_string(seen));
    seen = n + 1;
    auto ev = protocol::DecodeEventRecord(it->value().ToString());
    if (!ev.ok())
      problems->push_back("event " + it->key().ToString(true) + ": " + ev.status().message());
    if (problems->size() >= 1000) break;
  }
  close_job();
  // The event stream: 10-byte keys, records that decode, seqs without holes (each record
  // begins where the one before ended; trimming only ever removes the oldest).
  {
    std::unique_ptr<rocksdb::Iterator> eit(db_->NewIterator(rocksdb::ReadOptions()));
    uint64_t expected = 0;  // the seq the next record must begin with; 0 before the first
    std::vector<protocol::StateEvent> record;
    for (eit->Seek(kStreamPrefix); eit->Valid() && eit->key().starts_with(kStreamPrefix) &&
                                   problems->size() < 1000;
         eit->Next()) {
      if (eit->key().size() != 10) {
        problems->push_back("event key " + eit->key().ToString(true) + " has a bad length");
        continue;
      }
      const uint64_t first = GetFixed(eit->key().data() + 2, 8);
      if (expected != 0 && first != expected)
        problems->push_back("event stream skips from " + std::to_string(expected - 1) + " to " +
                            std::to_string(first));
      record.clear();
      Status rs = protocol::DecodeStreamRecord(eit->value().ToString(), first, &record);
      if (!rs.ok()) {
        problems->push_back("event record " + std::to_string(first) + ": " + rs.message());
        expected = 0;
        continue;
      }
      expected = first + record.size();
    }
    if (!eit->status().ok()) problems->push_back(FromRocks(eit->status(), "scan event stream").ToString());
  }
  if (Status sc = LoadSchedules([](protocol::Schedule&&) {}); !sc.ok())
    problems->push_back(sc.message());
  for (const auto& [seq, n] : expected_events)
    if (n != 0) problems->push_back("job seq " + std::to_string(seq) + " has no event records");
  return FromRocks(it->status(), "scan events");
}

}  // namespace jobnet
