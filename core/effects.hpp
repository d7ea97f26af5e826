// What a call into the scheduler core leaves for its owner to carry out, in order: journal
// writes first, then replies, dispatches, cancels and messages to peers. The core's parts
// (Scheduler, PeerLeases) add to one Effects; the scheduler actor applies it.
#ifndef JOBNET_CORE_EFFECTS_HPP_
#define JOBNET_CORE_EFFECTS_HPP_

#include <cstdint>
#include <string>
#include <vector>

#include "core/callbacks.hpp"
#include "protocol/job_record.hpp"
#include "protocol/messages.hpp"

namespace jobnet::sched {

// Identifies one pending reply; the owner maps it to whoever asked.
using ReplyToken = uint64_t;

struct Reply {
  ReplyToken token = 0;
  protocol::Body body;
};

// Run `job` on worker `slot`; `lease` names this run (a result with another lease is stale).
struct Dispatch {
  uint32_t slot = 0;
  uint64_t lease = 0;
  uint64_t seq = 0;
  std::string id;
  std::string type;
  std::string payload;
  uint32_t attempt = 0;
  uint64_t timeout_ms = 0;
  std::string parents;  // its parents' results (msgpack map id -> result), or nil/empty: none
};

// A one-way message to the peer on link `link` (RemoteRun, RemoteResult).
struct PeerSend {
  uint32_t link = 0;
  protocol::Body body;
};

// The peer table's decision that the peer on `link` (node `node`) turned alive or dead. The
// transport's forwarding follows it and keeps no liveness of its own (docs/cluster.md §2).
struct PeerLiveness {
  uint32_t link = 0;
  std::string node;
  bool alive = false;
};

struct Effects {
  std::vector<protocol::JobWrite> writes;
  std::vector<uint64_t> deletes;  // job seqs purged by retention
  // Schedule records, in order. A fire's record is journaled in the batch of its job, or (when
  // a large backlog is split into several batches) in a later one: never before the job.
  std::vector<protocol::ScheduleWrite> schedule_writes;
  uint64_t next_seq = 0;          // to journal with the writes when it changed (0 = unchanged)
  // A pool size set at runtime, to journal (m:workers) with the configured size it replaced
  // (0 = unchanged).
  uint32_t workers = 0;
  uint32_t configured_workers = 0;
  std::vector<Reply> replies;
  std::vector<Dispatch> dispatches;
  std::vector<uint64_t> cancels;  // leases whose runs should stop (timed out or cancelled)
  std::vector<PeerSend> peer_sends;
  std::vector<std::string> notes;  // operator-worthy events (peer up/down...), for the log
  std::vector<PeerLiveness> liveness;  // not journaled: carried out at once, like notes
  std::vector<protocol::QueueSettings> queue_writes;  // queue settings to journal ("q:" + name)
  // Callback POSTs to start, after the writes are durable (a first try's pending record must be
  // in the journal before anything is sent).
  std::vector<CallbackSend> callback_sends;
  bool empty() const {
    return !has_writes() && replies.empty() && dispatches.empty() && cancels.empty() &&
           peer_sends.empty() && callback_sends.empty();
  }
  bool has_writes() const {
    return !writes.empty() || !deletes.empty() || next_seq != 0 || workers != 0 ||
           !schedule_writes.empty() || !queue_writes.empty();
  }
  // Appends `later` after this (its writes, replies, ... come after ours).
  void Append(Effects&& later);
};

}  // namespace jobnet::sched

#endif  // JOBNET_CORE_EFFECTS_HPP_
