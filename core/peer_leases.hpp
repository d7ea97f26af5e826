// The cluster side of a node's scheduler (docs/cluster.md §2-§5): the peer table (liveness from
// heartbeats, credit, suspension of a peer that leaves runs unacknowledged), this node's runs on
// peers (leases, ack deadlines) with the fencing checks on what peers answer, and the runs it
// hosts for other owners (the hosted queue, deadlines, acks and rejections). It owns no jobs and
// no slots: the Scheduler applies what it answers (which runs to take back or interrupt) to its
// jobs, as it does with QueueSet and ExternalWorkers. Messages to peers, notes and liveness
// changes go into the Effects it is given; refusals into the node's counters.
#ifndef JOBNET_CORE_PEER_LEASES_HPP_
#define JOBNET_CORE_PEER_LEASES_HPP_

#include <cstdint>
#include <deque>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/clock.hpp"
#include "core/effects.hpp"
#include "jobnet/limits.h"
#include "protocol/counters.hpp"
#include "protocol/messages.hpp"

namespace jobnet::sched {

class PeerLeases {
 public:
  struct Peer {
    std::string endpoint;
    std::string node;
    uint64_t incarnation = 0;
    bool alive = false;
    uint64_t last_seen_ms = 0;       // steady clock: judges its silence
    uint64_t last_seen_wall_ms = 0;  // the same, as an instant (shown)
    uint32_t workers = 0;
    uint32_t credit = 0;  // slots it advertised, minus runs sent since
    uint64_t queued = 0;
    uint32_t leases = 0;
    bool acks = false;      // it acknowledges runs (its heartbeat says so)
    uint32_t unacked = 0;   // runs sent to it and not yet acknowledged
    // It left a run unacknowledged: no runs until resume_ms, then one probe at a time until
    // it answers anything. The n-th suspension in a row pauses DoublingMs(n, kPeerSuspendMsMin,
    // kPeerSuspendMsMax) (core/backoff.hpp).
    bool suspended = false;
    uint64_t resume_ms = 0;
    uint32_t suspensions = 0;
  };
  // A run of one of this node's jobs on a peer, as the owner answers it: the job's seq.
  using Lost = std::vector<std::pair<uint64_t, uint64_t>>;  // (lease, seq)
  // A heartbeat from the peer on `link`: `lost` are the runs its restart lost (already
  // forgotten here; the jobs are to be interrupted with `why`), `sync` asks for every queue
  // setting to be sent to it (it was down or restarted).
  struct Seen {
    uint32_t link = 0;
    bool sync = false;
    Lost lost;
    std::string why;
  };
  // What OnResult decided about a result for the current start.
  enum class Verdict { kRefused, kStale, kAccepted };

  struct Options {
    std::string node_id;
    uint64_t incarnation = 0;
    std::vector<std::string> endpoints;  // by link index
    uint64_t failure_timeout_ms = limits::kFailureTimeoutMsDefault;
    uint64_t remote_ack_ms = limits::kRemoteAckMsDefault;
  };
  PeerLeases(Options o, Effects* fx, protocol::CounterValues* counters);
  PeerLeases(const PeerLeases&) = delete;
  PeerLeases& operator=(const PeerLeases&) = delete;

  // Lease numbers carry the incarnation that made them in their high bits, so they are unique
  // across a node's starts and a result can name only a run of the start it says.
  static constexpr unsigned kLeaseCounterBits = 40;  // 10^12 runs per start
  static uint64_t FirstLease(uint64_t incarnation) {
    return (incarnation << kLeaseCounterBits) | 1;
  }
  static uint64_t LeaseIncarnation(uint64_t lease) { return lease >> kLeaseCounterBits; }

  // ---- the peer table ----
  size_t size() const { return peers_.size(); }
  // A new peer link (the next index), as from Options::endpoints: dead until it beats.
  void AddPeer(std::string endpoint) {
    Peer p;
    p.endpoint = std::move(endpoint);
    peers_.push_back(std::move(p));
  }
  const Peer& peer(uint32_t link) const { return peers_[link]; }
  int FindLink(const std::string& node) const;
  // Takes a heartbeat: refused while another incarnation of its peer is alive; else the peer
  // is alive, and its restart loses the runs of ours it held.
  std::vector<Seen> OnHeartbeat(const protocol::Heartbeat& hb, Now now);
  // Declares dead the alive peers silent for the failure timeout as of `mono_ms` (0: nobody is
  // judged); the runs they held are forgotten here and returned, to be interrupted with `why`.
  std::vector<Seen> DeclareSilentDead(uint64_t mono_ms);
  // The owner's loop stalled: every alive peer's silence starts again from now.
  void OnStall(Now now);
  std::vector<protocol::PeerInfo> Info() const;

  // ---- this node's runs on peers ----
  // The alive, unsuspended (or probe-due) peer with the most credit below its in-flight bound.
  std::optional<uint32_t> BestPeer(Now now) const;
  // Run `lease` of job `seq` goes to the peer on `link` now.
  void AddLease(uint32_t link, uint64_t lease, uint64_t seq, Now now);
  // The link of a run on a peer; nullopt for a lease that is not one (a local run's).
  std::optional<uint32_t> LinkOf(uint64_t lease) const;
  // Forgets the lease of a run on a peer (no-op for a local run's lease).
  void DropLease(uint64_t lease);
  // The link whose earliest unacknowledged run is past its ack deadline as of `mono_ms`.
  std::optional<uint32_t> DueAck(uint64_t mono_ms) const;
  // Forgets every unacknowledged run on the peer and suspends it; returns their jobs' seqs.
  std::vector<uint64_t> TakeBackUnacked(uint32_t link, Now now);
  // The fencing of a result for this start (docs/cluster.md "Fencing"): the lease must be one
  // this start made (below `next_lease`), still held, of that job and that node. An answer
  // from a peer that acks also lifts its suspension and refreshes its credit.
  Verdict OnResult(const protocol::RemoteResult& res, uint64_t next_lease);
  // The fencing of an ack; true when it was taken (the owner may dispatch).
  bool OnAck(const protocol::RemoteAck& ack, uint64_t next_lease);
  // Counts (and notes, a few times) a remote result that names no run of this node.
  void RefuseResult(const protocol::RemoteResult& res, const std::string& why);
  // Logs a refused frame (describe() says which) for the first kRefusedFramesNotedMax only: a
  // flood of forged frames must not flood the log. The caller counts it.
  template <class Describe>
  void NoteRefused(const Describe& describe) {
    if (refused_noted_ >= limits::kRefusedFramesNotedMax) return;
    refused_noted_++;
    fx_->notes.push_back(describe());
  }
  // Jobs recovered running on a peer: the run of an earlier start whose result is still taken
  // (until the job runs again). TakeLateRun: whether `res` is that run (then forgotten).
  void AddLateRun(uint64_t seq, uint64_t lease, std::string node) {
    late_runs_[seq] = LateRun{lease, std::move(node)};
  }
  void ForgetLateRun(uint64_t seq) { late_runs_.erase(seq); }
  bool TakeLateRun(const protocol::RemoteResult& res);

  // ---- runs hosted for other owners ----
  // A RemoteResult or RemoteAck for a hosted run, addressed to its owner (the other fields are
  // left for the caller).
  template <class Answer>
  Answer AnswerTo(const protocol::RemoteRun& run) const {
    Answer r;
    r.owner = run.owner;
    r.owner_incarnation = run.owner_incarnation;
    r.worker_node = node_id_;
    r.lease = run.lease;
    r.seq = run.seq;
    r.epoch = run.epoch;
    return r;
  }
  // Sends `body` to the link of node `owner`; false if no link knows it.
  bool SendTo(const std::string& owner, protocol::Body body);
  // Acknowledges a run accepted here to an owner that announces acks; `free` after it.
  void AckHosted(const protocol::RemoteRun& run, uint32_t free);
  // Hands a hosted run back to its owner unstarted (the attempt does not count there).
  void RejectHosted(const protocol::RemoteRun& run, const std::string& why, uint32_t free);
  // Runs accepted while every slot was busy, FIFO.
  size_t queued() const { return hosted_queue_.size(); }
  void Queue(const protocol::RemoteRun& run, Now now) { hosted_queue_.emplace_back(run, now.mono_ms); }
  const protocol::RemoteRun& front() const { return hosted_queue_.front().first; }
  void PopFront() { hosted_queue_.pop_front(); }
  // Whether the oldest queued run waited past kHostedQueueWaitMsMax as of `mono_ms`.
  bool FrontExpired(uint64_t mono_ms) const;
  // Whether cancel `c` names hosted run `run`.
  static bool Names(const protocol::RemoteCancel& c, const protocol::RemoteRun& run) {
    return run.owner == c.owner && run.owner_incarnation == c.owner_incarnation &&
           run.lease == c.lease && run.seq == c.seq;
  }
  // Drops the queued run `c` names; false if none.
  bool CancelQueued(const protocol::RemoteCancel& c);
  // A hosted run's deadline (steady) on `slot`; DueHosted pops the first one due.
  void AddDeadline(uint64_t deadline_ms, uint32_t slot, uint64_t lease) {
    hosted_deadlines_.emplace(deadline_ms, slot, lease);
  }
  void EraseDeadline(uint64_t deadline_ms, uint32_t slot, uint64_t lease) {
    hosted_deadlines_.erase({deadline_ms, slot, lease});
  }
  std::optional<std::pair<uint32_t, uint64_t>> PopDueDeadline(uint64_t mono_ms);

  uint64_t NextDeadlineMs() const;  // UINT64_MAX if none

 private:
  struct RemoteLease {
    uint32_t link = 0;
    uint64_t seq = 0;
    uint64_t ack_deadline_ms = 0;  // 0: acknowledged (or the peer does not ack)
  };
  struct LateRun {
    uint64_t lease = 0;
    std::string node;
  };
  // The peer answered the run `lease` (ack, rejection or result): it receives our runs.
  void MarkAcked(uint64_t lease);
  // Sets the peer's credit from the free slots it reported after the runs it had received:
  // the runs still unacknowledged were sent after that report and will take some of them.
  static void RefreshCredit(Peer& p, uint32_t free) {
    p.credit = free > p.unacked ? free - p.unacked : 0;
  }
  // The peer answered one of our runs: lift its suspension.
  void PeerAnswered(Peer& p);
  // Whether a run may go to the peer now.
  static bool CanLeaseTo(const Peer& p, Now now);
  // Forgets every run on the peer (it died or restarted).
  Lost DropLeasesOn(uint32_t link);

  std::string node_id_;
  uint64_t incarnation_;
  uint64_t failure_timeout_ms_;
  uint64_t remote_ack_ms_;
  Effects* fx_;
  protocol::CounterValues* counters_;
  uint32_t refused_noted_ = 0;  // refused frames noted in the log (at most kRefusedFramesNotedMax)

  std::vector<Peer> peers_;                                  // by link index
  std::unordered_map<uint64_t, RemoteLease> remote_leases_;  // by lease
  std::set<std::pair<uint64_t, uint64_t>> ack_deadlines_;    // (deadline, lease), unacked runs
  std::unordered_map<uint64_t, LateRun> late_runs_;          // by seq
  std::set<std::tuple<uint64_t, uint32_t, uint64_t>> hosted_deadlines_;  // (deadline, slot, lease)
  std::deque<std::pair<protocol::RemoteRun, uint64_t>> hosted_queue_;  // (run, queued at), FIFO
};

}  // namespace jobnet::sched

#endif  // JOBNET_CORE_PEER_LEASES_HPP_
