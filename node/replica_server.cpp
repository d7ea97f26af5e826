// A backup's copies of its primaries' shards; see replica_server.hpp.
#include "node/replica_server.hpp"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <map>
#include <set>
#include <zmq.hpp>

#include "jobnet/limits.h"
#include "node/zap.hpp"
#include "protocol/replication.hpp"
#include "storage/blob_store.hpp"
#include "storage/durable_file.hpp"

namespace jobnet {

using protocol::ReplAck;
using protocol::ReplCode;
using protocol::ReplFrame;
using protocol::ReplKind;

namespace {
constexpr int kPollMs = 100;  // how soon a stop is noticed
}  // namespace

struct ReplicaServer::Impl {
  zmq::context_t ctx{1};
  zmq::socket_t router{ctx, zmq::socket_type::router};
  std::unique_ptr<ZapHandler> zap;  // with principals; stopped before the context ends
  // Guards the copies against Release and HasCompleteCopy from other threads; the socket is
  // the loop's alone.
  std::mutex mu;
  struct Copy {
    std::unique_ptr<Journal> journal;  // <dir>/<shard>
    ReplicaPosition pos;               // what it holds
    std::unique_ptr<Journal> staging;  // <dir>/<shard>.staging, while a snapshot comes in
    int64_t staging_epoch = 0;         // its epoch while it is open, else 0
    std::unique_ptr<BlobStore> blobs;  // <dir>/<shard>.blobs, opened at the first blob frame
  };
  std::map<std::string, Copy> copies;
  std::set<std::string> released;  // shards taken over by this node

  // Applies one frame to its shard's copy; the answer says what the copy holds after it.
  protocol::ReplAck Apply(const std::string& dir, uint32_t shards_max, const protocol::ReplFrame& f,
                          ReplicaServerStats& stats);
};

ReplicaServer::ReplicaServer(ReplicaServerOptions options)
    : options_(std::move(options)), impl_(std::make_unique<Impl>()) {}

Status ReplicaServer::Start(ReplicaServerOptions options, std::unique_ptr<ReplicaServer>* out) {
  std::error_code ec;
  std::filesystem::create_directories(options.dir, ec);
  if (ec) return Status::Storage("cannot create " + options.dir + ": " + ec.message());
  std::unique_ptr<ReplicaServer> rs(new ReplicaServer(std::move(options)));
  // Shards taken over by an earlier run stay this node's.
  for (const auto& shard : TakenIn(rs->options_.dir)) rs->impl_->released.insert(shard);
  if (const auto& table = rs->options_.principals) {
    Status z = ZapHandler::Start(
        rs->impl_->ctx,
        [table](const std::string& key) {
          const std::string name = table->NameOf(key);
          return table->ScopesOf(name) & protocol::kScopePeer ? name : std::string();
        },
        "replication", &rs->impl_->zap);
    if (!z.ok()) return z;
  }
  try {
    auto& r = rs->impl_->router;
    if (rs->options_.principals) {
      r.set(zmq::sockopt::zap_domain, "jobnet");
      r.set(zmq::sockopt::curve_server, true);
      r.set(zmq::sockopt::curve_secretkey, rs->options_.curve.secret_key);
    }
    r.set(zmq::sockopt::linger, 0);
    r.set(zmq::sockopt::maxmsgsize, static_cast<int64_t>(protocol::kReplicationFrameBytesMax));
    r.bind(rs->options_.listen);
  } catch (const zmq::error_t& e) {
    return Status::Unavailable("cannot bind the replication endpoint " + rs->options_.listen +
                               ": " + e.what());
  }
  rs->thread_ = std::thread([p = rs.get()] { p->Loop(); });
  *out = std::move(rs);
  return Status::OK();
}

ReplicaServer::~ReplicaServer() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

namespace {

ReplAck Answer(ReplCode code, const ReplFrame& f, const ReplicaPosition& pos,
               std::string message = {}) {
  return ReplAck{code, f.shard, pos.epoch, pos.seq, pos.complete, std::move(message)};
}

JournalOptions CopyOptions() {
  JournalOptions jo;
  jo.log = [](const std::string& line) { spdlog::warn("replica: {}", line); };
  return jo;
}

using storage::SyncDir;

// The copy's blob store: never swept (the primary's sweep says what to remove), and as large
// a blob as any primary may take.
Status OpenCopyBlobs(const std::string& path, std::unique_ptr<BlobStore>* out) {
  BlobStoreOptions bo;
  bo.blob_bytes_max = limits::kBlobBytesMaxMax;
  bo.log = [](const std::string& line) { spdlog::warn("replica blobs: {}", line); };
  return BlobStore::Open(path, bo, out);
}

// Writes `secret` to `path` (mode 0600) unless it holds it already.
Status KeepSecret(const std::string& path, const std::string& secret) {
  const std::string line = secret + "\n";
  {
    std::ifstream in(path);
    std::stringstream ss;
    if (in) ss << in.rdbuf();
    if (in && ss.str() == line) return Status::OK();
  }
  return storage::ReplaceFileDurably(path, line, 0600);
}

// A copy whose snapshot swap was cut short between its two renames is put back first.
void RestoreSwapped(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path) && std::filesystem::exists(path + ".old"))
    std::filesystem::rename(path + ".old", path, ec);
}

}  // namespace

bool ReplicaServer::HasCompleteCopy(const std::string& shard, ReplicaPosition* pos) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  if (impl_->released.count(shard)) return false;
  auto it = impl_->copies.find(shard);
  if (it != impl_->copies.end()) {
    *pos = it->second.pos;
    return pos->complete;
  }
  // A copy left by an earlier run of this node: read its position without keeping it open.
  const std::string dir = options_.dir + "/" + shard;
  if (!protocol::ValidShardId(shard)) return false;
  RestoreSwapped(dir);
  if (!std::filesystem::exists(dir + "/CURRENT")) return false;
  JournalOptions jo;
  jo.read_only = true;
  std::unique_ptr<Journal> j;
  if (!Journal::Open(dir, jo, &j).ok() || !j->LoadReplicaPosition(pos).ok()) return false;
  return pos->complete;
}

Status ReplicaServer::Release(const std::string& shard, std::string* dir) {
  if (!protocol::ValidShardId(shard)) return Status::InvalidArgument("bad shard id " + shard);
  std::lock_guard<std::mutex> lock(impl_->mu);
  impl_->released.insert(shard);
  impl_->copies.erase(shard);  // closes the copy and its blobs
  *dir = options_.dir + "/" + shard;
  RestoreSwapped(*dir);
  // The shard's blobs and callback secret go where its node keeps them, in its data directory
  // (before the marker: a restart that finds the marker finds them moved, or moves them).
  std::error_code ec;
  std::filesystem::create_directories(*dir, ec);
  for (const auto& [from, to] : {std::make_pair(*dir + ".blobs", *dir + "/blobs"),
                                 std::make_pair(*dir + ".secret", *dir + "/callback.secret")}) {
    if (!std::filesystem::exists(from) || std::filesystem::exists(to)) continue;
    std::filesystem::rename(from, to, ec);
    if (ec) return Status::Storage("cannot move " + from + " to " + to + ": " + ec.message());
    SyncDir(*dir);
  }
  const std::string marker = *dir + ".taken";
  if (!std::filesystem::exists(marker)) {
    int fd = ::open(marker.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0 || ::fsync(fd) != 0) {
      if (fd >= 0) ::close(fd);
      return Status::Storage("cannot write " + marker + ": " + std::strerror(errno));
    }
    ::close(fd);
    SyncDir(options_.dir);
  }
  return Status::OK();
}

std::vector<std::string> ReplicaServer::Taken() {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return std::vector<std::string>(impl_->released.begin(), impl_->released.end());
}

std::vector<std::string> ReplicaServer::TakenIn(const std::string& dir) {
  std::vector<std::string> out;
  std::error_code ec;
  const std::string suffix = ".taken";
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.size() > suffix.size() &&
        name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0 &&
        protocol::ValidShardId(name.substr(0, name.size() - suffix.size())))
      out.push_back(name.substr(0, name.size() - suffix.size()));
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<std::string> ReplicaServer::Copies() {
  std::lock_guard<std::mutex> lock(impl_->mu);
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(options_.dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (entry.is_directory(ec) && protocol::ValidShardId(name) &&
        name.find('.') == std::string::npos)
      out.push_back(name);
  }
  std::sort(out.begin(), out.end());
  return out;
}

ReplAck ReplicaServer::Impl::Apply(const std::string& dir, uint32_t shards_max, const ReplFrame& f,
                                   ReplicaServerStats& stats) {
  std::lock_guard<std::mutex> lock(mu);
  if (released.count(f.shard))
    return Answer(ReplCode::kStaleEpoch, f, ReplicaPosition{},
                  "this node has taken shard " + f.shard + " over: its sender is deposed");
  const std::string path = dir + "/" + f.shard;
  auto it = copies.find(f.shard);
  if (it == copies.end()) {
    if (copies.size() >= shards_max)
      return Answer(ReplCode::kRefused, f, ReplicaPosition{},
                    "this backup already keeps " + std::to_string(shards_max) + " shards");
    Copy c;
    RestoreSwapped(path);
    if (Status s = Journal::Open(path, CopyOptions(), &c.journal); !s.ok())
      return Answer(ReplCode::kRefused, f, ReplicaPosition{},
                    "cannot open the copy: " + s.ToString());
    if (Status s = c.journal->LoadReplicaPosition(&c.pos); !s.ok())
      return Answer(ReplCode::kRefused, f, ReplicaPosition{}, s.ToString());
    it = copies.emplace(f.shard, std::move(c)).first;
  }
  Copy& c = it->second;
  ReplicaPosition& pos = c.pos;
  const protocol::CopyDecision d = protocol::DecideCopy(
      protocol::CopyState{pos, c.staging_epoch, false}, f);
  switch (d.step) {
    case protocol::CopyStep::kAnswer:
      return Answer(d.code, f, pos, d.message);
    case protocol::CopyStep::kKeepSecret:
      if (Status s = KeepSecret(path + ".secret", f.data); !s.ok())
        return Answer(ReplCode::kRefused, f, pos, s.ToString());
      return Answer(ReplCode::kApplied, f, pos);
    case protocol::CopyStep::kApplyBlob:
    case protocol::CopyStep::kForgetBlobs: {
      if (!c.blobs)
        if (Status s = OpenCopyBlobs(path + ".blobs", &c.blobs); !s.ok())
          return Answer(ReplCode::kRefused, f, pos, "cannot open the copy's blobs: " + s.ToString());
      if (d.step == protocol::CopyStep::kForgetBlobs) {
        std::vector<std::string> hashes;
        Status s = protocol::DecodeBlobHashes(f.data, &hashes);
        if (s.ok()) s = c.blobs->Forget(hashes);
        if (!s.ok()) return Answer(ReplCode::kRefused, f, pos, s.ToString());
        stats.blobs_forgotten += hashes.size();
        return Answer(ReplCode::kApplied, f, pos);
      }
      protocol::ReplBlobPart part;
      if (Status s = protocol::DecodeBlobPart(f.data, &part); !s.ok())
        return Answer(ReplCode::kRefused, f, pos, s.ToString());
      auto at = c.blobs->Progress(part.hash, part.size);
      // A part where the copy does not end (a resend, or a first question) is not applied: the
      // answer says where the copy ends, and the primary goes on from there.
      if (at.ok() && !at.value().complete && part.offset == at.value().received &&
          (!part.bytes.empty() || part.size == 0)) {
        at = c.blobs->PutChunk({part.hash, part.size, part.offset, std::move(part.bytes)});
        if (at.ok() && at.value().complete) stats.blobs_stored++;
      }
      if (!at.ok()) return Answer(ReplCode::kRefused, f, pos, at.status().ToString());
      stats.bytes_applied += f.data.size();
      return ReplAck{ReplCode::kApplied, f.shard, pos.epoch, at.value().received,
                     at.value().complete, {}};
    }
    case protocol::CopyStep::kApplyBatch: {
      ReplicaPosition next{f.epoch, f.seq, true, f.history};
      if (Status s = c.journal->ApplyReplica(f.data, false, next, true); !s.ok())
        return Answer(ReplCode::kRefused, f, pos, s.ToString());
      pos = next;
      stats.batches_applied++;
      break;
    }
    case protocol::CopyStep::kBeginSnapshot: {
      c.staging.reset();
      c.staging_epoch = 0;
      std::error_code ec;
      std::filesystem::remove_all(path + ".staging", ec);
      if (Status s = Journal::Open(path + ".staging", CopyOptions(), &c.staging); !s.ok())
        return Answer(ReplCode::kRefused, f, pos, "cannot make a staging copy: " + s.ToString());
      c.staging_epoch = f.epoch;
      [[fallthrough]];
    }
    case protocol::CopyStep::kApplyChunk:
    case protocol::CopyStep::kFinishSnapshot: {
      const bool last = d.step == protocol::CopyStep::kFinishSnapshot;
      ReplicaPosition next{f.epoch, last ? f.seq : 0, last, f.history};
      if (Status s = c.staging->ApplyReplica(f.data, false, next, last); !s.ok()) {
        c.staging.reset();
        c.staging_epoch = 0;
        return Answer(ReplCode::kRefused, f, pos, s.ToString());
      }
      if (!last) break;
      // Swap: the staging copy becomes the copy (each rename atomic, the directory synced).
      c.staging.reset();
      c.journal.reset();
      std::error_code ec;
      std::filesystem::remove_all(path + ".old", ec);
      std::filesystem::rename(path, path + ".old", ec);
      std::filesystem::rename(path + ".staging", path, ec);
      if (ec) {
        RestoreSwapped(path);
        copies.erase(it);
        return Answer(ReplCode::kRefused, f, ReplicaPosition{},
                      "cannot put the snapshot in place: " + ec.message());
      }
      SyncDir(dir);
      std::filesystem::remove_all(path + ".old", ec);
      c.staging_epoch = 0;
      if (Status s = Journal::Open(path, CopyOptions(), &c.journal); !s.ok()) {
        copies.erase(it);
        return Answer(ReplCode::kRefused, f, ReplicaPosition{},
                      "cannot open the copy: " + s.ToString());
      }
      pos = next;
      stats.snapshots_completed++;
      spdlog::info("replica: copy of shard {} complete at epoch {} batch {}", f.shard, f.epoch,
                   f.seq);
      break;
    }
  }
  stats.bytes_applied += f.data.size();
  return Answer(ReplCode::kApplied, f, pos);
}

void ReplicaServer::Loop() {
  auto& router = impl_->router;
  while (!stop_) {
    zmq::pollitem_t items[] = {{router.handle(), 0, ZMQ_POLLIN, 0}};
    try {
      zmq::poll(items, 1, std::chrono::milliseconds(kPollMs));
    } catch (const zmq::error_t&) {
      continue;  // EINTR
    }
    if (!(items[0].revents & ZMQ_POLLIN)) continue;
    zmq::message_t identity, body;
    if (!router.recv(identity, zmq::recv_flags::dontwait)) continue;
    if (!identity.more() || !router.recv(body, zmq::recv_flags::dontwait)) continue;
    while (body.more()) {  // a frame of more parts than ours: drain and drop it
      zmq::message_t rest;
      if (!router.recv(rest, zmq::recv_flags::dontwait)) break;
      body = std::move(rest);
      stats_.refused++;
    }
    stats_.frames++;
    ReplFrame f;
    ReplAck ack;
    if (Status s =
            protocol::DecodeReplFrame(static_cast<const char*>(body.data()), body.size(), &f);
        !s.ok()) {
      stats_.refused++;
      spdlog::warn("replica: refused a frame: {}", s.ToString());
      // Answered, so that a sender of another version hears why rather than waiting.
      ack = ReplAck{
          ReplCode::kRefused, protocol::ValidShardId(f.shard) ? f.shard : "invalid", 0, 0, false,
          s.ToString()};
    } else {
      ack = impl_->Apply(options_.dir, options_.shards_max, f, stats_);
      if (ack.code != ReplCode::kApplied) {
        stats_.refused++;
        spdlog::warn("replica: shard {} epoch {} seq {}: {}", f.shard, f.epoch, f.seq, ack.message);
      }
    }
    const std::string out = protocol::EncodeReplAck(ack);
    try {
      router.send(identity, zmq::send_flags::sndmore | zmq::send_flags::dontwait);
      router.send(zmq::buffer(out), zmq::send_flags::dontwait);
    } catch (const zmq::error_t&) {
    }
  }
}

}  // namespace jobnet
