// Node runtime: recover from the journal, start actors and transport, drain on SIGTERM.
#include "node/node.hpp"

#include <signal.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/exit_reason.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <deque>
#include <map>
#include <mutex>
#include <thread>

#include "actors/blob_service.hpp"
#include "actors/events.hpp"
#include "actors/ingress.hpp"
#include "actors/journal_writer.hpp"
#include "actors/scheduler.hpp"
#include "base/clock.hpp"
#include "base/exit_codes.hpp"
#include "core/worker_pool.hpp"
#include "handlers/image_util.hpp"
#include "http/callbacks.hpp"
#include "http/gateway.hpp"
#include "http/jwt.hpp"
#include "jobnet/limits.h"
#include "node/coordination.hpp"
#include "node/hosted_blobs.hpp"
#include "protocol/scopes.hpp"
#include "node/principals.hpp"
#include "node/sd_notify.hpp"
#include "jobnet/keys.h"
#include "node/logging.hpp"
#include "node/replica_server.hpp"
#include "node/replica_shipper.hpp"
#include "node/transport.hpp"
#include "protocol/codec.hpp"
#include "protocol/counters.hpp"
#include "protocol/histograms.hpp"
#include "storage/blob_store.hpp"
#include "storage/journal.hpp"
#include "storage/run_marks.hpp"

namespace jobnet {
namespace {

// Exit codes of `jobnet node`: base/exit_codes.hpp.
constexpr int kExitOk = exit_code::kOk;
constexpr int kExitConfig = exit_code::kConfig;
constexpr int kExitJournal = exit_code::kStorage;
constexpr int kExitListen = exit_code::kListen;
constexpr int kExitStuck = exit_code::kStuck;

// A start-up step's outcome: 0 to go on, else the exit code to stop with (it logged why).
using StepExit = int;

// Signals are taken by the main thread alone (sigwait), so they are blocked before any thread
// starts. Returns the set to wait on.
sigset_t BlockSignals() {
  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGTERM);
  sigaddset(&sigs, SIGINT);
  pthread_sigmask(SIG_BLOCK, &sigs, nullptr);
  signal(SIGPIPE, SIG_IGN);  // exec handler pipes, sockets
  return sigs;
}

// Binds the node's endpoint and, if configured, the HTTP face (a client of that endpoint).
// First of all: a port in use must fail the start before recovery touches any job. Requests
// that come during recovery wait for the node.
// With principals: this node's CURVE keypair and who may talk to it (docs/operations.md
// "Securing a cluster"). Without: both empty, and every socket is plain ZeroMQ.
struct Security {
  CurveKeys key;
  std::shared_ptr<PrincipalTable> principals;
};

StepExit LoadSecurity(const NodeConfig& config, Security* out) {
  if (!config.Secured()) {
    if (config.insecure)
      spdlog::warn("--insecure: anyone who reaches {} may send this node anything",
                   config.listen);
    return 0;
  }
  const std::string path = config.KeyFile();
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ec);
  auto key = LoadOrMakeKeyFile(path);
  if (!key.ok()) {
    spdlog::error("this node's CURVE key: {}", key.status().ToString());
    return kExitConfig;
  }
  out->key = key.value();
  // The node itself (its HTTP face, and hosted runs' blob requests to it) holds every scope.
  std::vector<protocol::Principal> all = config.principals;
  bool listed = false;
  for (const auto& p : all) listed = listed || p.key == out->key.public_key;
  if (!listed) all.push_back({"self", out->key.public_key, protocol::kScopesAll, {}});
  // Principals added while it ran (`jobnet principals add`) are kept beside its journal.
  out->principals = std::make_shared<PrincipalTable>(all, config.data + "/principals.added.toml");
  if (Status s = out->principals->LoadAdded(); !s.ok()) {
    spdlog::error("principals added earlier: {}", s.ToString());
    return kExitConfig;
  }
  size_t peers = 0;
  for (const auto& p : config.principals) peers += (p.scopes & protocol::kScopePeer) != 0;
  spdlog::info("CURVE on every socket: this node's public key is {} ({}); {} principals, {} of "
               "them peers",
               out->key.public_key, path, config.principals.size(), peers);
  return 0;
}

StepExit BindEndpoints(const NodeConfig& config, const Security& sec,
                       std::unique_ptr<Transport>* transport,
                       std::unique_ptr<http::Gateway>* gateway) {
  TransportOptions to;
  to.listen = config.listen;
  to.node_id = config.id;
  to.peers = config.peers;
  to.principals = sec.principals;
  to.curve = sec.key;
  if (Status s = Transport::Bind(to, transport); !s.ok()) {
    spdlog::error("{}", s.ToString());
    return kExitListen;
  }
  if (config.http.empty()) return 0;
  http::GatewayOptions ho;
  ho.listen = config.http;
  ho.node_endpoint = (*transport)->endpoint();
  ho.tokens = config.http_tokens;
  ho.public_paths = config.http_public;
  ho.read_only = config.http_read_only;
  ho.node_key = sec.key;
  if (config.http_jwt.enabled()) {
    auto jwt = http::JwtVerifier::Make(config.http_jwt);
    if (!jwt.ok()) {
      spdlog::error("{}", jwt.status().ToString());
      return exit_code::kConfig;
    }
    if (jwt.value()->KeyCount() == 0)
      spdlog::warn("no JWKS from {} yet: JWTs are refused until it loads (tried every 10 s)",
                   config.http_jwt.jwks);
    else
      spdlog::info("JWTs from {} for {}: {} signing keys from {}", config.http_jwt.issuer,
                   config.http_jwt.audience, jwt.value()->KeyCount(), config.http_jwt.jwks);
    ho.jwt = std::move(jwt.value());
  }
  if (Status s = http::Gateway::Start(ho, gateway); !s.ok()) {
    spdlog::error("{}", s.ToString());
    return kExitListen;
  }
  spdlog::info("HTTP face on {}", (*gateway)->url());
  return 0;
}

// The journal's options, with the test seams of docs/operations.md.
JournalOptions MakeJournalOptions(const NodeConfig& config) {
  JournalOptions jo;
  jo.events_kept = config.events_max;
  jo.defer_compactions = true;  // on once the node serves (RunNode)
  jo.log = [](const std::string& line) { spdlog::warn("{}", line); };
  // Test seam: after N synced batches every journal write fails, as on a full disk, so tests
  // can watch the node fail-stop without breaking a real disk.
  if (const char* fp = std::getenv("JOBNET_FAILPOINT_JOURNAL_WRITES")) {
    auto budget = std::make_shared<std::atomic<long long>>(std::atoll(fp));
    spdlog::warn("failpoint: journal writes fail after {} batches", budget->load());
    jo.before_write = [budget](size_t) {
      return budget->fetch_sub(1) > 0 ? Status::OK()
                                      : Status::Storage("failpoint: simulated write failure");
    };
  }
  // Test seam: every journal write takes at least this long, as on a very slow disk, so tests
  // can run jobs whose `running` record is never durable before the job ends (or kills the node).
  if (const char* fp = std::getenv("JOBNET_FAILPOINT_JOURNAL_DELAY_MS")) {
    auto delay = std::chrono::milliseconds(std::atoll(fp));
    spdlog::warn("failpoint: every journal write is delayed by {} ms", delay.count());
    jo.before_write = [delay, next = std::move(jo.before_write)](size_t records) {
      std::this_thread::sleep_for(delay);
      return next ? next(records) : Status::OK();
    };
  }
  return jo;
}

// What the node keeps on disk, opened before recovery.
struct Storage {
  std::shared_ptr<Journal> journal;
  std::shared_ptr<BlobStore> blob_store;
  // Runs under way when the previous process ended, whose `running` record may not have
  // reached the journal: their attempts are counted (storage/run_marks.hpp).
  std::shared_ptr<RunMarks> run_marks;
  sched::CallbackAllowList callback_allow;
  std::string callback_secret;
  // With backups: ships each journal batch to them (docs/failover.md §6). Its epoch comes from
  // the fence put in `fence_slot` once the node holds its shard.
  std::shared_ptr<ReplicaShipper> shipper;
  std::shared_ptr<std::shared_ptr<const coord::Fence>> fence_slot =
      std::make_shared<std::shared_ptr<const coord::Fence>>();
  // The coordination, once started: the shipper writes the in-sync set through it.
  std::shared_ptr<std::atomic<Coordination*>> coordination_slot =
      std::make_shared<std::atomic<Coordination*>>(nullptr);
  // CURVE keys and principals (null: plain ZeroMQ), for the shipper's sockets.
  const Security* security = nullptr;
  // The node's own shard only, for `stats`: this node as a backup, and the shards it took over.
  ReplicaServer* replicas = nullptr;
  std::function<size_t()> shards_taken;
};

// Opens the journal, the callback secret beside it, the blob store and the run marks.
// `ship`: a shipper even without backups (a shard taken over, whose own node may come back and
// be added as a backup, failover.md §7).
StepExit OpenStorage(const NodeConfig& config, Storage* st, bool ship = false) {
  JournalOptions jo = MakeJournalOptions(config);
  if (!config.backups.empty() || ship) {
    ReplicaShipperOptions ro;
    ro.shard = config.id;
    ro.backups = config.backups;
    ro.epoch = [slot = st->fence_slot] { return *slot ? (*slot)->epoch() : 0; };
    if (st->security != nullptr && st->security->principals) {
      ro.curve = st->security->key;
      ro.server_key = [table = st->security->principals](const std::string& endpoint) {
        return table->ServerKeyOf(endpoint);
      };
    }
    ro.set_in_sync = [slot = st->coordination_slot, shard = config.id](
                         int64_t epoch, const std::vector<std::string>& backups) {
      Coordination* c = slot->load();
      return c ? c->SetInSync(shard, epoch, backups) : Status::Unavailable("no etcd yet");
    };
    std::unique_ptr<ReplicaShipper> shipper;
    if (Status s = ReplicaShipper::Create(ro, &shipper); !s.ok()) {
      spdlog::error("replication: {}", s.ToString());
      return kExitConfig;
    }
    st->shipper = std::move(shipper);
    jo.replicate = [shipper = st->shipper](const std::string& batch,
                                           const std::function<Status()>& write_local) {
      return shipper->Replicate(batch, write_local);
    };
  }
  std::unique_ptr<Journal> journal;
  if (Status s = Journal::Open(config.data, jo, &journal); !s.ok()) {
    spdlog::error("cannot open journal: {}", s.ToString());
    return kExitJournal;
  }
  if (st->shipper) st->shipper->SetJournal(journal.get());
  st->journal = std::move(journal);
  // Callbacks: the allow-list was checked by Validate; the secret may be made now, beside the
  // journal (docs/operations.md "Callbacks").
  st->callback_allow = sched::CallbackAllowList::Parse(config.callbacks.allow).value();
  std::string secret_from;
  if (Status s = LoadCallbackSecret(config, &st->callback_secret, &secret_from); !s.ok()) {
    spdlog::error("callbacks: {}", s.ToString());
    return s.IsInvalidArgument() ? kExitConfig : kExitJournal;
  }
  spdlog::info("callbacks may go to {}; signed with the secret from {}",
               st->callback_allow.Describe(), secret_from);
  // The blob store beside the journal (docs/journal.md "Blob store"). Which blobs are in use is
  // rebuilt from the jobs as recovery hands them to the scheduler (blob_refs).
  BlobStoreOptions bo;
  bo.blob_bytes_max = config.blob_mb_max << 20;
  bo.grace_ms = config.blob_grace_ms;
  bo.log = jo.log;
  if (st->shipper) {
    // A blob is acknowledged once the in-sync backups hold it, as a batch is (failover.md §6).
    bo.replicate = [shipper = st->shipper](const std::string& hash, uint64_t size) {
      return shipper->ShipBlob(hash, size);
    };
    bo.removed = [shipper = st->shipper](const std::vector<std::string>& hashes) {
      shipper->ForgetBlobs(hashes);
    };
  }
  std::unique_ptr<BlobStore> bs;
  if (Status s = BlobStore::Open(config.data + "/blobs", bo, &bs); !s.ok()) {
    spdlog::error("cannot open the blob store: {}", s.ToString());
    return kExitJournal;
  }
  st->blob_store = std::move(bs);
  if (st->shipper) {
    // Weak: the store's options hold the shipper.
    std::weak_ptr<BlobStore> store = st->blob_store;
    BlobSource source;
    source.each = [store](const std::function<Status(const std::string&, uint64_t)>& each) {
      auto s = store.lock();
      return s ? s->ForEachComplete(each) : Status::Unavailable("the blob store is closed");
    };
    source.read = [store](const std::string& hash, uint64_t offset) -> Result<std::string> {
      auto s = store.lock();
      if (!s) return Status::Unavailable("the blob store is closed");
      auto part = s->GetChunk({hash, offset, 0, {}});
      if (!part.ok()) return part.status();
      return std::move(part.value().data);
    };
    source.has = [store](const std::string& hash) {
      auto s = store.lock();
      return s && s->BlobSize(hash).ok();
    };
    st->shipper->SetBlobs(std::move(source));
    st->shipper->SetCallbackSecret(st->callback_secret);
  }
  std::unique_ptr<RunMarks> rm;
  if (Status s = RunMarks::Open(config.data, &rm); !s.ok()) {
    spdlog::error("cannot open run marks: {}", s.ToString());
    return kExitJournal;
  }
  st->run_marks = std::move(rm);
  return 0;
}

// The pool size: the last `workers set` wins over the configured size, unless the configured
// size has changed since that set (docs/operations.md "Worker pool").
StepExit ChooseWorkers(const NodeConfig& config, Journal& journal, uint32_t* workers) {
  PoolSetting pool;
  if (Status s = journal.LoadPoolSetting(&pool); !s.ok()) {
    spdlog::error("cannot read the worker pool size from the journal: {}", s.ToString());
    return kExitJournal;
  }
  *workers = sched::StartingWorkers(config.workers, pool.workers, pool.configured);
  if (pool.workers != 0 && *workers == pool.workers && *workers != config.workers)
    spdlog::info("{} workers, as last set by `jobnet workers set` (configured: {})", *workers,
                 config.workers);
  else if (pool.workers != 0 && *workers != pool.workers)
    spdlog::info(
        "{} workers as configured: the configured size changed from {} since `jobnet "
        "workers set {}`, so it replaces that",
        *workers, pool.configured, pool.workers);
  return 0;
}

sched::SchedulerOptions MakeSchedulerOptions(const NodeConfig& config, uint32_t workers,
                                             uint64_t incarnation, const Storage& st,
                                             std::shared_ptr<sched::BlobRefs> blob_refs) {
  sched::SchedulerOptions so;
  so.node_id = config.id;
  so.workers = workers;
  so.configured_workers = config.workers;
  so.autoscale.min = config.autoscale_min;
  so.autoscale.max = config.autoscale_max;
  so.autoscale.target_wait_ms = config.autoscale_target_wait_ms;
  so.autoscale.quiet_ms = config.autoscale_quiet_ms;
  so.autoscale.cpu_idle_min_permille = config.autoscale_cpu_idle_pct * 10;
  so.retention_ms = config.retention_ms;
  so.final_jobs_max = config.final_jobs_max;
  so.held_bytes_max = config.held_mb_max << 20;
  so.seed = incarnation;
  so.incarnation = incarnation;
  so.peers = config.peers;
  so.failure_timeout_ms = config.failure_timeout_ms;
  so.running_write_delay_ms = config.running_write_delay_ms;  // the workers keep run marks
  so.callbacks.allow = st.callback_allow;
  so.callbacks.attempts_max = config.callbacks.attempts;
  so.callbacks.backoff_ms = config.callbacks.backoff_ms;
  so.callbacks.backoff_max_ms = config.callbacks.backoff_max_ms;
  so.blob_refs = std::move(blob_refs);
  for (const auto& type : handlers::Registry::Global().Types()) so.known_types.insert(type);
  so.check_payload = [](const std::string& type, const std::string& payload) {
    return handlers::Registry::Global().CheckPayload(type, payload);
  };
  // The scheduler's thread reads while the writer's writes: RocksDB reads are thread-safe.
  so.load_payload = [journal = st.journal](uint64_t seq) { return journal->LoadPayload(seq); };
  return so;
}

// What recovery counted, for the start-up log line.
struct Recovery {
  size_t jobs = 0;
  size_t schedules = 0;
  int64_t ms = 0;
};

// Hands every job of the journal to `recover`, in journal order, with the run marks of
// `started` applied (*marked_running counts the jobs they marked running), and reads *next_seq.
// Two stages on two cores: a reader thread scans the journal into batches, in journal order,
// and this thread hands them to `recover` in that order. Decoding, the larger part of the
// work, is shared: the reader decodes every other batch and leaves the rest to this thread. At
// most kRecoverBatchesAhead batches wait, so memory stays bounded. The first record that does
// not decode, on either thread, stops both.
Status StreamJobs(const Journal& journal, const RunMarks::StartedRuns& started,
                  uint64_t* next_seq, size_t* marked_running,
                  const std::function<void(protocol::Job&&)>& recover) {
  constexpr size_t kRecoverBatchJobs = 2048, kRecoverBatchesAhead = 4;
  struct Batch {
    std::vector<Journal::ScannedJob> scanned;  // left for this thread to decode
    std::vector<protocol::Job> jobs;           // decoded by the reader
  };
  std::mutex mu;
  std::condition_variable cv;
  std::deque<Batch> ready;  // guarded by mu
  bool read_done = false;   // guarded by mu
  bool stop = false;        // guarded by mu: this thread met a record it cannot decode
  Status read_status;       // the reader's, read after join
  size_t reader_marked = 0;  // the reader's, read after join
  // Decodes one scanned job and applies the run marks: a job a worker had started counts its
  // attempt.
  auto decode = [&started](Journal::JobDecoder& decoder, Journal::ScannedJob&& scanned,
                           size_t* marked, std::vector<protocol::Job>* out) -> Status {
    auto job = decoder.Decode(std::move(scanned));
    if (!job.ok()) return job.status();
    if (RunMarks::ApplyTo(started, &job.value())) ++*marked;
    out->push_back(std::move(job.value()));
    return Status::OK();
  };
  std::thread reader([&] {
    Journal::JobDecoder decoder(journal);
    auto stopped = [&] {
      std::lock_guard<std::mutex> lock(mu);
      return stop;
    };
    Batch batch;
    size_t batches = 0;
    Status failed;
    auto hand_over = [&]() -> bool {
      if (batches++ % 2 == 0) {
        batch.jobs.reserve(batch.scanned.size());
        for (auto& scanned : batch.scanned) {
          failed = decode(decoder, std::move(scanned), &reader_marked, &batch.jobs);
          if (!failed.ok()) return false;
        }
        batch.scanned.clear();
      }
      std::unique_lock<std::mutex> lock(mu);
      cv.wait(lock, [&] { return ready.size() < kRecoverBatchesAhead || stop; });
      if (stop) return false;
      ready.push_back(std::move(batch));
      cv.notify_all();
      batch = {};
      batch.scanned.reserve(kRecoverBatchJobs);
      return true;
    };
    batch.scanned.reserve(kRecoverBatchJobs);
    Status s = journal.LoadNextSeq(next_seq);
    if (s.ok()) {
      s = journal.ScanJobs([&](Journal::ScannedJob&& job) {
        batch.scanned.push_back(std::move(job));
        return batch.scanned.size() < kRecoverBatchJobs || hand_over();
      });
    }
    if (s.ok() && failed.ok() && !batch.scanned.empty() && !stopped()) hand_over();
    std::lock_guard<std::mutex> lock(mu);
    read_status = failed.ok() ? s : failed;
    read_done = true;
    cv.notify_all();
  });
  Journal::JobDecoder decoder(journal);
  Status decode_status;
  for (;;) {
    Batch batch;
    {
      std::unique_lock<std::mutex> lock(mu);
      cv.wait(lock, [&] { return !ready.empty() || read_done; });
      if (ready.empty()) break;
      batch = std::move(ready.front());
      ready.pop_front();
      cv.notify_all();
    }
    if (!batch.scanned.empty()) {
      batch.jobs.reserve(batch.scanned.size());
      for (auto& scanned : batch.scanned) {
        decode_status = decode(decoder, std::move(scanned), marked_running, &batch.jobs);
        if (!decode_status.ok()) break;
      }
      if (!decode_status.ok()) {
        std::lock_guard<std::mutex> lock(mu);
        stop = true;
        cv.notify_all();
        break;
      }
    }
    for (auto& job : batch.jobs) recover(std::move(job));
  }
  reader.join();  // *next_seq, read_status and reader_marked are the reader's until here
  *marked_running += reader_marked;
  return decode_status.ok() ? read_status : decode_status;
}

// Streams the journal into `core`: queue settings, jobs (with the run marks applied), schedules;
// then arms the run marks for this start and finishes the recovery.
StepExit Recover(const NodeConfig& config, const Storage& st, sched::Scheduler& core,
                 Recovery* out) {
  auto t0 = std::chrono::steady_clock::now();
  // Each job goes from the journal straight into the scheduler: no vector of every job beside
  // the scheduler's own copy (at 1M jobs that copy and its page faults were most of recovery).
  const RunMarks::StartedRuns started = RunMarks::Started(st.run_marks->left());
  size_t marked_running = 0;
  uint64_t next_seq = 0;
  // One reading for the whole recovery: journaled instants (run_at, a callback's next try) are
  // turned into steady deadlines against it.
  const sched::Now recovered_at = sched::SystemNow();
  // Queue settings first: a LIFO queue's jobs go in in its order.
  std::vector<protocol::QueueSettings> queues;
  if (Status s = st.journal->LoadQueues(&queues); !s.ok()) {
    spdlog::error("cannot recover queue settings from {}: {}", config.data, s.ToString());
    return kExitJournal;
  }
  for (const auto& q : queues) core.RecoverQueue(q, recovered_at);
  Status read = StreamJobs(*st.journal, started, &next_seq, &marked_running,
                           [&](protocol::Job&& job) {
                             ++out->jobs;
                             core.RecoverJob(std::move(job), recovered_at);
                           });
  if (!read.ok()) {
    spdlog::error("cannot recover journal {}: {}", config.data, read.ToString());
    return kExitJournal;  // the run marks are left as they were, for the next start
  }
  Status bad;
  Status s = st.journal->LoadSchedules([&](protocol::Schedule&& sch) {
    if (Status r = core.RecoverSchedule(std::move(sch), recovered_at); !r.ok() && bad.ok()) bad = r;
    ++out->schedules;
  });
  if (s.ok()) s = bad;
  if (!s.ok()) {
    spdlog::error("cannot recover the schedules of journal {}: {}", config.data, s.ToString());
    return kExitJournal;
  }
  // The marks are counted: clear them for this run's workers, as many as the pool can grow to.
  if (Status s = st.run_marks->Arm(limits::kWorkersMax); !s.ok()) {
    spdlog::error("cannot reset run marks: {}", s.ToString());
    return kExitJournal;
  }
  if (marked_running > 0)
    spdlog::warn("{} job(s) were running when the node stopped; their attempts are counted",
                 marked_running);
  core.FinishRecovery(next_seq, sched::SystemNow());
  out->ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0)
          .count();
  return 0;
}

// What handlers may use: the exec and HTTP allow-lists, the blob store (and a hosted run's
// owner's blobs, through its peer endpoint), the image limits.
std::shared_ptr<handlers::HandlerConfig> MakeHandlerConfig(
    const NodeConfig& config, BlobStore* blob_store,
    std::shared_ptr<PeerEndpoints> peer_endpoints) {
  auto hc = std::make_shared<handlers::HandlerConfig>();
  hc->exec_allow = config.exec_allow;
  hc->blobs = blob_store;  // outlives the actor system (declared before it)
  hc->hosted_blobs = [local = blob_store, peer_endpoints](const std::string& job_id) {
    return std::make_unique<HostedBlobs>(local, peer_endpoints.get(), job_id,
                                         limits::kRequestTimeoutMsDefault);
  };
  hc->image_pixels_max = config.image_pixels_max;
  handlers::image::Init();
  hc->http_allow.insert(config.http_request_allow.begin(), config.http_request_allow.end());
  hc->http_allow_loopback = config.http_request_loopback;
  hc->data_dir = config.data;
  return hc;
}

// The transport's and the blob store's counters, for `stats` beside the scheduler's own.
// Replication's counters (docs/protocol.md): this shard's shipping, and this node as a backup.
void ReplicationCounters(const Storage& st,
                         std::vector<std::pair<protocol::Counter, uint64_t>>* m) {
  using protocol::Counter;
  if (st.shipper) {
    const ReplicaShipperStats& r = st.shipper->stats();
    m->insert(m->end(), {{Counter::kReplicationBatches, r.batches.load()},
                         {Counter::kReplicationSnapshots, r.snapshots.load()},
                         {Counter::kReplicationResends, r.resends.load()},
                         {Counter::kReplicationBytes, r.bytes.load()},
                         {Counter::kReplicationWaitUs, r.waiting_us.load()},
                         {Counter::kReplicationBackupsDropped, r.dropped.load()},
                         {Counter::kReplicationBackupsRejoined, r.rejoined.load()},
                         {Counter::kReplicationInSync, r.in_sync.load()},
                         {Counter::kReplicationBlobs, r.blobs.load()},
                         {Counter::kReplicationBlobBytes, r.blob_bytes.load()}});
  }
  if (st.replicas != nullptr) {
    const ReplicaServerStats& r = st.replicas->stats();
    m->insert(m->end(), {{Counter::kReplicaFrames, r.frames.load()},
                         {Counter::kReplicaBatchesApplied, r.batches_applied.load()},
                         {Counter::kReplicaSnapshotsApplied, r.snapshots_completed.load()},
                         {Counter::kReplicaRefused, r.refused.load()},
                         {Counter::kReplicaBlobsStored, r.blobs_stored.load()},
                         {Counter::kReplicaBlobsForgotten, r.blobs_forgotten.load()}});
  }
  if (st.shards_taken) m->push_back({Counter::kShardsTakenOver, st.shards_taken()});
}

std::vector<std::pair<protocol::Counter, uint64_t>> NodeCounters(Transport* t, const Storage& st) {
  const BlobStore& blob_store = *st.blob_store;
  using protocol::Counter;
  std::vector<std::pair<Counter, uint64_t>> m;
  if (t != nullptr) {
    const TransportStats& ts = t->stats();
    const ForwardCounters& fc = t->forward_counters();
    m = {{Counter::kTransportFramesIn, ts.frames_in.load()},
         {Counter::kTransportBadFrames, ts.bad_frames.load()},
         {Counter::kTransportOverloaded, ts.overloaded.load()},
         {Counter::kTransportRepliesDropped, ts.replies_dropped.load()},
         {Counter::kTransportPeerSendsDropped, ts.peer_sends_dropped.load()},
         {Counter::kTransportForwarded, fc.forwarded.load()},
         {Counter::kTransportForwardOwnerDown, fc.owner_down.load()},
         {Counter::kTransportForwardExpired, fc.expired.load()},
         {Counter::kTransportForwardLostOnDeath, fc.lost_on_death.load()},
         {Counter::kTransportForwardUnsent, fc.unsent.load()},
         {Counter::kTransportScheduleListsGathered, fc.gathered.load()},
         {Counter::kTransportDeposedRuns, fc.deposed_runs.load()},
         {Counter::kTransportFramesOut, ts.frames_out.load()},
         {Counter::kTransportBytesIn, ts.bytes_in.load()},
         {Counter::kTransportBytesOut, ts.bytes_out.load()},
         {Counter::kTransportPeerFramesIn, ts.peer_frames_in.load()},
         {Counter::kTransportPeerFramesOut, ts.peer_frames_out.load()},
         {Counter::kTransportPeerBytesIn, ts.peer_bytes_in.load()},
         {Counter::kTransportPeerBytesOut, ts.peer_bytes_out.load()},
         {Counter::kPermissionDenied, ts.permission_denied.load()},
         {Counter::kConnectionsRefused, ts.connections_refused.load()}};
    // Error replies by code; index 0 (kOk) is never counted, the last entry is "other".
    for (size_t code = 1; code < ts.errors.size(); ++code)
      if (uint64_t n = ts.errors[code].load())
        m.emplace_back(code + 1 == ts.errors.size()
                           ? Counter::kRejectedOther
                           : protocol::RejectedCounter(static_cast<uint32_t>(code)),
                       n);
  }
  const BlobStoreStats bs = blob_store.stats();
  m.push_back({Counter::kBlobsStored, bs.blobs});
  m.push_back({Counter::kBlobBytes, bs.bytes});
  m.push_back({Counter::kBlobsRemoved, bs.removed});
  ReplicationCounters(st, &m);
  return m;
}

// The CAF configuration of the node: two scheduler threads, and no timed polling while idle.
void ConfigureActorSystem(caf::actor_system_config* cfg) {
  cfg->set("scheduler.max-threads", size_t{2});
  // CAF's idle scheduler threads poll in three phases: spin, then sleep 50 us per try (500
  // tries), then wait on a condition variable that an enqueue signals. The middle phase costs a
  // timer wake-up per try; between two group commits those wake-ups took a large share of two
  // cores away from the workers and the journal (perf: kernel time in nanosleep). Skipping it
  // raised end-to-end throughput by about 40% here (docs/benchmarks.md); a sleeping thread is
  // still woken at once by the next message.
  cfg->set("work-stealing.moderate-poll-attempts", size_t{0});
}

// Starts the callback deliverer; it reports to `scheduler` (spawned after it, so the handle is
// read when a result comes).
StepExit StartDeliverer(const NodeConfig& config, const Storage& st,
                        actors::scheduler_actor* scheduler,
                        std::unique_ptr<http::CallbackDeliverer>* deliverer) {
  http::DelivererOptions d;
  d.secret = st.callback_secret;
  d.timeout_ms = config.callbacks.timeout_ms;
  d.allow = st.callback_allow;
  d.user_agent = "jobnet-callbacks (node " + config.id + ")";
  d.on_result = [scheduler](sched::CallbackResult r) {
    caf::anon_send(*scheduler, actors::callback_atom_v, std::move(r));
  };
  if (Status s = http::CallbackDeliverer::Start(std::move(d), deliverer); !s.ok()) {
    spdlog::error("callbacks: {}", s.ToString());
    return kExitConfig;
  }
  return 0;
}

// The node's actors, once spawned and connected.
struct Actors {
  // Weak: the scheduler owns the writer (it stops once the scheduler is gone).
  caf::weak_actor_ptr writer;
  actors::events_actor events;
  actors::scheduler_actor scheduler;
  actors::blob_actor blobs;
  actors::ingress_actor ingress;
};

// Spawns the actors. Until the transport is stored in `tp`, what they send to it is dropped.
void SpawnActors(caf::actor_system& sys, const NodeConfig& config, const Storage& st,
                 uint64_t incarnation, uint32_t workers, std::unique_ptr<sched::Scheduler> core,
                 std::shared_ptr<sched::BlobRefs> blob_refs,
                 std::shared_ptr<handlers::HandlerConfig> handler_config,
                 std::shared_ptr<PeerEndpoints> peer_endpoints, const Transport& transport,
                 std::atomic<Transport*>& tp, http::CallbackDeliverer* deliverer,
                 std::shared_ptr<const coord::Fence> fence, Actors* out) {
  out->events = actors::SpawnEvents(sys, st.journal);  // before the first write
  std::function<void()> idle;
  if (st.shipper)
    idle = [shipper = st.shipper] {
      if (Status s = shipper->SyncNow(); !s.ok())
        spdlog::debug("replication between writes: {}", s.ToString());
    };
  auto writer = actors::SpawnJournalWriter(sys, st.journal, out->events, std::move(idle));
  out->writer = caf::actor_cast<caf::weak_actor_ptr>(writer);
  actors::SchedulerConfig sc;
  sc.incarnation = incarnation;
  sc.tick_ms = config.tick_ms;
  sc.handler_config = std::move(handler_config);
  sc.run_marks = st.run_marks;
  sc.handler_types = handlers::Registry::Global().Describe();
  sc.endpoint = config.Endpoint();  // peers match heartbeats against the string they were given
  sc.bound_endpoint = transport.endpoint();
  sc.peer_count = static_cast<uint32_t>(config.peers.size());
  sc.heartbeat_ms = config.heartbeat_ms;
  sc.result_linger_us = static_cast<uint32_t>(config.result_linger_us);
  sc.fence = std::move(fence);
  sc.peer_sink = [&tp](uint32_t link, std::string frame) {
    if (Transport* t = tp.load()) t->SendToPeer(link, std::move(frame));
  };
  // Liveness has one owner, the scheduler's peer table; the transport's forwarding follows it.
  sc.liveness_sink = [&tp, peer_endpoints](uint32_t link, const std::string& node, bool alive) {
    peer_endpoints->Set(link, node);  // hosted runs reach their owner's blobs there
    if (Transport* t = tp.load()) t->SetPeerLiveness(link, node, alive);
  };
  sc.extra_counters = [&tp, &st]() { return NodeCounters(tp.load(), st); };
  sc.extra_histograms = [&tp]() {
    std::map<std::string, Histogram> h;
    if (Transport* t = tp.load()) h[protocol::kAckNodeSeconds] = t->AckNodeSeconds();
    return h;
  };
  sc.denied_by_principal = [&tp]() {
    Transport* t = tp.load();
    return t ? t->stats().DeniedByPrincipal() : std::map<std::string, uint64_t>{};
  };
  sc.callback_sink = [deliverer](std::vector<sched::CallbackSend> sends) {
    deliverer->Deliver(std::move(sends));
  };
  out->scheduler = actors::SpawnScheduler(sys, std::move(core), workers, writer, sc);
  auto reply_sink = [&tp](std::vector<std::pair<uint64_t, std::string>> frames) {
    if (Transport* t = tp.load()) t->ReplyMany(std::move(frames));
  };
  out->blobs = actors::SpawnBlobService(sys, st.blob_store, std::move(blob_refs), reply_sink,
                                        limits::kBlobSweepMs);
  out->ingress = actors::SpawnIngress(sys, out->scheduler, out->events, reply_sink, out->blobs);
  caf::anon_send(out->events, actors::connect_atom_v, caf::actor_cast<caf::actor>(out->ingress));
  caf::anon_send(out->scheduler, actors::connect_atom_v, caf::actor_cast<caf::actor>(out->ingress));
}

// Shards this node has taken over from primaries whose leases ended (docs/failover.md §7),
// each served beside the node's own from its copy: a journal, a scheduler with its own worker
// slots and no peers, and their actors, in the node's actor system. Takeovers come on the
// coordination's threads; requests come on the transport's.
class ShardHost {
 public:
  // The node runs: until this is called, a takeover waits.
  void Ready(const NodeConfig& config, const Security* security, caf::actor_system* sys,
             Transport* transport,
             std::atomic<Transport*>* tp, ReplicaServer* replicas, Coordination* coordination) {
    std::lock_guard<std::mutex> lock(mu_);
    coordination_ = coordination;
    security_ = security;
    config_ = config;
    sys_ = sys;
    transport_ = transport;
    tp_ = tp;
    replicas_ = replicas;
    ready_.notify_all();
  }
  // Serves `shard` from this node's copy, fenced by `fence`.
  Status TakeOver(const std::string& shard, std::shared_ptr<const coord::Fence> fence);
  size_t Count() {
    std::lock_guard<std::mutex> lock(mu_);
    return shards_.size();
  }
  // Whether requests must be sorted by shard (cheap: every request group asks): with etcd,
  // or once a shard is served here.
  bool Any() const { return any_.load(std::memory_order_acquire); }
  // With etcd, shards move: a request about another shard's job that reaches this node is one
  // whose holder the transport does not know (its primary is gone, a takeover is under way, or
  // this node is taking it over and still recovering it). It is answered `unavailable`, never
  // `not_found`, which a client would take as final.
  void Coordinated(const std::string& own_id) {
    std::lock_guard<std::mutex> lock(mu_);
    own_id_ = own_id;
    any_.store(true, std::memory_order_release);
  }
  // So is a request about this node's own jobs once its shard has been taken over (it runs as
  // a backup): its own scheduler's state of them is stale, and never answers for the shard.
  bool HolderUnknown(const std::string& shard) {
    std::lock_guard<std::mutex> lock(mu_);
    const bool own_stale = coordination_ != nullptr && coordination_->own_lost();
    return !own_id_.empty() && (shard != own_id_ || own_stale) && shards_.count(shard) == 0;
  }
  // The ingress of the taken-over shard `shard`, if this node serves it.
  bool IngressFor(const std::string& shard, actors::ingress_actor* out) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = shards_.find(shard);
    if (it == shards_.end()) return false;
    *out = it->second->actors.ingress;
    return true;
  }
  // A member's replication endpoint, as listed in etcd: when it is the own node of a shard
  // served here (deposed, and back), it becomes one more backup of that shard (its journal
  // of the shard is stale: it catches up from this node's, failover.md §7).
  void MemberReplication(const std::string& id, const std::string& endpoint) {
    if (endpoint.empty()) return;
    std::lock_guard<std::mutex> lock(mu_);
    auto it = shards_.find(id);
    if (it == shards_.end() || !it->second->st.shipper) return;
    if (!it->second->st.shipper->AddBackup(endpoint)) return;  // known: read every second
    // Filled now (on the writer's thread, between writes), not at the shard's next write.
    if (auto writer = caf::actor_cast<caf::strong_actor_ptr>(it->second->actors.writer))
      caf::anon_send(caf::actor_cast<actors::journal_writer_actor>(writer), actors::tick_atom_v);
  }
  // Drops the shards' actor handles (after the actor system stopped them).
  void Clear() {
    std::lock_guard<std::mutex> lock(mu_);
    shards_.clear();
    any_.store(false, std::memory_order_release);
  }
  // Stops every taken-over shard's actors (the node is stopping); runs under way count as
  // interrupted when the shard is served next.
  void Stop() {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
    ready_.notify_all();
    for (auto& [shard, h] : shards_) {
      caf::anon_send(h->actors.scheduler, actors::stop_atom_v);
      caf::anon_send_exit(h->actors.ingress, caf::exit_reason::user_shutdown);
      caf::anon_send_exit(h->actors.events, caf::exit_reason::user_shutdown);
      caf::anon_send_exit(h->actors.blobs, caf::exit_reason::user_shutdown);
      if (h->deliverer) h->deliverer->Stop();
    }
  }

 private:
  struct Hosted {
    Storage st;
    Actors actors;
    std::unique_ptr<http::CallbackDeliverer> deliverer;
  };
  std::mutex mu_;
  std::condition_variable ready_;
  NodeConfig config_;
  caf::actor_system* sys_ = nullptr;
  Transport* transport_ = nullptr;
  std::atomic<Transport*>* tp_ = nullptr;
  ReplicaServer* replicas_ = nullptr;
  Coordination* coordination_ = nullptr;
  const Security* security_ = nullptr;
  bool stopping_ = false;
  std::map<std::string, std::unique_ptr<Hosted>> shards_;
  std::string own_id_;  // with etcd: this node's own shard
  std::atomic<bool> any_{false};
};

Status ShardHost::TakeOver(const std::string& shard, std::shared_ptr<const coord::Fence> fence) {
  NodeConfig sc;
  {
    std::unique_lock<std::mutex> lock(mu_);
    ready_.wait(lock, [this] { return sys_ != nullptr || stopping_; });
    if (stopping_) return Status::Unavailable("the node is stopping");
    if (shards_.count(shard)) return Status::OK();
    sc = config_;
  }
  std::string dir;
  if (Status s = replicas_->Release(shard, &dir); !s.ok()) return s;
  // The shard runs as its own node would, from the copy, on this node's endpoint: no peers,
  // no HTTP face, and this node's backups as its own (it has R copies again once they hold it).
  sc.id = shard;
  sc.data = dir;
  sc.peers.clear();
  sc.replication_listen.clear();
  sc.http.clear();
  sc.etcd.clear();
  // Its callbacks are signed as its own node signed them: with the secret shipped with the
  // copy (failover.md §6), if the copy has one.
  if (std::filesystem::exists(dir + "/callback.secret")) {
    sc.callbacks.secret.clear();
    sc.callbacks.secret_file.clear();
  }
  auto h = std::make_unique<Hosted>();
  const Status failed = Status::Storage("the copy of shard " + shard + " in " + dir +
                                        " cannot be served (see the log)");
  *h->st.fence_slot = fence;  // the shipper's epoch: this shard's
  h->st.coordination_slot->store(coordination_);
  h->st.security = security_;
  if (OpenStorage(sc, &h->st, /*ship=*/true) != 0) return failed;
  uint32_t workers = 0;
  if (ChooseWorkers(sc, *h->st.journal, &workers) != 0) return failed;
  const uint64_t incarnation = h->st.journal->incarnation();
  auto blob_refs = std::make_shared<sched::BlobRefs>();
  auto core = std::make_unique<sched::Scheduler>(
      MakeSchedulerOptions(sc, workers, incarnation, h->st, blob_refs));
  Recovery recovered;
  if (Recover(sc, h->st, *core, &recovered) != 0) return failed;
  // Its backups hold nothing of it yet: fill them now, not at its first write (a shard whose
  // jobs are all done may not write for a long time, and this node may die meanwhile).
  if (h->st.shipper)
    if (Status s = h->st.shipper->SyncNow(); !s.ok()) return s;
  auto peer_endpoints = std::make_shared<PeerEndpoints>(sc.peers, 0);
  auto handler_config = MakeHandlerConfig(sc, h->st.blob_store.get(), peer_endpoints);
  if (StartDeliverer(sc, h->st, &h->actors.scheduler, &h->deliverer) != 0) return failed;
  std::lock_guard<std::mutex> lock(mu_);
  if (stopping_) return Status::Unavailable("the node is stopping");
  SpawnActors(*sys_, sc, h->st, incarnation, workers, std::move(core), blob_refs,
              std::move(handler_config), peer_endpoints, *transport_, *tp_, h->deliverer.get(),
              std::move(fence), &h->actors);
  spdlog::warn(
      "serving shard {} from its copy: recovered {} jobs and {} schedules in {} ms, {} "
      "workers",
      shard, recovered.jobs, recovered.schedules, recovered.ms, workers);
  shards_.emplace(shard, std::move(h));
  any_.store(true, std::memory_order_release);
  transport_->SetShardHolder(shard, config_.id);  // requests for it now stay here
  return Status::OK();
}

// Hands a round of requests to the node's ingress, and those about a taken-over shard's jobs
// to that shard's ingress.
void Dispatch(std::vector<protocol::Inbound> requests, const actors::ingress_actor& ingress,
              ShardHost& host, Transport& transport) {
  if (!host.Any()) {
    caf::anon_send(ingress, actors::inbound_atom_v, std::move(requests));
    return;
  }
  std::map<std::string, std::vector<protocol::Inbound>> by_shard;
  std::vector<protocol::Inbound> own;
  for (auto& r : requests) {
    uint64_t wait_ms = 0;
    if (const std::string* job = ForwardableJob(r.env.body, &wait_ms)) {
      if (auto parsed = protocol::ParseJobId(*job); parsed.ok()) {
        by_shard[parsed.value().node].push_back(std::move(r));
        continue;
      }
    }
    own.push_back(std::move(r));
  }
  for (auto& [shard, group] : by_shard) {
    actors::ingress_actor target;
    if (host.IngressFor(shard, &target)) {
      caf::anon_send(target, actors::inbound_atom_v, std::move(group));
    } else if (host.HolderUnknown(shard)) {
      std::vector<std::pair<uint64_t, std::string>> answers;
      for (const auto& r : group)
        if (r.route != 0)
          answers.emplace_back(
              r.route, protocol::Encode(protocol::MakeError(
                           r.env.corr_id,
                           Status::Unavailable("no node is known here to hold shard " + shard +
                                               " (its primary is gone, or a takeover is under "
                                               "way); ask again shortly"))));
      transport.ReplyMany(std::move(answers));
    } else
      own.insert(own.end(), std::make_move_iterator(group.begin()),
                 std::make_move_iterator(group.end()));
  }
  if (!own.empty()) caf::anon_send(ingress, actors::inbound_atom_v, std::move(own));
}

// With etcd: holds this node's shard before anything is recovered or served (a second live
// process with this id is refused here), and keeps holding it (node/coordination.hpp).
// With replication_listen: keeps copies of the shards whose primaries name this node a backup.
StepExit StartReplicaServer(const NodeConfig& config, const Security& sec,
                            std::unique_ptr<ReplicaServer>* out) {
  if (config.replication_listen.empty()) return 0;
  ReplicaServerOptions ro;
  ro.principals = sec.principals;
  ro.curve = sec.key;
  ro.listen = config.replication_listen;
  ro.dir = config.data + "/replicas";
  if (Status s = ReplicaServer::Start(ro, out); !s.ok()) {
    spdlog::error("replication: {}", s.ToString());
    return s.IsUnavailable() ? kExitListen : kExitJournal;
  }
  spdlog::info("keeping copies of other shards in {}, shipped to {}", ro.dir, ro.listen);
  return 0;
}

StepExit StartCoordination(const NodeConfig& config, const Storage& st, ReplicaServer* replicas,
                           std::shared_ptr<ShardHost> host, Transport* transport,
                           std::shared_ptr<PeerEndpoints> peers,
                           std::unique_ptr<Coordination>* out) {
  if (config.etcd.empty()) return 0;
  host->Coordinated(config.id);
  CoordinationOptions co;
  co.etcd = config.etcd;
  co.cluster = config.cluster_name;
  co.node_id = config.id;
  co.endpoint = config.Endpoint();
  co.replication_endpoint = config.ReplicationEndpoint();
  co.history = st.journal->history();
  if (replicas != nullptr) {
    co.has_copy = [replicas](const std::string& shard, std::string* history) {
      ReplicaPosition pos;
      const bool complete = replicas->HasCompleteCopy(shard, &pos);
      *history = pos.history;
      return complete;
    };
    co.taken = replicas->Taken();
    co.copies = replicas->Copies();

    co.take_over = [host](const std::string& shard, std::shared_ptr<const coord::Fence> fence) {
      return host->TakeOver(shard, std::move(fence));
    };
  }
  // Where each shard's requests go. A shard this node holds stays here, answered `unavailable`
  // until it is served (ShardHost::TakeOver); never to the shard's own node, which may have been
  // deposed and answer from a stale journal. This node's own shard, if another node holds it
  // (it was taken over while this node ran), goes there.
  co.on_holder = [transport](const std::string& shard, const std::string& holder, int64_t epoch) {
    transport->SetShardHolder(shard, holder, epoch > 0 ? static_cast<uint64_t>(epoch) : 0);
  };
  // Membership: every other registered node is a peer, whether --peer names it or not.
  co.on_member = [peers, host, self = config.Endpoint()](const std::string& id,
                                                     const std::string& endpoint,
                                                     const std::string& replication) {
    if (endpoint == self || !IsTcpEndpoint(endpoint)) return;
    if (IsTcpEndpoint(replication)) host->MemberReplication(id, replication);
    if (!peers->Add(endpoint))
      spdlog::warn("member {} at {} not linked: this node has {} peer links already", id,
                   endpoint, limits::kPeersMax);
  };
  if (Status s = Coordination::Start(co, out); !s.ok()) {
    spdlog::error("cannot hold this node's shard in etcd: {}", s.ToString());
    return exit_code::kCoordination;
  }
  return 0;
}

// Drain: refuse new work, let runs finish within the grace period, let the journal settle.
void Drain(caf::actor_system& sys, const actors::scheduler_actor& scheduler, uint64_t grace_ms) {
  auto grace_end = std::chrono::steady_clock::now() + std::chrono::milliseconds(grace_ms);
  caf::scoped_actor self{sys};
  for (;;) {
    actors::DrainState ds;
    bool got = false;
    self->request(scheduler, std::chrono::seconds(2), actors::drain_atom_v)
        .receive([&](const actors::DrainState& d) { ds = d, got = true; }, [&](caf::error&) {});
    if (got && ds.running == 0 && ds.journal_idle) break;
    if (std::chrono::steady_clock::now() >= grace_end) {
      spdlog::warn(
          "grace period over with {} runs unfinished; on restart each counts as an "
          "interrupted attempt and is retried if attempts remain",
          ds.running);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

// Stops what serves requests, then the actors; a handler that ignores cancellation must not
// keep the process alive forever.
void Stop(caf::actor_system& sys, const Actors& a, http::Gateway* gateway,
          http::CallbackDeliverer& deliverer, std::atomic<Transport*>& tp, Transport& transport) {
  std::thread([] {
    std::this_thread::sleep_for(std::chrono::milliseconds(limits::kShutdownStuckMs));
    spdlog::warn("shutdown is stuck on a handler that ignores cancellation; exiting");
    std::_Exit(kExitStuck);
  }).detach();
  if (gateway) gateway->Stop();  // held requests are answered 503 before the sockets close
  deliverer.Stop();  // POSTs under way are dropped: the journal has them pending for next time
  tp.store(nullptr);
  transport.Stop();
  caf::anon_send(a.scheduler, actors::stop_atom_v);
  caf::anon_send_exit(a.ingress, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(a.events, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(a.blobs, caf::exit_reason::user_shutdown);
  sys.await_all_actors_done();
}

}  // namespace

int RunNode(const NodeConfig& config) {
  SetUpLogging(config.id, config.log_format == "json" ? "json" : "text");
  if (Status s = config.Validate(); !s.ok()) {
    spdlog::error("bad configuration: {}", s.ToString());
    return kExitConfig;
  }
  spdlog::set_level(spdlog::level::from_str(config.log_level == "warn"    ? "warning"
                                            : config.log_level == "error" ? "err"
                                                                          : config.log_level));
  sigset_t sigs = BlockSignals();
  std::unique_ptr<Transport> transport;  // declared before the actor system: outlives it
  std::unique_ptr<http::Gateway> gateway;
  Security sec;
  if (StepExit e = LoadSecurity(config, &sec)) return e;
  if (StepExit e = BindEndpoints(config, sec, &transport, &gateway)) return e;
  Storage st;
  st.security = &sec;
  if (StepExit e = OpenStorage(config, &st)) return e;
  std::unique_ptr<ReplicaServer> replicas;  // this node as a backup of other shards
  if (StepExit e = StartReplicaServer(config, sec, &replicas)) return e;
  auto host = std::make_shared<ShardHost>();  // shards taken over, beside this node's own
  st.replicas = replicas.get();
  st.shards_taken = [host] { return host->Count(); };
  // Destroyed after the actor system: the lease is revoked (the shard handed over) only once
  // nothing acts for the shard any more.
  std::unique_ptr<Coordination> coordination;
  // The peer links: --peer, then (with etcd) every other member.
  auto peer_endpoints = std::make_shared<PeerEndpoints>(config.peers, limits::kPeersMax);
  peer_endpoints->SetCurve(sec.key, sec.principals);
  if (StepExit e = StartCoordination(config, st, replicas.get(), host, transport.get(),
                                     peer_endpoints, &coordination))
    return e;
  *st.fence_slot = coordination ? coordination->fence() : nullptr;
  // Its shard is another node's now: the journal stays, fenced and unshipped (recovery's writes
  // of interrupted runs go to it alone).
  if (coordination && coordination->own_lost() && st.shipper) st.shipper->Disable();
  st.coordination_slot->store(coordination.get());
  // Before the coordination's takeover threads are joined, whatever way this function ends.
  struct HostStop {
    std::shared_ptr<ShardHost> host;
    ~HostStop() { host->Stop(); }
  } host_stop{host};
  const uint64_t incarnation = st.journal->incarnation();
  uint32_t workers = 0;
  if (StepExit e = ChooseWorkers(config, *st.journal, &workers)) return e;
  auto blob_refs = std::make_shared<sched::BlobRefs>();
  auto core = std::make_unique<sched::Scheduler>(
      MakeSchedulerOptions(config, workers, incarnation, st, blob_refs));
  Recovery recovered;
  if (StepExit e = Recover(config, st, *core, &recovered)) return e;

  auto handler_config = MakeHandlerConfig(config, st.blob_store.get(), peer_endpoints);
  // Actors may send before the transport is up (heartbeats): until then, frames are dropped.
  std::atomic<Transport*> tp{nullptr};
  caf::actor_system_config cfg;
  ConfigureActorSystem(&cfg);
  caf::actor_system sys{cfg};
  // The callback deliverer reports to the scheduler, spawned below. Declared after the actor
  // system so it stops (and drops its handle) before the system goes.
  Actors actors;
  std::unique_ptr<http::CallbackDeliverer> deliverer;
  if (StepExit e = StartDeliverer(config, st, &actors.scheduler, &deliverer)) return e;
  SpawnActors(sys, config, st, incarnation, workers, std::move(core), blob_refs,
              std::move(handler_config), peer_endpoints, *transport, tp, deliverer.get(),
              coordination ? coordination->fence() : nullptr, &actors);

  tp.store(transport.get());  // before Run: the first reply must find the transport
  // Members found in etcd (before now, and from now on) become links of the transport and the
  // scheduler alike, in one order.
  peer_endpoints->Listen(config.peers.size(), [t = transport.get(), s = actors.scheduler](
                                                  uint32_t link, const std::string& endpoint) {
    spdlog::info("peer link {} to {}: a member registered in etcd", link, endpoint);
    t->AddPeer(link, endpoint);
    caf::anon_send(s, actors::peer_atom_v, link, endpoint);
  });
  host->Ready(config, &sec, &sys, transport.get(), &tp, replicas.get(), coordination.get());
  transport->Run([ingress = actors.ingress, host,
                  t = transport.get()](std::vector<protocol::Inbound> requests) {
    Dispatch(std::move(requests), ingress, *host, *t);
  });
  spdlog::info(
      "node {} listening on {} (incarnation {}, {} workers, {} peers, recovered {} jobs and {} "
      "schedules in {} ms)",
      config.id, transport->endpoint(), incarnation, workers, peer_endpoints->size(), recovered.jobs,
      recovered.schedules, recovered.ms);
  if (Status s = st.journal->EnableCompactions(); !s.ok())
    spdlog::warn("journal: {} (it goes on without compacting)", s.ToString());
  NotifyServiceManager("READY=1\nSTATUS=serving on " + transport->endpoint() + ", " +
                       std::to_string(recovered.jobs) + " jobs recovered");

  int sig = 0;
  sigwait(&sigs, &sig);
  spdlog::info("got signal {}: draining (grace {} ms)", sig, config.grace_ms);
  NotifyServiceManager("STOPPING=1\nSTATUS=draining (grace " + std::to_string(config.grace_ms) +
                       " ms)");
  if (gateway) gateway->SetDraining();  // /readyz turns 503 at once
  Drain(sys, actors.scheduler, config.grace_ms);
  host->Stop();
  peer_endpoints->Listen(0, nullptr);
  Stop(sys, actors, gateway.get(), *deliverer, tp, *transport);
  host->Clear();  // its actor handles, before the actor system goes
  spdlog::info("node {} stopped", config.id);
  return kExitOk;
}

}  // namespace jobnet
