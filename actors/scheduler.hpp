// The scheduler actor: owns the scheduler state machine (scheduler_core.hpp), its worker pool
// and the group-commit pipeline to the journal writer. Effects of the state machine are carried
// out only after their journal records are durable: replies and dispatches wait for the fsync,
// and records that arrive while one batch is being synced form the next batch.
#ifndef JOBNET_ACTORS_SCHEDULER_HPP_
#define JOBNET_ACTORS_SCHEDULER_HPP_

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>
#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include "actors/caf_glue.hpp"
#include "jobnet/limits.h"
#include "actors/journal_writer.hpp"
#include "coord/fence.hpp"
#include "protocol/counters.hpp"
#include "storage/run_marks.hpp"

namespace jobnet::actors {

using scheduler_actor = caf::typed_actor<
    caf::reacts_to<connect_atom, caf::actor>,                // where replies go (the ingress)
    // requests in the order the transport read them (route 0: one-way, from a peer)
    caf::reacts_to<request_atom, std::vector<protocol::Inbound>>,
    caf::reacts_to<done_atom>,                               // outcomes in the OutcomeBox
    // a run's progress from a worker: seq, lease, percent, message
    caf::reacts_to<progress_atom, uint64_t, uint64_t, uint32_t, std::string>,
    caf::reacts_to<tick_atom>,                               // timers
    caf::reacts_to<beat_atom>,                               // send heartbeats to peers
    caf::reacts_to<peer_atom, uint32_t, std::string>,        // a new peer link: index, endpoint
    caf::reacts_to<resume_atom>,                             // disk was full: try the journal again
    caf::reacts_to<bulk_atom>,                               // the next chunk of a bulk action
    caf::reacts_to<callback_atom, sched::CallbackResult>,    // how a callback POST went
    caf::reacts_to<linger_atom, uint64_t>,                   // a lingering batch's time is up
    caf::replies_to<drain_atom>::with<DrainState>,           // refuse new work, report progress
    caf::reacts_to<stop_atom>>;                              // cancel runs, stop workers, quit

// Sends an encoded one-way frame to the peer on link `link`. Must be thread-safe.
using PeerSink = std::function<void(uint32_t link, std::string frame)>;

struct SchedulerConfig {
  uint64_t incarnation = 0;
  uint32_t tick_ms = 10;
  std::shared_ptr<const handlers::HandlerConfig> handler_config;
  std::string endpoint;        // this node's listen endpoint as configured, announced in heartbeats
  // As bound (the port the OS chose for `*` or 0), reported in stats so a client can learn it.
  std::string bound_endpoint;
  uint32_t peer_count = 0;     // peer links (more are added with peer_atom)
  uint32_t heartbeat_ms = limits::kHeartbeatMsDefault;
  PeerSink peer_sink;
  // Where workers mark the runs they start (storage/run_marks.hpp); null = no marks (tests).
  std::shared_ptr<RunMarks> run_marks;
  // Told each peer liveness decision of the state machine, at once (the transport's forwarding
  // follows it). Must be thread-safe.
  std::function<void(uint32_t link, const std::string& node, bool alive)> liveness_sink;
  // Extra counters for stats replies (the transport's); called on the scheduler's thread.
  std::function<std::vector<std::pair<protocol::Counter, uint64_t>>()> extra_counters;
  // Extra histograms for stats replies (the transport's time from reading a submit to sending
  // its ack); called on the scheduler's thread.
  std::function<std::map<std::string, Histogram>()> extra_histograms;
  // Frames refused for lacking a scope, by principal (the transport's); for stats replies.
  std::function<std::map<std::string, uint64_t>()> denied_by_principal;
  // The handlers linked into this node, for `jobnet types` (the actor does not read the
  // registry itself: node.cpp hands it over).
  std::vector<protocol::HandlerInfo> handler_types;
  // Takes callback POSTs to make (the deliverer, http/callbacks.hpp), each once its pending
  // record is durable; their results come back as callback_atom messages. Called on the
  // scheduler's thread; must not block. Unset: deliveries stay pending (tests).
  std::function<void(std::vector<sched::CallbackSend>)> callback_sink;
  // A batch that nobody waits on urgently (run ends, `wait` answers) waits up to this long for
  // one that someone does (a submit, a cancel) to share its fsync; 0 = never waits.
  uint32_t result_linger_us = limits::kResultLingerUsDefault;
  // With etcd: this node's hold on its shard (node/coordination.hpp). While it does not hold,
  // write requests are refused with unavailable, replies of durable batches become that error,
  // and runs are neither started nor ended. Null: no etcd, never fenced.
  std::shared_ptr<const coord::Fence> fence;
};

// Takes the recovered state machine; spawns its workers (one detached actor per slot).
scheduler_actor SpawnScheduler(caf::actor_system& sys, std::unique_ptr<sched::Scheduler> core,
                               uint32_t workers, journal_writer_actor journal,
                               SchedulerConfig config);

}  // namespace jobnet::actors

#endif  // JOBNET_ACTORS_SCHEDULER_HPP_
