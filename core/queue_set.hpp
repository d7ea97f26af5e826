// The ready jobs of a node, one ordered set per queue, and the choice of which job runs next:
// between queues by stride scheduling on their weights, within a queue by priority with aging
// (FIFO) or newest first (LIFO). Paused queues and queues at their concurrency or rate limit sit
// outside the set of eligible queues, so picking a job costs O(log queues + log jobs of one
// queue) however many jobs they hold (docs/architecture.md §14). Within a queue the ready jobs are
// kept by job type, so a taker that runs only some types (this node's own slots, an external
// worker) gets the best job it can run without scanning the others. Pure: no clock of its
// own, no jobs, no I/O; the scheduler core calls it with the time.
#ifndef JOBNET_CORE_QUEUE_SET_HPP_
#define JOBNET_CORE_QUEUE_SET_HPP_

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "jobnet/limits.h"
#include "jobnet/queue.h"

namespace jobnet::sched {

class QueueSet {
 public:
  // A ready job, as the queue set orders it.
  struct Entry {
    uint64_t seq = 0;
    uint64_t order = 0;        // enqueue order: unique and increasing
    uint64_t ready_at_ms = 0;  // when it became ready: its age, for priority aging
    uint32_t priority = 0;
  };

  // The job types a taker runs (a null TypeSet: every type).
  using TypeSet = std::set<std::string>;

  explicit QueueSet(uint64_t aging_ms_per_level = limits::kPriorityAgingMsPerLevel);
  QueueSet(const QueueSet&) = delete;
  QueueSet& operator=(const QueueSet&) = delete;

  // Replaces the settings of queue `s.name` (created if new; the caller validated them). A
  // changed order re-sorts its ready jobs; a changed rate refills its bucket.
  void Configure(const QueueSettings& s, uint64_t now_ms);
  // The queue's settings: its configured ones, else the defaults under its name.
  QueueSettings SettingsOf(const std::string& name) const;
  bool IsConfigured(const std::string& name) const;
  size_t configured() const { return configured_; }
  // Every configured queue's settings, by name.
  std::vector<QueueSettings> AllConfigured() const;

  // A job of type `type` became ready in `queue`. Its entry must not be there yet.
  void Add(const std::string& queue, const Entry& e, uint64_t now_ms, const std::string& type = {});
  // A ready job left `queue` other than through Next (cancelled). It must be there, under the
  // type it was added with.
  void Remove(const std::string& queue, const Entry& e, const std::string& type = {});
  // A run that Next handed out of `queue` ended (however it ended).
  void RunEnded(const std::string& queue);

  // Whether Next would hand out a job at now_ms (first frees rate-limited queues whose next
  // token is due).
  bool HasEligible(uint64_t now_ms);
  // Hands out the next job: from the eligible queue with the least pass, its first entry. Counts
  // it as running in its queue and takes one of its rate tokens. False if no queue is eligible.
  bool Next(uint64_t now_ms, Entry* out) { return Next(now_ms, nullptr, out); }
  // The same for a taker that runs only the types in `types` (null: every type): from the
  // eligible queue with the least pass that holds a job of one of them, its first such entry.
  // Costs one look per eligible queue passed over (those holding only other types).
  bool Next(uint64_t now_ms, const TypeSet* types, Entry* out);
  // The entry Next(now_ms, types, ...) would hand out, left where it is (no token, no pass).
  // False if none.
  bool Peek(uint64_t now_ms, const TypeSet* types, Entry* out);
  // Whether some queue is eligible as of the last call that gave a time (no release: const).
  bool any_eligible() const { return !active_.empty(); }
  // Whether some eligible queue holds a job of one of `types` (null: any), as any_eligible.
  bool AnyEligibleFor(const TypeSet* types) const;
  // When the earliest rate-limited queue gets its next token; UINT64_MAX if none waits for one.
  uint64_t NextWakeMs() const;

  size_t ready() const { return ready_; }
  uint32_t running(const std::string& queue) const;
  // How long the longest-waiting ready job of `queue` has waited (0: none). Scans the queue's
  // ready jobs: for listings, not for dispatch.
  uint64_t OldestWaitMs(const std::string& queue, uint64_t now_ms) const;

 private:
  struct Order {
    bool lifo = false;
    uint64_t aging_ms = 0;
    bool operator()(const Entry& a, const Entry& b) const;
  };
  enum class Where : uint8_t { kIdle, kActive, kThrottled };
  using Ready = std::set<Entry, Order>;
  using ReadyByType = std::map<std::string, Ready>;
  struct Queue {
    uint64_t id = 0;  // creation order: breaks ties between equal passes deterministically
    QueueSettings settings;
    bool configured = false;
    ReadyByType ready;  // by job type; no empty sets
    size_t ready_count = 0;
    uint32_t running = 0;
    uint64_t pass = 0;          // stride scheduling: the queue with the least pass goes next
    uint64_t tokens_milli = 0;  // rate bucket, in thousandths of a run
    uint64_t tokens_at_ms = 0;  // when the bucket was last filled
    Where where = Where::kIdle;
    uint64_t wake_ms = 0;  // while throttled: when its next token is due
  };
  using Slot = std::tuple<uint64_t, uint64_t, Queue*>;  // (pass or wake_ms, id, queue)

  Queue& Get(const std::string& name, uint64_t now_ms);
  Queue* Find(const std::string& name);
  const Queue* Find(const std::string& name) const;
  // Takes the queue out of the active or throttled set.
  void Unplace(Queue& q);
  // Puts the queue where it belongs now (idle, active or throttled); forgets a queue that has
  // nothing left to remember. `q` may be gone afterwards.
  void Place(Queue& q);
  void Refill(Queue& q);
  // The queue's ready set whose first job goes first among `types` (null: all); end() if none.
  ReadyByType::iterator BestReady(Queue& q, const TypeSet* types) const;
  void Release(uint64_t now_ms);
  static uint64_t BucketMilli(const QueueSettings& s) {
    return 1000ull * (s.rate == 0 ? 1 : s.rate);  // one second of runs
  }

  uint64_t aging_ms_;
  uint64_t now_ms_ = 0;  // the latest time a caller gave
  uint64_t vtime_ = 0;   // the pass of the queue picked last
  uint64_t next_id_ = 1;
  size_t ready_ = 0;
  size_t configured_ = 0;
  std::map<std::string, Queue> queues_;  // node-stable: the sets point into it
  std::set<Slot> active_;                // (pass, id, queue): eligible, with ready jobs
  std::set<Slot> throttled_;             // (wake_ms, id, queue): ready jobs, no rate token yet
};

}  // namespace jobnet::sched

#endif  // JOBNET_CORE_QUEUE_SET_HPP_
