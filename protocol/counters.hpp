// The stats counters of a node, named by an enum: this table is the one owner of the strings the
// `stats` reply carries in its `counters` map (docs/protocol.md §5.4), so a counter cannot be
// misspelt, or renamed on the wire by accident, where it is counted.
#ifndef JOBNET_PROTOCOL_COUNTERS_HPP_
#define JOBNET_PROTOCOL_COUNTERS_HPP_

#include <array>
#include <cstddef>
#include <cstdint>

#include "jobnet/status.h"

namespace jobnet::protocol {

enum class Counter : uint8_t {
  // ---- the scheduler core ----
  kSubmitted,
  kSubmitsDeduplicated,
  kSucceeded,
  kFailedAttempts,
  kTimeouts,
  kRetries,
  kDead,
  kInterruptedRuns,
  kCancelled,
  kRetriedManually,
  kStaleResults,
  kPurged,
  kRecoveredJobs,
  kRecoveredRunning,
  kWaiters,
  kHeldBytes,
  kRemoteDispatched,
  kRemoteCompleted,
  kRemoteRejected,
  kRemoteUnacked,
  kPeersSuspended,
  kPeerRunsLost,
  kLateResultsAccepted,
  kPeersUp,
  kPeersDown,
  kHostedRuns,
  kHostedRejected,
  kHostedResultsUndeliverable,
  // ---- the scheduler actor's journal batches ----
  kJournalBatches,
  kJournalRecords,
  kJournalBatchRecordsMax,
  kJournalSyncUsAvg,
  // ---- the transport ----
  kTransportFramesIn,
  kTransportBadFrames,
  kTransportOverloaded,
  kTransportRepliesDropped,
  kTransportForwarded,
  kTransportPeerSendsDropped,
  kTransportForwardOwnerDown,
  kTransportForwardExpired,
  kTransportForwardLostOnDeath,
  kTransportForwardUnsent,
  // ---- a full journal disk ----
  kJournalFull,
  kStorageFullRefused,
  // ---- the shard's fence, with etcd (docs/failover.md §5) ----
  kFenced,         // 1 while this node may not act for its shard
  kFencedRefused,  // requests answered unavailable because of the fence
  kShardEpoch,     // the epoch this node last held its shard at (0: no etcd)
  // ---- replication, with backups or a replication endpoint (docs/failover.md §6-7) ----
  kReplicationBatches,          // journal batches durable on every backup in the in-sync set
  kReplicationSnapshots,        // snapshots sent to a backup
  kReplicationResends,          // frames sent again to a backup that did not answer in time
  kReplicationBytes,            // bytes shipped to backups, snapshots included
  kReplicationWaitUs,           // time spent waiting for backups after the local write, µs
  kReplicationBackupsDropped,   // backups dropped from the in-sync set
  kReplicationBackupsRejoined,  // dropped backups that caught up and were put back
  kReplicationInSync,           // backups in the in-sync set now (a gauge)
  kReplicaFrames,               // frames taken as a backup of other shards
  kReplicaBatchesApplied,       // batches applied to copies
  kReplicaSnapshotsApplied,     // snapshots completed into copies
  kReplicaRefused,              // frames refused (stale epochs, other histories, bad frames)
  kReplicationBlobs,            // blobs held by every in-sync backup before they were acked
  kReplicationBlobBytes,        // blob bytes shipped to backups, catch-up included
  kReplicaBlobsStored,          // blobs of other shards stored whole in their copies here
  kReplicaBlobsForgotten,       // removed from those copies as their primaries' sweeps said
  kPermissionDenied,            // frames refused: their principal lacks the scope they need
  kConnectionsRefused,          // CURVE handshakes refused: keys that are no principal's
  kShardsTakenOver,             // shards this node serves besides its own (a gauge)
  // ---- batches, bulk actions, payload checks (issue 9) ----
  kBatches,            // submit_batch requests
  kBatchSpecsRefused,  // specs of those answered with an error
  kBulkJobsTouched,    // jobs moved by bulk retry or cancel
  kPayloadsRejected,   // submits refused because the handler cannot accept the payload
  // ---- live workers and cancel of runs on peers (the scheduler core) ----
  kRemoteCancelsSent,  // cancels of this node's runs on peers, sent to the host
  kHostedCancelled,    // another owner's runs stopped (or dropped unstarted) on its cancel
  kWorkersResized,     // `workers set` requests carried out
  kScheduleFires,
  kScheduleFiresFailed,
  kTransportScheduleListsGathered,
  // ---- queues (docs/architecture.md §14) ----
  kQueueSettingsSet,  // queue_set requests applied on this node
  kQueueSyncApplied,  // settings from peers newer than this node's, taken
  kQueueSyncStale,    // settings from peers not newer than this node's, ignored
  // ---- dependencies (docs/architecture.md "Dependencies") ----
  kDependentsReleased,   // waiting jobs whose parents all finished: queued
  kDependentsCancelled,  // waiting jobs cancelled because a parent failed (or was missing)
  kParentWatchesSent,    // parent_watch frames to peers (children waiting on their jobs)
  kParentDonesSent,      // parent_done frames to peers (their children's parents ended)
  kFlowsSubmitted,       // submit_flow requests accepted (each journaled whole)
  // ---- the transport's traffic (client ROUTER and peer links) ----
  kTransportFramesOut,
  kTransportBytesIn,
  kTransportBytesOut,
  kTransportPeerFramesIn,
  kTransportPeerFramesOut,
  kTransportPeerBytesIn,
  kTransportPeerBytesOut,
  // ---- error replies sent to clients, by code (Code 1..14, then codes this build lacks) ----
  kRejectedNotFound,
  kRejectedCorruption,
  kRejectedInvalidArgument,
  kRejectedUnsupportedVersion,
  kRejectedTooLarge,
  kRejectedOverloaded,
  kRejectedUnavailable,
  kRejectedTimeout,
  kRejectedConflict,
  kRejectedDraining,
  kRejectedStorage,
  kRejectedLocked,
  kRejectedInternal,
  kRejectedStorageFull,
  kRejectedPermissionDenied,
  kRejectedOther,
  // ---- callbacks (docs/http.md "Callbacks") ----
  kCallbacksPending,    // deliveries waiting or in flight (a gauge)
  kCallbacksDelivered,  // deliveries a receiver answered 2xx
  kCallbacksFailed,     // deliveries given up: attempts spent, or dropped (purge, retry, limit)
  kCallbackAttempts,    // POSTs made, each try of each delivery
  // ---- blobs (docs/protocol.md "Blobs") ----
  kBlobsStored,   // complete blobs held (written by the node from its blob store)
  kBlobBytes,     // their bytes
  kBlobsRemoved,  // blobs and stale uploads removed by the sweep since start
  // ---- result reuse (docs/architecture.md "Result reuse") ----
  kReused,     // reuse submits answered with a copy of a retained result
  kCoalesced,  // reuse submits that joined an identical waiting or running job
  // ---- external workers and progress (docs/protocol.md "External workers") ----
  kExternalWorkers,       // registered now (a gauge, filled in by Stats())
  kExternalRegistered,    // worker_register requests accepted
  kExternalExpired,       // workers dropped for silence past their lease
  kExternalLeased,        // runs leased to external workers
  kExternalResults,       // their completions and failures applied
  kExternalStaleResults,  // results and progress refused: not the job's current lease
  kExternalRunsLost,      // runs re-queued because their worker went away
  kProgressUpdates,       // progress reports applied (local handlers and external workers)
  kProgressDropped,       // progress reports dropped by the rate limit
  // ---- frames checked against state, and the node's own loop (docs/cluster.md "Fencing") ----
  kResultsRefused,          // remote results naming no run this node journaled (any incarnation)
  kAcksRefused,             // remote acks naming no run of this start
  kRemoteCancelsUnmatched,  // remote cancels naming no run hosted here
  kHeartbeatsRefused,       // heartbeats of another incarnation while the known one is alive
  kQueueSyncFuture,         // queue settings from peers stamped beyond the clock skew
  kLoopStalls,              // the node's loop did not run for longer than kLoopStallMsMin
  // ---- epochs on runs sent to peers, with etcd (docs/failover.md §5) ----
  kStaleEpochRefused,     // remote results and acks naming an epoch this node has not reached
  kTransportDeposedRuns,  // runs from peers refused: their owner's shard was won by another node
  // ---- elastic workers (docs/operations.md §13) ----
  kAutoscaleGrown,   // pool grown by the autoscaler
  kAutoscaleShrunk,  // pool shrunk by the autoscaler
  kCount,                   // not a counter: the number of them
};

struct CounterInfo {
  Counter counter;   // the row's own enum value: checked against its index below
  const char* name;  // on the wire: never rename one (clients and dashboards read it)
  // The scheduler core reports it even while it is 0 (a gauge, or set once at start); the others
  // of the core appear once non-zero. journal_* and transport_* are always written by their owners.
  bool always;
};

inline constexpr std::array<CounterInfo, static_cast<size_t>(Counter::kCount)> kCounters = {{
    {Counter::kSubmitted, "submitted", false},
    {Counter::kSubmitsDeduplicated, "submits_deduplicated", false},
    {Counter::kSucceeded, "succeeded", false},
    {Counter::kFailedAttempts, "failed_attempts", false},
    {Counter::kTimeouts, "timeouts", false},
    {Counter::kRetries, "retries", false},
    {Counter::kDead, "dead", false},
    {Counter::kInterruptedRuns, "interrupted_runs", false},
    {Counter::kCancelled, "cancelled", false},
    {Counter::kRetriedManually, "retried_manually", false},
    {Counter::kStaleResults, "stale_results", false},
    {Counter::kPurged, "purged", false},
    {Counter::kRecoveredJobs, "recovered_jobs", true},
    {Counter::kRecoveredRunning, "recovered_running", false},
    {Counter::kWaiters, "waiters", true},
    {Counter::kHeldBytes, "held_bytes", true},
    {Counter::kRemoteDispatched, "remote_dispatched", false},
    {Counter::kRemoteCompleted, "remote_completed", false},
    {Counter::kRemoteRejected, "remote_rejected", false},
    {Counter::kRemoteUnacked, "remote_unacked", false},
    {Counter::kPeersSuspended, "peers_suspended", false},
    {Counter::kPeerRunsLost, "peer_runs_lost", false},
    {Counter::kLateResultsAccepted, "late_results_accepted", false},
    {Counter::kPeersUp, "peers_up", false},
    {Counter::kPeersDown, "peers_down", false},
    {Counter::kHostedRuns, "hosted_runs", false},
    {Counter::kHostedRejected, "hosted_rejected", false},
    {Counter::kHostedResultsUndeliverable, "hosted_results_undeliverable", false},
    {Counter::kJournalBatches, "journal_batches", false},
    {Counter::kJournalRecords, "journal_records", false},
    {Counter::kJournalBatchRecordsMax, "journal_batch_records_max", false},
    {Counter::kJournalSyncUsAvg, "journal_sync_us_avg", false},
    {Counter::kTransportFramesIn, "transport_frames_in", false},
    {Counter::kTransportBadFrames, "transport_bad_frames", false},
    {Counter::kTransportOverloaded, "transport_overloaded", false},
    {Counter::kTransportRepliesDropped, "transport_replies_dropped", false},
    {Counter::kTransportForwarded, "transport_forwarded", false},
    {Counter::kTransportPeerSendsDropped, "transport_peer_sends_dropped", false},
    {Counter::kTransportForwardOwnerDown, "transport_forward_owner_down", false},
    {Counter::kTransportForwardExpired, "transport_forward_expired", false},
    {Counter::kTransportForwardLostOnDeath, "transport_forward_lost_on_death", false},
    {Counter::kTransportForwardUnsent, "transport_forward_unsent", false},
    {Counter::kJournalFull, "journal_full", false},
    {Counter::kStorageFullRefused, "storage_full_refused", false},
    {Counter::kFenced, "fenced", false},
    {Counter::kFencedRefused, "fenced_refused", false},
    {Counter::kShardEpoch, "shard_epoch", false},
    {Counter::kReplicationBatches, "replication_batches", false},
    {Counter::kReplicationSnapshots, "replication_snapshots", false},
    {Counter::kReplicationResends, "replication_resends", false},
    {Counter::kReplicationBytes, "replication_bytes", false},
    {Counter::kReplicationWaitUs, "replication_wait_us", false},
    {Counter::kReplicationBackupsDropped, "replication_backups_dropped", false},
    {Counter::kReplicationBackupsRejoined, "replication_backups_rejoined", false},
    {Counter::kReplicationInSync, "replication_in_sync", false},
    {Counter::kReplicaFrames, "replica_frames", false},
    {Counter::kReplicaBatchesApplied, "replica_batches_applied", false},
    {Counter::kReplicaSnapshotsApplied, "replica_snapshots_applied", false},
    {Counter::kReplicaRefused, "replica_refused", false},
    {Counter::kReplicationBlobs, "replication_blobs", false},
    {Counter::kReplicationBlobBytes, "replication_blob_bytes", false},
    {Counter::kReplicaBlobsStored, "replica_blobs_stored", false},
    {Counter::kReplicaBlobsForgotten, "replica_blobs_forgotten", false},
    {Counter::kPermissionDenied, "permission_denied", false},
    {Counter::kConnectionsRefused, "connections_refused", false},
    {Counter::kShardsTakenOver, "shards_taken_over", false},
    {Counter::kBatches, "batches", false},
    {Counter::kBatchSpecsRefused, "batch_specs_refused", false},
    {Counter::kBulkJobsTouched, "bulk_jobs_touched", false},
    {Counter::kPayloadsRejected, "payloads_rejected", false},
    {Counter::kRemoteCancelsSent, "remote_cancels_sent", false},
    {Counter::kHostedCancelled, "hosted_cancelled", false},
    {Counter::kWorkersResized, "workers_resized", false},
    {Counter::kScheduleFires, "schedule_fires", false},
    {Counter::kScheduleFiresFailed, "schedule_fires_failed", false},
    {Counter::kTransportScheduleListsGathered, "transport_schedule_lists_gathered", false},
    {Counter::kQueueSettingsSet, "queue_settings_set", false},
    {Counter::kQueueSyncApplied, "queue_sync_applied", false},
    {Counter::kQueueSyncStale, "queue_sync_stale", false},
    {Counter::kDependentsReleased, "dependents_released", false},
    {Counter::kDependentsCancelled, "dependents_cancelled", false},
    {Counter::kParentWatchesSent, "parent_watches_sent", false},
    {Counter::kParentDonesSent, "parent_dones_sent", false},
    {Counter::kFlowsSubmitted, "flows_submitted", false},
    {Counter::kTransportFramesOut, "transport_frames_out", false},
    {Counter::kTransportBytesIn, "transport_bytes_in", false},
    {Counter::kTransportBytesOut, "transport_bytes_out", false},
    {Counter::kTransportPeerFramesIn, "transport_peer_frames_in", false},
    {Counter::kTransportPeerFramesOut, "transport_peer_frames_out", false},
    {Counter::kTransportPeerBytesIn, "transport_peer_bytes_in", false},
    {Counter::kTransportPeerBytesOut, "transport_peer_bytes_out", false},
    {Counter::kRejectedNotFound, "rejected_not_found", false},
    {Counter::kRejectedCorruption, "rejected_corruption", false},
    {Counter::kRejectedInvalidArgument, "rejected_invalid_argument", false},
    {Counter::kRejectedUnsupportedVersion, "rejected_unsupported_version", false},
    {Counter::kRejectedTooLarge, "rejected_too_large", false},
    {Counter::kRejectedOverloaded, "rejected_overloaded", false},
    {Counter::kRejectedUnavailable, "rejected_unavailable", false},
    {Counter::kRejectedTimeout, "rejected_timeout", false},
    {Counter::kRejectedConflict, "rejected_conflict", false},
    {Counter::kRejectedDraining, "rejected_draining", false},
    {Counter::kRejectedStorage, "rejected_storage", false},
    {Counter::kRejectedLocked, "rejected_locked", false},
    {Counter::kRejectedInternal, "rejected_internal", false},
    {Counter::kRejectedStorageFull, "rejected_storage_full", false},
    {Counter::kRejectedPermissionDenied, "rejected_permission_denied", false},
    {Counter::kRejectedOther, "rejected_other", false},
    {Counter::kCallbacksPending, "callbacks_pending", true},
    {Counter::kCallbacksDelivered, "callbacks_delivered", false},
    {Counter::kCallbacksFailed, "callbacks_failed", false},
    {Counter::kCallbackAttempts, "callback_attempts", false},
    {Counter::kBlobsStored, "blobs_stored", false},
    {Counter::kBlobBytes, "blob_bytes", false},
    {Counter::kBlobsRemoved, "blobs_removed", false},
    {Counter::kReused, "reused", false},
    {Counter::kCoalesced, "coalesced", false},
    {Counter::kExternalWorkers, "external_workers", false},
    {Counter::kExternalRegistered, "external_registered", false},
    {Counter::kExternalExpired, "external_expired", false},
    {Counter::kExternalLeased, "external_leased", false},
    {Counter::kExternalResults, "external_results", false},
    {Counter::kExternalStaleResults, "external_stale_results", false},
    {Counter::kExternalRunsLost, "external_runs_lost", false},
    {Counter::kProgressUpdates, "progress_updates", false},
    {Counter::kProgressDropped, "progress_dropped", false},
    {Counter::kResultsRefused, "results_refused", false},
    {Counter::kAcksRefused, "acks_refused", false},
    {Counter::kRemoteCancelsUnmatched, "remote_cancels_unmatched", false},
    {Counter::kHeartbeatsRefused, "heartbeats_refused", false},
    {Counter::kQueueSyncFuture, "queue_sync_future", false},
    {Counter::kLoopStalls, "loop_stalls", false},
    {Counter::kStaleEpochRefused, "stale_epoch_refused", false},
    {Counter::kTransportDeposedRuns, "transport_deposed_runs", false},
    {Counter::kAutoscaleGrown, "autoscale_grown", false},
    {Counter::kAutoscaleShrunk, "autoscale_shrunk", false},
}};
inline constexpr size_t kCounterCount = kCounters.size();

namespace counters_detail {
constexpr bool SameName(const char* a, const char* b) {
  while (*a != '\0' && *a == *b) ++a, ++b;
  return *a == *b;
}
// A row left out shows up as a default row (kSubmitted, no name) at the end.
constexpr bool InEnumOrderAndDistinct() {
  for (size_t i = 0; i < kCounterCount; ++i) {
    if (static_cast<size_t>(kCounters[i].counter) != i || kCounters[i].name == nullptr)
      return false;
    for (size_t j = 0; j < i; ++j)
      if (SameName(kCounters[i].name, kCounters[j].name)) return false;
  }
  return true;
}
}  // namespace counters_detail
static_assert(counters_detail::InEnumOrderAndDistinct(),
              "kCounters must list every Counter once, in enum order, with distinct names");

constexpr const char* CounterName(Counter c) { return kCounters[static_cast<size_t>(c)].name; }

// The counter of error replies with code number `code` (1..15; any other: kRejectedOther).
constexpr Counter RejectedCounter(uint32_t code) {
  return code >= 1 && code <= 15
             ? static_cast<Counter>(static_cast<uint32_t>(Counter::kRejectedNotFound) + code - 1)
             : Counter::kRejectedOther;
}
static_assert(static_cast<uint32_t>(Counter::kRejectedOther) -
                      static_cast<uint32_t>(Counter::kRejectedNotFound) ==
                  15,
              "one rejected_* counter per error code 1..15");
static_assert(static_cast<uint32_t>(kLastCode) == 15,
              "a new error code needs its rejected_* counter");

// One value per counter, indexed by the enum.
class CounterValues {
 public:
  uint64_t& operator[](Counter c) { return v_[static_cast<size_t>(c)]; }
  uint64_t operator[](Counter c) const { return v_[static_cast<size_t>(c)]; }

 private:
  std::array<uint64_t, kCounterCount> v_{};
};

}  // namespace jobnet::protocol

#endif  // JOBNET_PROTOCOL_COUNTERS_HPP_
