// The node's histograms (NodeStats::histograms): their names, fixed bucket bounds, and how a value
// is counted. Fixed bounds keep every node's series comparable and the stats reply bounded.
#ifndef JOBNET_PROTOCOL_HISTOGRAMS_HPP_
#define JOBNET_PROTOCOL_HISTOGRAMS_HPP_

#include <algorithm>
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

// Seconds, from 250 µs (a fast fsync) to 10 min (a long job).
inline std::vector<double> SecondsBounds() {
  return {0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
          0.5,     1,      2.5,   5,      10,    30,   60,    120,  300, 600};
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

// Counts `v` in the first bucket whose bound is >= v (the last bucket past every bound).
inline void Observe(Histogram* h, double v) {
  size_t i = static_cast<size_t>(std::lower_bound(h->bounds.begin(), h->bounds.end(), v) -
                                 h->bounds.begin());
  h->counts[i]++;
  h->sum += v;
  h->count++;
}

}  // namespace jobnet::protocol

#endif  // JOBNET_PROTOCOL_HISTOGRAMS_HPP_
