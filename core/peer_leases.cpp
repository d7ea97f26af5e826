// The cluster side of the scheduler: see peer_leases.hpp.
#include "core/peer_leases.hpp"

#include <algorithm>
#include <limits>

#include "base/check.hpp"
#include "core/backoff.hpp"

namespace jobnet::sched {

using protocol::Counter;

PeerLeases::PeerLeases(Options o, Effects* fx, protocol::CounterValues* counters)
    : node_id_(std::move(o.node_id)),
      incarnation_(o.incarnation),
      failure_timeout_ms_(o.failure_timeout_ms),
      remote_ack_ms_(o.remote_ack_ms),
      fx_(fx),
      counters_(counters) {
  for (auto& ep : o.endpoints) AddPeer(std::move(ep));
}

// ---- the peer table ----

int PeerLeases::FindLink(const std::string& node) const {
  for (size_t i = 0; i < peers_.size(); ++i)
    if (peers_[i].node == node) return static_cast<int>(i);
  return -1;
}

std::vector<PeerLeases::Seen> PeerLeases::OnHeartbeat(const protocol::Heartbeat& hb, Now now) {
  std::vector<Seen> out;
  for (uint32_t i = 0; i < peers_.size(); ++i) {
    Peer& p = peers_[i];
    if (p.endpoint != hb.endpoint) continue;
    if (p.alive && p.incarnation != hb.incarnation) {
      // Another start of the peer while the one we know is alive: a real restart shows as the
      // known incarnation's silence first (declared dead by Tick, for its own silence only),
      // after which this one is taken. Until then it is refused: it would fail our runs there.
      (*counters_)[Counter::kHeartbeatsRefused]++;
      NoteRefused([&] {
        return "heartbeat for " + p.endpoint + " refused: incarnation " +
               std::to_string(hb.incarnation) + " while incarnation " +
               std::to_string(p.incarnation) + " is alive";
      });
      continue;
    }
    Seen seen;
    seen.link = i;
    const bool restarted = p.incarnation != 0 && p.incarnation != hb.incarnation;
    if (restarted) {
      fx_->notes.push_back("peer " + hb.node + " restarted (incarnation " +
                           std::to_string(p.incarnation) + " -> " + std::to_string(hb.incarnation) +
                           "); its " + std::to_string(p.leases) + " leases of ours are lost");
      if (p.leases > 0) {
        seen.lost = DropLeasesOn(i);
        seen.why = "interrupted: worker node " + hb.node + " restarted";
      }
    }
    if (!p.alive || p.node != hb.node) fx_->liveness.push_back(PeerLiveness{i, hb.node, true});
    // A peer that was down or restarted may have missed queue settings: send it all of ours.
    seen.sync = !p.alive || restarted;
    if (!p.alive) {
      (*counters_)[Counter::kPeersUp]++;
      fx_->notes.push_back("peer " + hb.node + " at " + p.endpoint + " is alive (incarnation " +
                           std::to_string(hb.incarnation) + ", " + std::to_string(hb.workers) +
                           " workers)");
    }
    p.node = hb.node;
    p.incarnation = hb.incarnation;
    p.alive = true;
    p.last_seen_ms = now.mono_ms;
    p.last_seen_wall_ms = now.wall_ms;
    p.workers = hb.workers;
    p.acks = hb.acks;
    if (p.acks) {
      RefreshCredit(p, hb.free);
    } else {
      p.credit = hb.free;  // an older node: credit is learned from heartbeats only
    }
    p.queued = hb.queued;
    out.push_back(std::move(seen));
  }
  return out;
}

std::vector<PeerLeases::Seen> PeerLeases::DeclareSilentDead(uint64_t mono_ms) {
  std::vector<Seen> out;
  for (uint32_t i = 0; i < peers_.size(); ++i) {
    Peer& p = peers_[i];
    if (!p.alive || p.last_seen_ms + failure_timeout_ms_ > mono_ms) continue;
    p.alive = false;
    p.credit = 0;
    fx_->liveness.push_back(PeerLiveness{i, p.node, false});
    (*counters_)[Counter::kPeersDown]++;
    fx_->notes.push_back("peer " + p.node + " at " + p.endpoint + " is silent for " +
                         std::to_string(mono_ms - p.last_seen_ms) + " ms: declared dead; " +
                         std::to_string(p.leases) + " leases re-queued");
    out.push_back(Seen{i, false, DropLeasesOn(i),
                       "interrupted: worker node " + p.node + " is silent (presumed dead)"});
  }
  return out;
}

void PeerLeases::OnStall(Now now) {
  for (Peer& p : peers_)
    if (p.alive) p.last_seen_ms = std::max(p.last_seen_ms, now.mono_ms);
}

std::vector<protocol::PeerInfo> PeerLeases::Info() const {
  std::vector<protocol::PeerInfo> out;
  for (const auto& p : peers_) {
    protocol::PeerInfo i;
    i.node = p.node;
    i.endpoint = p.endpoint;
    i.state = p.last_seen_ms == 0 ? "unknown" : p.alive ? "alive" : "dead";
    i.incarnation = p.incarnation;
    i.workers = p.workers;
    i.free = p.credit;
    i.queued = p.queued;
    i.last_seen_ms = p.last_seen_wall_ms;
    i.leases = p.leases;
    out.push_back(std::move(i));
  }
  return out;
}

// ---- this node's runs on peers ----

bool PeerLeases::CanLeaseTo(const Peer& p, Now now) {
  if (!p.alive || p.credit == 0 || p.leases >= limits::kPeerRunsInFlightMax) return false;
  // A suspended peer gets one probe run after its pause, and no second while that is unanswered.
  return !p.suspended || (now.mono_ms >= p.resume_ms && p.unacked == 0);
}

std::optional<uint32_t> PeerLeases::BestPeer(Now now) const {
  std::optional<uint32_t> link;
  uint32_t best = 0;
  for (uint32_t i = 0; i < peers_.size(); ++i)
    if (CanLeaseTo(peers_[i], now) && peers_[i].credit > best) {
      best = peers_[i].credit;
      link = i;
    }
  return link;
}

void PeerLeases::AddLease(uint32_t link, uint64_t lease, uint64_t seq, Now now) {
  Peer& p = peers_[link];
  p.credit--;
  p.leases++;
  RemoteLease rl{link, seq, 0};
  if (p.acks) {
    rl.ack_deadline_ms = now.mono_ms + remote_ack_ms_;
    ack_deadlines_.emplace(rl.ack_deadline_ms, lease);
    p.unacked++;
  }
  remote_leases_[lease] = rl;
}

std::optional<uint32_t> PeerLeases::LinkOf(uint64_t lease) const {
  auto rl = remote_leases_.find(lease);
  if (rl == remote_leases_.end()) return std::nullopt;
  return rl->second.link;
}

void PeerLeases::DropLease(uint64_t lease) {
  auto rl = remote_leases_.find(lease);
  if (rl == remote_leases_.end()) return;  // a local run's lease
  MarkAcked(lease);  // no longer waits for an ack either
  peers_[rl->second.link].leases--;
  remote_leases_.erase(rl);
}

void PeerLeases::MarkAcked(uint64_t lease) {
  auto rl = remote_leases_.find(lease);
  if (rl == remote_leases_.end() || rl->second.ack_deadline_ms == 0) return;
  ack_deadlines_.erase({rl->second.ack_deadline_ms, lease});
  rl->second.ack_deadline_ms = 0;
  Peer& p = peers_[rl->second.link];
  JOBNET_CHECK(p.unacked > 0);
  p.unacked--;
}

void PeerLeases::PeerAnswered(Peer& p) {
  if (p.suspended) fx_->notes.push_back("peer " + p.node + " answers runs again: suspension lifted");
  p.suspended = false;
  p.suspensions = 0;
}

PeerLeases::Lost PeerLeases::DropLeasesOn(uint32_t link) {
  Lost lost;
  for (const auto& [lease, rl] : remote_leases_)
    if (rl.link == link) lost.emplace_back(lease, rl.seq);
  for (const auto& [lease, seq] : lost) DropLease(lease);
  JOBNET_CHECK(peers_[link].leases == 0 && peers_[link].unacked == 0);
  return lost;
}

std::optional<uint32_t> PeerLeases::DueAck(uint64_t mono_ms) const {
  if (ack_deadlines_.empty() || ack_deadlines_.begin()->first > mono_ms) return std::nullopt;
  return remote_leases_.at(ack_deadlines_.begin()->second).link;
}

std::vector<uint64_t> PeerLeases::TakeBackUnacked(uint32_t link, Now now) {
  Peer& p = peers_[link];
  std::vector<uint64_t> unacked;
  for (const auto& [lease, rl] : remote_leases_)
    if (rl.link == link && rl.ack_deadline_ms != 0) unacked.push_back(lease);
  std::vector<uint64_t> seqs;
  for (uint64_t lease : unacked) {
    seqs.push_back(remote_leases_.at(lease).seq);
    DropLease(lease);
  }
  JOBNET_CHECK(p.unacked == 0);
  p.suspended = true;
  p.suspensions++;
  const uint64_t pause_ms =
      DoublingMs(p.suspensions, limits::kPeerSuspendMsMin, limits::kPeerSuspendMsMax);
  p.resume_ms = now.mono_ms + pause_ms;
  (*counters_)[Counter::kPeersSuspended]++;
  fx_->notes.push_back("peer " + p.node + " did not acknowledge " + std::to_string(unacked.size()) +
                       " runs within " + std::to_string(remote_ack_ms_) +
                       " ms: taken back; no runs to it for " + std::to_string(pause_ms) +
                       " ms, then one probe");
  return seqs;
}

PeerLeases::Verdict PeerLeases::OnResult(const protocol::RemoteResult& res, uint64_t next_lease) {
  if (LeaseIncarnation(res.lease) != incarnation_ || res.lease >= next_lease) {
    RefuseResult(res, "a lease this start never made");
    return Verdict::kRefused;
  }
  auto rl = remote_leases_.find(res.lease);
  if (rl == remote_leases_.end()) {
    // Its lease expired, was cancelled, or its peer was declared dead: the run is over here.
    (*counters_)[Counter::kStaleResults]++;
    return Verdict::kStale;
  }
  Peer& peer = peers_[rl->second.link];
  if (rl->second.seq != res.seq || peer.node != res.worker_node) {
    RefuseResult(res, "the lease is another job's or another node's");
    return Verdict::kRefused;
  }
  if (peer.acks) {
    // Any answer shows the peer receives our runs; its free slots are the freshest we have.
    MarkAcked(res.lease);
    PeerAnswered(peer);
    RefreshCredit(peer, res.free);
  }
  DropLease(res.lease);
  return Verdict::kAccepted;
}

bool PeerLeases::OnAck(const protocol::RemoteAck& ack, uint64_t next_lease) {
  if (ack.owner != node_id_ || ack.owner_incarnation != incarnation_ ||
      LeaseIncarnation(ack.lease) != incarnation_ || ack.lease >= next_lease) {
    (*counters_)[Counter::kAcksRefused]++;
    return false;
  }
  auto rl = remote_leases_.find(ack.lease);
  int link = rl != remote_leases_.end() ? static_cast<int>(rl->second.link) : FindLink(ack.worker_node);
  if (link < 0) return false;
  if (rl != remote_leases_.end() &&
      (rl->second.seq != ack.seq || peers_[link].node != ack.worker_node)) {
    (*counters_)[Counter::kAcksRefused]++;
    return false;
  }
  // A late ack (the run was taken back, or ended) still shows the peer receives runs.
  if (rl != remote_leases_.end()) MarkAcked(ack.lease);
  PeerAnswered(peers_[link]);
  RefreshCredit(peers_[link], ack.free);
  return true;
}

void PeerLeases::RefuseResult(const protocol::RemoteResult& res, const std::string& why) {
  (*counters_)[Counter::kResultsRefused]++;
  NoteRefused([&] {
    return "remote_result refused (" + why + "): owner " + res.owner + " incarnation " +
           std::to_string(res.owner_incarnation) + ", lease " + std::to_string(res.lease) +
           ", seq " + std::to_string(res.seq) + ", from " + res.worker_node;
  });
}

bool PeerLeases::TakeLateRun(const protocol::RemoteResult& res) {
  auto late = late_runs_.find(res.seq);
  if (late == late_runs_.end() || late->second.lease != res.lease ||
      late->second.node != res.worker_node || LeaseIncarnation(res.lease) != res.owner_incarnation)
    return false;
  late_runs_.erase(late);
  return true;
}

// ---- runs hosted for other owners ----

bool PeerLeases::SendTo(const std::string& owner, protocol::Body body) {
  int link = FindLink(owner);
  if (link < 0) return false;
  fx_->peer_sends.push_back(PeerSend{static_cast<uint32_t>(link), std::move(body)});
  return true;
}

void PeerLeases::AckHosted(const protocol::RemoteRun& run, uint32_t free) {
  int link = FindLink(run.owner);
  if (link < 0 || !peers_[link].acks) return;
  // At once, before the run's own result: the owner counts the attempt from here on.
  auto ack = AnswerTo<protocol::RemoteAck>(run);
  ack.free = free;
  fx_->peer_sends.push_back(PeerSend{static_cast<uint32_t>(link), std::move(ack)});
}

void PeerLeases::RejectHosted(const protocol::RemoteRun& run, const std::string& why,
                              uint32_t free) {
  (*counters_)[Counter::kHostedRejected]++;
  auto r = AnswerTo<protocol::RemoteResult>(run);
  r.rejected = true;
  r.error = why;
  r.free = free;
  SendTo(run.owner, std::move(r));
}

bool PeerLeases::FrontExpired(uint64_t mono_ms) const {
  return !hosted_queue_.empty() &&
         hosted_queue_.front().second + limits::kHostedQueueWaitMsMax <= mono_ms;
}

bool PeerLeases::CancelQueued(const protocol::RemoteCancel& c) {
  for (auto it = hosted_queue_.begin(); it != hosted_queue_.end(); ++it) {
    if (!Names(c, it->first)) continue;
    hosted_queue_.erase(it);
    return true;
  }
  return false;
}

std::optional<std::pair<uint32_t, uint64_t>> PeerLeases::PopDueDeadline(uint64_t mono_ms) {
  if (hosted_deadlines_.empty() || std::get<0>(*hosted_deadlines_.begin()) > mono_ms)
    return std::nullopt;
  auto [deadline, slot, lease] = *hosted_deadlines_.begin();
  hosted_deadlines_.erase(hosted_deadlines_.begin());
  return std::make_pair(slot, lease);
}

uint64_t PeerLeases::NextDeadlineMs() const {
  uint64_t d = std::numeric_limits<uint64_t>::max();
  if (!ack_deadlines_.empty()) d = std::min(d, ack_deadlines_.begin()->first);
  if (!hosted_deadlines_.empty()) d = std::min(d, std::get<0>(*hosted_deadlines_.begin()));
  if (!hosted_queue_.empty())
    d = std::min(d, hosted_queue_.front().second + limits::kHostedQueueWaitMsMax);
  return d;
}

}  // namespace jobnet::sched
