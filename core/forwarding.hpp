// Forwarding of client requests about another owner's jobs, without sockets: which requests go
// to which peer link, the forwards in flight and their deadlines, matching the owners' replies,
// and answering `unavailable` for owners that are dead or silent. The transport owns the sockets
// and calls this on its thread; tests drive it with a fake clock.
//
// It does not judge liveness: the scheduler's peer table does (core/scheduler_core), and this
// follows what SetPeer tells it, with no timer of its own, so the two can never disagree.
#ifndef JOBNET_CORE_FORWARDING_HPP_
#define JOBNET_CORE_FORWARDING_HPP_

#include <atomic>
#include <cstdint>
#include <set>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "protocol/messages.hpp"

namespace jobnet {

// Read from any thread (stats); written by the forwarder's thread.
struct ForwardCounters {
  std::atomic<uint64_t> forwarded{0};     // requests sent to their owner
  std::atomic<uint64_t> owner_down{0};    // answered `unavailable` at once: owner declared dead
  std::atomic<uint64_t> expired{0};       // the owner did not answer by the deadline
  std::atomic<uint64_t> lost_on_death{0};  // pending when their owner was declared dead
  std::atomic<uint64_t> unsent{0};        // the link's send queue was full
  std::atomic<uint64_t> unmatched_replies{0};  // late, or error replies to one-way messages
  std::atomic<uint64_t> gathered{0};      // schedule lists gathered from the peers
  std::atomic<uint64_t> deposed_runs{0};  // runs refused: sent by a deposed primary
};

// A reply frame for the client request held in transport slot `route`.
struct ForwardAnswer {
  uint64_t route = 0;
  std::string frame;
};

// The job a request is about, if it is a request that may be forwarded to the job's owner
// (status, wait, cancel, retry, one job's events, a result blob; else nullptr), and how long the
// owner may take beyond the slack (a wait's own timeout).
const std::string* ForwardableJob(const protocol::Body& body, uint64_t* wait_ms);

class Forwarder {
 public:
  // Shards whose holder is remembered (SetShardHolder); past this, new ones are not.
  static constexpr size_t kHoldersMax = 4096;
  // `node_id` is this node (its jobs are answered here); `link_count` peer links.
  Forwarder(std::string node_id, uint32_t link_count);
  Forwarder(const Forwarder&) = delete;
  Forwarder& operator=(const Forwarder&) = delete;

  // Follows the scheduler's decision: the peer on `link` is node `node`, alive or dead. When a
  // peer turns dead, every forward pending on its link is answered `unavailable` at once.
  void SetPeer(uint32_t link, const std::string& node, bool alive);
  // One more peer link (the next index), not alive until SetPeer says so.
  void AddLink() { peers_.emplace_back(); }

  // The shard `shard` (jobs with that id prefix) is held by node `holder` since a takeover
  // (docs/failover.md §7): its requests go there, or stay here if `holder` is this node (which
  // answers `unavailable` until it serves it). This node's own shard, taken over, goes to its
  // holder too. An empty holder, or the shard's own node, forgets it. `epoch` (0: unknown) is
  // the epoch `holder` won the shard at: a win by another node than the shard's own is kept
  // beyond the holder (FromDeposedOwner).
  void SetShardHolder(const std::string& shard, const std::string& holder, uint64_t epoch = 0);
  // Whether `run` was sent by a deposed primary: at an epoch before another node won the
  // owner's shard (counted). A run without an epoch (no etcd, an older node) never is.
  bool FromDeposedOwner(const protocol::RemoteRun& run);

  enum class Verdict {
    kLocal,     // this node answers the request: hand it on unchanged
    kForward,   // send `frame` on `link`; if that fails, call Unsent(forward_id)
    kAnswered,  // the owner is dead: the reply is in TakeAnswers()
    // A schedule list for the whole cluster: send each of `sends` (Unsent(forward_id) for one
    // that fails) and hand `local` (the request for this node's part) on. Its reply must then
    // go to OnLocalReply, which merges it with the peers' answers.
    kGather,
  };
  struct Send {
    uint32_t link = 0;
    uint64_t forward_id = 0;
    std::string frame;
  };
  struct Decision {
    Verdict verdict = Verdict::kLocal;
    uint32_t link = 0;
    uint64_t forward_id = 0;
    std::string frame;  // the request re-encoded with the forward's own corr_id
    std::vector<Send> sends;  // kGather
    protocol::Envelope local;  // kGather
  };
  // Decides where the request `env`, held in transport slot `route`, goes. status, wait, cancel
  // and retry about a job of a live peer (and events with a job filter) are forwarded with a deadline of now + kForwardSlackMs
  // (+ the wait's timeout); about a dead peer's job they are answered at once. A schedule_list
  // without `local`, once a heartbeat has named a peer, is gathered: asked of every alive peer
  // (with `local` set, so they do not ask on) and of this node, and answered with all the
  // schedules, naming in `unreachable` the peers that were dead or did not answer by now +
  // kForwardSlackMs (docs/cluster.md "Schedules"). Anything else, and any job of this node or of
  // a node no heartbeat named, is local.
  Decision Route(uint64_t route, const protocol::Envelope& env, uint64_t now_ms);
  // The forward's frame could not be queued on its link: answers `unavailable`.
  void Unsent(uint64_t forward_id);
  // The reply of this node to the local part of gather `route`: merged, and true. False if
  // `route` is not a gather (the reply goes to its client as usual).
  bool OnLocalReply(uint64_t route, const std::string& frame);
  // A frame that arrived on a peer link. If it answers a pending forward, that forward's client
  // gets it (with the client's corr_id); anything else is counted and dropped.
  void OnReply(const char* data, size_t size);
  // Answers `unavailable` for every forward whose deadline is at or before `now_ms`.
  void Expire(uint64_t now_ms);

  // The replies to send since the last call, in order.
  std::vector<ForwardAnswer> TakeAnswers();
  size_t pending() const { return pending_.size(); }
  const ForwardCounters& counters() const { return counters_; }

 private:
  struct Pending {
    uint64_t route = 0;
    uint64_t client_corr = 0;
    uint32_t link = 0;
    uint64_t deadline_ms = 0;
    uint64_t budget_ms = 0;  // deadline_ms - the time it was sent, for the error text
    std::string owner;
    uint64_t gather_route = 0;  // nonzero: a peer's part of the gather for this route
  };
  // A schedule list being gathered for the client request in transport slot `route`.
  struct Gather {
    uint64_t client_corr = 0;
    uint32_t waiting = 0;  // answers still to come: the peers asked, and this node
    protocol::ScheduleListReply merged;
    std::string local_error;  // the frame of this node's error reply, if it gave one
  };
  struct Peer {
    std::string node;
    bool alive = false;
  };
  // Ends a pending forward with an error reply to its client (for a part of a gather: its
  // node is unreachable).
  void Fail(std::unordered_map<uint64_t, Pending>::iterator it, const Status& why);
  Decision StartGather(uint64_t route, const protocol::Envelope& env, uint64_t now_ms);
  // One answer of gather `route` is in: when it was the last, answer the client.
  void GatherPartDone(uint64_t route);
  void Answer(uint64_t route, const protocol::Envelope& env);

  std::string node_id_;
  std::vector<Peer> peers_;                                // by link
  std::unordered_map<std::string, uint32_t> link_of_;      // node id -> link, as last told
  std::unordered_map<std::string, std::string> holders_;   // shard -> its node since a takeover
  std::unordered_map<std::string, uint64_t> taken_at_;     // shard -> newest win by another node
  std::unordered_map<uint64_t, Pending> pending_;          // by the forward's corr_id
  std::set<std::pair<uint64_t, uint64_t>> deadlines_;      // (deadline_ms, forward corr_id)
  std::unordered_map<uint64_t, Gather> gathers_;           // by route
  uint64_t next_id_ = 1;
  std::vector<ForwardAnswer> answers_;
  ForwardCounters counters_;
};

}  // namespace jobnet

#endif  // JOBNET_CORE_FORWARDING_HPP_
