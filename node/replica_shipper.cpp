// A primary shipping its journal to its backups; see replica_shipper.hpp.
#include "node/replica_shipper.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <thread>
#include <zmq.hpp>

#include "base/clock.hpp"
#include "jobnet/limits.h"
#include "protocol/replication.hpp"
#include "storage/journal.hpp"

namespace jobnet {

using protocol::ReplAck;
using protocol::ReplCode;
using protocol::ReplFrame;
using protocol::ReplKind;

namespace {
constexpr uint64_t kWaitLogMs = 5000;      // how often a wait on a silent backup is logged
constexpr uint32_t kRefusedPauseMs = 200;  // before sending again what a backup refused
constexpr int64_t kAnswerBytesMax = 64 << 10;
constexpr uint64_t kRejoinEveryMs = 2000;  // how often a dropped backup is asked again
constexpr uint32_t kRejoinProbeMs = 100;   // how long a write waits for its answer
}  // namespace

struct ReplicaShipper::Backup {
  std::string endpoint;
  zmq::context_t ctx{1};
  std::unique_ptr<zmq::socket_t> sock;
  bool synced = false;       // holds this journal at (epoch_, seq_ before the batch under way)
  bool in = true;            // in the shard's in-sync set: every batch waits for it
  uint64_t next_try_ms = 0;  // when a dropped backup is asked again
  const CurveKeys* curve = nullptr;  // with CURVE: this node's keypair, and the backup's key
  std::string server_key;

  void Open() {
    sock = std::make_unique<zmq::socket_t>(ctx, zmq::socket_type::dealer);
    if (curve != nullptr && !curve->empty()) {
      sock->set(zmq::sockopt::curve_secretkey, curve->secret_key);
      sock->set(zmq::sockopt::curve_publickey, curve->public_key);
      sock->set(zmq::sockopt::curve_serverkey, server_key);
    }
    sock->set(zmq::sockopt::linger, 0);
    sock->set(zmq::sockopt::maxmsgsize, kAnswerBytesMax);
    sock->set(zmq::sockopt::reconnect_ivl, 100);
    sock->set(zmq::sockopt::reconnect_ivl_max, 1000);
    sock->connect(endpoint);
  }
  void Send(const std::string& frame) {
    try {
      (void)sock->send(zmq::buffer(frame), zmq::send_flags::dontwait);
    } catch (const zmq::error_t&) {
      // Not queued: the answer will not come, and the frame goes again on a new socket.
    }
  }
};

ReplicaShipper::ReplicaShipper(ReplicaShipperOptions options) : options_(std::move(options)) {}
ReplicaShipper::~ReplicaShipper() = default;

std::string ReplicaShipper::Frame(protocol::ReplKind kind, uint64_t seq, std::string data) const {
  return protocol::EncodeReplFrame(
      ReplFrame{kind, options_.shard, epoch_, seq, history_, std::move(data)});
}

void ReplicaShipper::SetJournal(const Journal* journal) {
  journal_ = journal;
  history_ = journal->history();
}

Status ReplicaShipper::Create(ReplicaShipperOptions options, std::unique_ptr<ReplicaShipper>* out) {
  if (!protocol::ValidShardId(options.shard))
    return Status::InvalidArgument("'" + options.shard + "' cannot name a shard");
  std::unique_ptr<ReplicaShipper> rs(new ReplicaShipper(std::move(options)));
  for (const auto& e : rs->options_.backups) {
    auto b = std::make_unique<Backup>();
    b->endpoint = e;
    if (!rs->options_.curve.empty()) {
      b->curve = &rs->options_.curve;
      b->server_key = rs->options_.server_key ? rs->options_.server_key(e) : std::string();
      if (b->server_key.empty())
        return Status::InvalidArgument("backup " + e + ": no principal lists this endpoint, so "
                                       "its key is unknown");
    }
    try {
      b->Open();
    } catch (const zmq::error_t& err) {
      return Status::InvalidArgument("backup endpoint " + e + ": " + err.what());
    }
    rs->backups_.push_back(std::move(b));
    rs->known_.insert(e);
  }
  *out = std::move(rs);
  return Status::OK();
}

Status ReplicaShipper::Await(Backup& b, const std::string& frame, std::string* answer) {
  const uint64_t start = base::SteadyMs();
  uint64_t logged = start;
  for (;;) {
    zmq::pollitem_t items[] = {{b.sock->handle(), 0, ZMQ_POLLIN, 0}};
    try {
      zmq::poll(items, 1, std::chrono::milliseconds(options_.answer_timeout_ms));
    } catch (const zmq::error_t&) {
      continue;  // EINTR
    }
    if (items[0].revents & ZMQ_POLLIN) {
      zmq::message_t msg;
      if (b.sock->recv(msg, zmq::recv_flags::dontwait)) {
        answer->assign(static_cast<const char*>(msg.data()), msg.size());
        return Status::OK();
      }
    }
    // This node has won its shard again at a new epoch while it waited: a drop at the old
    // epoch can never be written, so the caller starts over at the new one.
    if (EpochMoved())
      return Status::Unavailable("shard " + options_.shard + " moved on to epoch " +
                                 std::to_string(options_.epoch()));
    // Silent: a new socket (a late answer on the old one is dropped with it), and again.
    const uint64_t now = base::SteadyMs();
    if (now - start >= options_.drop_after_ms && Drop(b))
      return Status::Unavailable("backup " + b.endpoint + " dropped from the in-sync set");
    if (now - logged >= kWaitLogMs) {
      spdlog::warn(
          "replication: backup {} has not answered for {} s; this node's writes wait "
          "for it (a synchronous standby)",
          b.endpoint, (now - start) / 1000);
      logged = now;
    }
    stats_.resends++;
    b.Open();
    b.Send(frame);
  }
}

bool ReplicaShipper::Drop(Backup& b) {
  if (!options_.set_in_sync) return false;
  std::vector<std::string> rest;
  for (const auto& o : backups_)
    if (o->in && o.get() != &b) rest.push_back(o->endpoint);
  Status s = options_.set_in_sync(epoch_, rest);
  if (!s.ok()) {
    spdlog::warn(
        "replication: cannot drop silent backup {} from the in-sync set ({}); writes "
        "go on waiting for it",
        b.endpoint, s.ToString());
    return false;
  }
  b.in = false;
  b.synced = false;
  b.next_try_ms = base::SteadyMs() + kRejoinEveryMs;
  stats_.dropped++;
  stats_.in_sync = static_cast<uint32_t>(rest.size());
  spdlog::warn(
      "replication: backup {} silent for {} ms: dropped from shard {}'s in-sync set "
      "(epoch {}); batches go on without it, and it cannot take the shard over until "
      "it has caught up",
      b.endpoint, options_.drop_after_ms, options_.shard, epoch_);
  return true;
}

Status ReplicaShipper::WriteInSync() {
  if (!in_sync_dirty_ || !options_.set_in_sync) return Status::OK();
  std::vector<std::string> in;
  for (const auto& b : backups_)
    if (b->in) in.push_back(b->endpoint);
  Status s = options_.set_in_sync(epoch_, in);
  if (s.IsConflict()) return s;  // deposed
  // Otherwise (etcd unreachable) it is written with a later batch: a set that names fewer
  // backups than wait for each batch is still a safe one.
  if (s.ok()) {
    in_sync_dirty_ = false;
    stats_.in_sync = static_cast<uint32_t>(in.size());
  }
  return Status::OK();
}

Status ReplicaShipper::TryRejoin(Backup& b) {
  const uint64_t now = base::SteadyMs();
  if (now < b.next_try_ms) return Status::OK();
  b.next_try_ms = now + kRejoinEveryMs;
  b.Open();  // a fresh socket: nothing of the silent one is read
  b.Send(Frame(ReplKind::kProbe, seq_, callback_secret_));
  zmq::pollitem_t items[] = {{b.sock->handle(), 0, ZMQ_POLLIN, 0}};
  try {
    zmq::poll(items, 1, std::chrono::milliseconds(kRejoinProbeMs));
  } catch (const zmq::error_t&) {
    return Status::OK();
  }
  if (!(items[0].revents & ZMQ_POLLIN)) return Status::OK();
  zmq::message_t msg;
  if (!b.sock->recv(msg, zmq::recv_flags::dontwait)) return Status::OK();
  // It answers: bring it up to date, then back into the set.
  b.in = true;
  if (Status s = SendSnapshot(b); !s.ok()) return b.in ? s : Status::OK();
  if (!b.in) return Status::OK();
  in_sync_dirty_ = true;
  stats_.rejoined++;
  spdlog::warn("replication: backup {} has caught up: back in shard {}'s in-sync set", b.endpoint,
               options_.shard);
  return WriteInSync();
}

Status ReplicaShipper::Ask(Backup& b, const std::string& frame, std::string* answer) {
  b.Send(frame);
  stats_.bytes += frame.size();
  return Await(b, frame, answer);
}

namespace {

// Reads a backup's answer to a frame sent at (epoch, seq); kConflict when it says this node
// has been deposed.
Status ReadAnswer(const std::string& endpoint, const std::string& bytes, int64_t epoch,
                  uint64_t seq, ReplAck* ack, protocol::AckVerdict* verdict) {
  if (Status s = protocol::DecodeReplAck(bytes.data(), bytes.size(), ack); !s.ok())
    return Status::InvalidArgument("backup " + endpoint +
                                   " did not answer as a replication endpoint (" + s.message() +
                                   "): is it another node's replication_listen?");
  *verdict = protocol::JudgeAck(*ack, epoch, seq);
  if (*verdict == protocol::AckVerdict::kDeposed)
    return Status::Conflict("backup " + endpoint + ": " + ack->message);
  return Status::OK();
}

}  // namespace

Status ReplicaShipper::SendSnapshot(Backup& b) {
  if (journal_ == nullptr) return Status::Internal("replication: no journal to snapshot");
  const uint64_t t0 = base::SteadyMs();
  for (;;) {
    bool first = true, restart = false;
    uint64_t bytes = 0;
    Status s = journal_->SnapshotChunks(
        protocol::kSnapshotChunkBytes, [&](std::string data, bool) -> Status {
          bytes += data.size();
          std::string frame = Frame(first ? ReplKind::kSnapshotFirst : ReplKind::kSnapshotChunk, 0,
                                    std::move(data));
          first = false;
          std::string answer;
          ReplAck ack;
          if (Status a = Ask(b, frame, &answer); !a.ok()) return a;
          // A chunk's answer names the copy, not the staging copy it went to: only its code
          // says whether it was applied.
          protocol::AckVerdict v;
          if (Status r = ReadAnswer(b.endpoint, answer, epoch_, 0, &ack, &v); !r.ok()) return r;
          if (ack.code != ReplCode::kApplied) {
            restart = true;  // it lost the snapshot's start (restarted) or cannot write
            return Status::Unavailable(ack.message);
          }
          return Status::OK();
        });
    if (!b.in) return Status::OK();  // dropped while the snapshot was sent
    // The blobs before the last chunk: a copy is complete (may take the shard over) only once
    // it has the blobs its jobs name.
    if (s.ok()) s = ShipAllBlobsTo(b);
    if (!b.in) return Status::OK();
    if (s.ok()) {
      std::string answer;
      ReplAck ack;
      const std::string last = Frame(ReplKind::kSnapshotLast, seq_);
      if (Status a = Ask(b, last, &answer); !a.ok()) return b.in ? a : Status::OK();
      protocol::AckVerdict v;
      if (Status r = ReadAnswer(b.endpoint, answer, epoch_, seq_, &ack, &v); !r.ok()) return r;
      if (v == protocol::AckVerdict::kHolds) {
        b.synced = true;
        stats_.snapshots++;
        spdlog::info(
            "replication: backup {} holds shard {} at epoch {} batch {} ({} bytes sent "
            "in {} ms)",
            b.endpoint, options_.shard, epoch_, seq_, bytes, base::SteadyMs() - t0);
        return Status::OK();
      }
      restart = true;
    }
    if (!restart) return s;  // deposed, or the journal could not be read
    spdlog::warn("replication: backup {} did not take the snapshot ({}); sending it again",
                 b.endpoint, s.ok() ? "its last chunk was refused" : s.message());
    std::this_thread::sleep_for(std::chrono::milliseconds(kRefusedPauseMs));
  }
}

Status ReplicaShipper::Sync(Backup& b) {
  std::string answer;
  ReplAck ack;
  const std::string probe = Frame(ReplKind::kProbe, seq_, callback_secret_);
  if (Status a = Ask(b, probe, &answer); !a.ok()) return b.in ? a : Status::OK();
  protocol::AckVerdict v;
  if (Status r = ReadAnswer(b.endpoint, answer, epoch_, seq_, &ack, &v); !r.ok()) return r;
  if (v == protocol::AckVerdict::kHolds) {
    b.synced = true;
    return Status::OK();
  }
  spdlog::info(
      "replication: backup {} holds shard {} at epoch {} batch {}{}; sending a snapshot "
      "at epoch {} batch {}",
      b.endpoint, options_.shard, ack.epoch, ack.seq, ack.complete ? "" : " (incomplete)", epoch_,
      seq_);
  return SendSnapshot(b);
}

bool ReplicaShipper::AddBackup(const std::string& endpoint) {
  std::lock_guard<std::mutex> lock(added_mu_);
  if (known_.size() >= limits::kPeersMax || !known_.insert(endpoint).second) return false;
  added_.push_back(endpoint);
  return true;
}

void ReplicaShipper::TakeAdded() {
  std::vector<std::string> added;
  {
    std::lock_guard<std::mutex> lock(added_mu_);
    added.swap(added_);
  }
  for (const auto& e : added) {
    bool known = false;
    for (const auto& b : backups_) known = known || b->endpoint == e;
    if (known || backups_.size() >= limits::kPeersMax) continue;
    auto b = std::make_unique<Backup>();
    b->endpoint = e;
    if (!options_.curve.empty()) {
      b->curve = &options_.curve;
      b->server_key = options_.server_key ? options_.server_key(e) : std::string();
      if (b->server_key.empty()) {
        spdlog::warn("replication: {} not added as a backup: no principal lists it", e);
        continue;
      }
    }
    try {
      b->Open();
    } catch (const zmq::error_t& err) {
      spdlog::warn("replication: backup endpoint {}: {}", e, err.what());
      continue;
    }
    b->in = false;  // not in the in-sync set until it holds the shard
    b->next_try_ms = 0;
    spdlog::info("replication: {} added as a backup of shard {}; it joins the in-sync set once "
                 "it holds the shard",
                 e, options_.shard);
    backups_.push_back(std::move(b));
  }
}

void ReplicaShipper::SetBlobs(BlobSource source) {
  std::lock_guard<std::mutex> lock(work_mu_);
  blobs_ = std::move(source);
}

void ReplicaShipper::SetCallbackSecret(std::string secret) {
  std::lock_guard<std::mutex> lock(work_mu_);
  if (secret.size() > protocol::kSecretBytesMax) {
    spdlog::warn(
        "replication: the callback secret is longer than {} bytes and is not shipped: a node "
        "that takes shard {} over signs its callbacks with its own",
        protocol::kSecretBytesMax, options_.shard);
    secret.clear();
  }
  callback_secret_ = std::move(secret);
}

Status ReplicaShipper::SyncNow() {
  std::lock_guard<std::mutex> lock(work_mu_);
  return SyncLocked();
}

Status ReplicaShipper::SyncLocked() {
  if (disabled_) return Status::OK();
  TakeAdded();
  for (;;) {
    const int64_t epoch = options_.epoch ? options_.epoch() : 0;
    if (epoch <= 0)
      return Status::Unavailable("replication: this node holds no epoch of its shard yet");
    if (epoch != epoch_) {  // a new epoch numbers its batches from 1, on a fresh snapshot
      epoch_ = epoch;
      seq_ = 0;
      in_sync_dirty_ = true;
      for (auto& b : backups_) b->synced = false;
    }
    Status s;
    for (auto& b : backups_) {
      s = !b->in ? TryRejoin(*b) : !b->synced ? Sync(*b) : Status::OK();
      if (!s.ok()) break;
    }
    if (!s.ok() && EpochMoved()) continue;  // won again meanwhile: over, at the new epoch
    if (!s.ok()) return s;
    return WriteInSync();
  }
}

Status ReplicaShipper::Replicate(const std::string& batch,
                                 const std::function<Status()>& write_local) {
  std::lock_guard<std::mutex> lock(work_mu_);
  if (disabled_) return write_local();
  if (Status s = SyncLocked(); !s.ok()) return s;
  ++seq_;
  const std::string frame = Frame(ReplKind::kBatch, seq_, batch);
  for (auto& b : backups_) {
    if (!b->in) continue;
    b->Send(frame);
    stats_.bytes += frame.size();
  }
  const Status local = write_local();
  const uint64_t t0 = base::SteadyUs();
  for (auto& b : backups_) {
    while (b->in) {
      std::string answer;
      ReplAck ack;
      if (Status a = Await(*b, frame, &answer); !a.ok()) {
        if (!b->in) break;  // dropped from the in-sync set: the batch goes on without it
        if (!EpochMoved() || !local.ok()) return a;
        // A new epoch of this node's: every backup gets the journal, this batch in it, in a
        // snapshot of that epoch instead (a silent one is dropped at that epoch).
        if (Status s = SyncLocked(); !s.ok()) return s;
        stats_.waiting_us += base::SteadyUs() - t0;
        stats_.batches++;
        return Status::OK();
      }
      protocol::AckVerdict v;
      if (Status r = ReadAnswer(b->endpoint, answer, epoch_, seq_, &ack, &v); !r.ok()) return r;
      if (v == protocol::AckVerdict::kHolds) break;
      if (v == protocol::AckVerdict::kRefused) {
        spdlog::warn("replication: backup {} refused batch {}: {}; sending it again", b->endpoint,
                     seq_, ack.message);
        std::this_thread::sleep_for(std::chrono::milliseconds(kRefusedPauseMs));
        b->Send(frame);
        continue;
      }
      // It cannot take the batch on what it holds: a snapshot with this batch in it (the
      // local journal holds it once its write succeeded).
      b->synced = false;
      if (!local.ok()) break;
      if (Status s = SendSnapshot(*b); !s.ok()) return s;
      break;
    }
  }
  stats_.waiting_us += base::SteadyUs() - t0;
  if (!local.ok()) {
    // The journal writes this same batch again (a full disk): it is numbered anew, and a
    // backup that applied it applies the same records again.
    return local;
  }
  stats_.batches++;
  return Status::OK();
}

Status ReplicaShipper::ShipBlob(const std::string& hash, uint64_t size) {
  std::lock_guard<std::mutex> lock(work_mu_);
  if (disabled_ || backups_.empty() || !blobs_.read) return Status::OK();
  // At the current epoch, with every backup in the set holding the journal.
  if (Status s = SyncLocked(); !s.ok()) return s;
  for (auto& b : backups_) {
    if (!b->in) continue;
    Status s = ShipBlobTo(*b, hash, size);
    if (!s.ok() && b->in) return s;  // dropped: the blob is acknowledged without it
  }
  stats_.blobs++;
  return Status::OK();
}

Status ReplicaShipper::ShipBlobTo(Backup& b, const std::string& hash, uint64_t size) {
  // First a part without bytes (where does its copy stand?), then the parts from there.
  protocol::ReplBlobPart part{hash, size, 0, {}};
  uint32_t stalled = 0;
  for (;;) {
    const std::string frame = Frame(ReplKind::kBlob, 0, protocol::EncodeBlobPart(part));
    std::string answer;
    if (Status a = Ask(b, frame, &answer); !a.ok()) return b.in ? a : Status::OK();
    ReplAck ack;
    if (Status d = protocol::DecodeReplAck(answer.data(), answer.size(), &ack); !d.ok())
      return Status::InvalidArgument("backup " + b.endpoint +
                                     " did not answer as a replication endpoint: " + d.message());
    if (ack.code == ReplCode::kStaleEpoch)
      return Status::Conflict("backup " + b.endpoint + ": " + ack.message);
    const bool progress = ack.code == ReplCode::kApplied &&
                          (ack.complete || part.bytes.empty() || ack.seq > part.offset);
    if (ack.code == ReplCode::kApplied && ack.complete) return Status::OK();
    stalled = progress ? 0 : stalled + 1;
    if (ack.code != ReplCode::kApplied || stalled >= 3 || ack.seq >= size) {
      // It cannot store the blob (a full disk, an older node): its copy must not be taken
      // over without it.
      spdlog::warn("replication: backup {} did not store blob {} ({}): dropping it", b.endpoint,
                   hash, ack.message.empty() ? "no progress" : ack.message);
      if (Drop(b)) return Status::OK();
      std::this_thread::sleep_for(std::chrono::milliseconds(kRefusedPauseMs));
      stalled = 0;
      part.offset = 0;
      part.bytes.clear();
      continue;
    }
    auto bytes = blobs_.read(hash, ack.seq);
    if (!bytes.ok()) return bytes.status();
    part.offset = ack.seq;
    part.bytes = std::move(bytes.value());
    stats_.blob_bytes += part.bytes.size();
  }
}

Status ReplicaShipper::ShipAllBlobsTo(Backup& b) {
  if (!blobs_.each || !blobs_.read) return Status::OK();
  uint64_t n = 0;
  const uint64_t t0 = base::SteadyMs();
  Status s = blobs_.each([&](const std::string& hash, uint64_t size) -> Status {
    if (Status r = ShipBlobTo(b, hash, size); !r.ok()) return r;
    if (!b.in) return Status::Unavailable("dropped");
    ++n;
    return Status::OK();
  });
  if (!b.in) return Status::OK();
  if (s.ok() && n > 0)
    spdlog::info("replication: backup {} holds shard {}'s {} blobs ({} ms)", b.endpoint,
                 options_.shard, n, base::SteadyMs() - t0);
  return s;
}

void ReplicaShipper::ForgetBlobs(const std::vector<std::string>& hashes) {
  std::lock_guard<std::mutex> lock(work_mu_);
  if (disabled_ || backups_.empty() || epoch_ <= 0) return;
  // Under the lock, a blob put here again since the sweep is either here now (kept) or shipped
  // after this (and so put back on the backups).
  std::vector<std::string> gone;
  for (const auto& h : hashes)
    if (!blobs_.has || !blobs_.has(h)) gone.push_back(h);
  for (size_t at = 0; at < gone.size(); at += protocol::kBlobForgetMax) {
    const size_t n = std::min(gone.size() - at, protocol::kBlobForgetMax);
    const std::string frame =
        Frame(ReplKind::kBlobForget, 0,
              protocol::EncodeBlobHashes(std::vector<std::string>(
                  gone.begin() + static_cast<std::ptrdiff_t>(at),
                  gone.begin() + static_cast<std::ptrdiff_t>(at + n))));
    for (auto& b : backups_) {
      if (!b->in) continue;
      std::string answer;
      if (Status a = Ask(*b, frame, &answer); !a.ok())
        spdlog::warn("replication: backup {} was not told of {} blobs removed: {}", b->endpoint,
                     n, a.ToString());
    }
  }
}

}  // namespace jobnet
