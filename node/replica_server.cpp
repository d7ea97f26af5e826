// A backup's copies of its primaries' shards; see replica_server.hpp.
#include "node/replica_server.hpp"

#include <spdlog/spdlog.h>

#include <filesystem>
#include <map>
#include <set>
#include <zmq.hpp>

#include "protocol/replication.hpp"

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
  // Guards the copies against Release and HasCompleteCopy from other threads; the socket is
  // the loop's alone.
  std::mutex mu;
  struct Copy {
    std::unique_ptr<Journal> journal;
    ReplicaPosition pos;
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
  try {
    auto& r = rs->impl_->router;
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
  if (!protocol::ValidShardId(shard) || !std::filesystem::exists(dir + "/CURRENT")) return false;
  JournalOptions jo;
  jo.read_only = true;
  std::unique_ptr<Journal> j;
  if (!Journal::Open(dir, jo, &j).ok() || !j->LoadReplicaPosition(pos).ok()) return false;
  return pos->complete;
}

Status ReplicaServer::Release(const std::string& shard, std::string* dir) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  impl_->released.insert(shard);
  impl_->copies.erase(shard);  // closes the copy
  *dir = options_.dir + "/" + shard;
  return Status::OK();
}

ReplAck ReplicaServer::Impl::Apply(const std::string& dir, uint32_t shards_max, const ReplFrame& f,
                                   ReplicaServerStats& stats) {
  Impl& im = *this;
  std::lock_guard<std::mutex> lock(im.mu);
  if (im.released.count(f.shard))
    return Answer(ReplCode::kStaleEpoch, f, ReplicaPosition{},
                  "this node has taken shard " + f.shard + " over: its sender is deposed");
  auto it = im.copies.find(f.shard);
  if (it == im.copies.end()) {
    if (im.copies.size() >= shards_max)
      return Answer(ReplCode::kRefused, f, ReplicaPosition{},
                    "this backup already keeps " + std::to_string(shards_max) + " shards");
    Copy c;
    const std::string path = dir + "/" + f.shard;
    JournalOptions jo;
    jo.log = [](const std::string& line) { spdlog::warn("replica: {}", line); };
    if (Status s = Journal::Open(path, jo, &c.journal); !s.ok())
      return Answer(ReplCode::kRefused, f, ReplicaPosition{},
                    "cannot open the copy: " + s.ToString());
    if (Status s = c.journal->LoadReplicaPosition(&c.pos); !s.ok())
      return Answer(ReplCode::kRefused, f, ReplicaPosition{}, s.ToString());
    it = im.copies.emplace(f.shard, std::move(c)).first;
  }
  ReplicaPosition& pos = it->second.pos;
  Journal& copy = *it->second.journal;
  if (f.epoch < pos.epoch)
    return Answer(ReplCode::kStaleEpoch, f, pos,
                  "this backup has seen epoch " + std::to_string(pos.epoch) + " of shard " +
                      f.shard + ": a sender at epoch " + std::to_string(f.epoch) +
                      " has been deposed");
  ReplicaPosition next = pos;
  bool clear = false, sync = true;
  switch (f.kind) {
    case ReplKind::kProbe:
      return Answer(ReplCode::kApplied, f, pos);
    case ReplKind::kBatch:
      if (pos.complete && pos.epoch == f.epoch && f.seq <= pos.seq)
        return Answer(ReplCode::kApplied, f, pos);  // a resend of what is applied
      if (!pos.complete || pos.epoch != f.epoch || f.seq != pos.seq + 1)
        return Answer(ReplCode::kNeedSnapshot, f, pos, "the copy does not end where it begins");
      next = ReplicaPosition{f.epoch, f.seq, true};
      break;
    case ReplKind::kSnapshotFirst:
      clear = true;
      sync = false;
      next = ReplicaPosition{f.epoch, 0, false};
      break;
    case ReplKind::kSnapshotChunk:
    case ReplKind::kSnapshotLast:
      if (pos.complete || pos.epoch != f.epoch)
        return Answer(ReplCode::kNeedSnapshot, f, pos, "no snapshot of this epoch under way");
      sync = f.kind == ReplKind::kSnapshotLast;
      next = ReplicaPosition{f.epoch, sync ? f.seq : 0, sync};
      break;
  }
  if (Status s = copy.ApplyReplica(f.data, clear, next, sync); !s.ok()) {
    // The copy may be half-written: only a new snapshot makes it whole again.
    if (!s.IsCorruption()) pos.complete = false;
    return Answer(ReplCode::kRefused, f, pos, s.ToString());
  }
  pos = next;
  stats.bytes_applied += f.data.size();
  if (f.kind == ReplKind::kBatch) stats.batches_applied++;
  if (f.kind == ReplKind::kSnapshotLast) {
    stats.snapshots_completed++;
    spdlog::info("replica: copy of shard {} complete at epoch {} batch {}", f.shard, f.epoch,
                 f.seq);
  }
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
      continue;  // not a primary of ours: no answer it could read
    }
    ack = impl_->Apply(options_.dir, options_.shards_max, f, stats_);
    if (ack.code != ReplCode::kApplied) {
      stats_.refused++;
      spdlog::warn("replica: shard {} epoch {} seq {}: {}", f.shard, f.epoch, f.seq, ack.message);
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
