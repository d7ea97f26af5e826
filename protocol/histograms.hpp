// The node's histograms (NodeStats::histograms): their names, fixed bucket bounds, and how a value
// is counted. Fixed bounds keep every node's series comparable and the stats reply bounded.
#ifndef JOBNET_PROTOCOL_HISTOGRAMS_HPP_
#define JOBNET_PROTOCOL_HISTOGRAMS_HPP_

#include <algorithm>
#include <cstdint>
#include <vector>

#include "jobnet/job.h"

namespace jobnet::protocol {

using jobnet::Histogram;

// queue_totals past limits::kQueuesMax queues count under this name (not a valid queue name).
inline constexpr char kOtherQueues[] = "*other*";

inline constexpr char kRunSeconds[] = "run_seconds";                // a run's start to its end
inline constexpr char kQueueWaitSeconds[] = "queue_wait_seconds";   // ready to started
inline constexpr char kJournalSyncSeconds[] = "journal_sync_seconds";  // write + fsync of a batch
inline constexpr char kJournalBatchRecords[] = "journal_batch_records";  // records per batch

// Where a submit's acknowledgement spends its time inside the node, one histogram per stage
// (docs/benchmarks.md §"Where an ack's time goes"). Each accepted submit is counted once in each.
inline constexpr char kAckReceiveSeconds[] = "ack_receive_seconds";  // frame read to scheduler
inline constexpr char kAckBatchWaitSeconds[] = "ack_batch_wait_seconds";  // to its batch's send
inline constexpr char kAckWriterWaitSeconds[] = "ack_writer_wait_seconds";  // to writer start
inline constexpr char kAckEncodeSeconds[] = "ack_encode_seconds";  // batch built, events handed
inline constexpr char kAckSyncSeconds[] = "ack_sync_seconds";      // RocksDB write + fsync
inline constexpr char kAckReturnSeconds[] = "ack_return_seconds";  // durable to reply handed on
inline constexpr char kAckNodeSeconds[] = "ack_node_seconds";      // frame read to reply sent

// The stages in the order an ack passes them, for readers that print them.
inline const std::vector<const char*>& AckStageNames() {
  static const std::vector<const char*> names = {
      kAckReceiveSeconds, kAckBatchWaitSeconds, kAckWriterWaitSeconds, kAckEncodeSeconds,
      kAckSyncSeconds,    kAckReturnSeconds,    kAckNodeSeconds};
  return names;
}

// Seconds, from 250 µs (a fast fsync) to 10 min (a long job).
inline std::vector<double> SecondsBounds() {
  return {0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
          0.5,     1,      2.5,   5,      10,    30,   60,    120,  300, 600};
}
// Seconds at microsecond grain, 10 µs (a mailbox hop) to 1 s, fine enough around a fast fsync
// (100 µs to 10 ms) for a percentile read off the buckets to mean something.
inline std::vector<double> StageBounds() {
  return {0.00001, 0.00002, 0.00005, 0.0001, 0.00015, 0.0002, 0.0003, 0.0004, 0.0005,
          0.00075, 0.001,   0.0015,  0.002,  0.003,   0.004,  0.005,  0.0075, 0.01,
          0.015,   0.02,    0.03,    0.05,   0.1,     0.25,   1};
}
// Records per journal batch: 1 to the largest batch a node forms.
inline std::vector<double> BatchBounds() {
  return {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096};
}

inline Histogram MakeHistogram(std::vector<double> bounds) {
  Histogram h;
  h.counts.assign(bounds.size() + 1, 0);
  h.bounds = std::move(bounds);
  return h;
}

// Counts `v` `n` times in the first bucket whose bound is >= v (the last bucket past every
// bound).
inline void Observe(Histogram* h, double v, uint64_t n = 1) {
  size_t i = static_cast<size_t>(std::lower_bound(h->bounds.begin(), h->bounds.end(), v) -
                                 h->bounds.begin());
  h->counts[i] += n;
  h->sum += v * static_cast<double>(n);
  h->count += n;
}

}  // namespace jobnet::protocol

#endif  // JOBNET_PROTOCOL_HISTOGRAMS_HPP_
