// The node's job event stream in memory (docs/protocol.md "Job events"): the newest events, the
// events requests held for new ones (long polls), and how a request is answered: from memory
// for recent events, through a reader (the journal) for older ones. A pure state machine: no
// CAF, no RocksDB; actors/events drives it and tests drive it with a fake reader and clock.
#ifndef JOBNET_CORE_EVENT_LOG_HPP_
#define JOBNET_CORE_EVENT_LOG_HPP_

#include <cstdint>
#include <deque>
#include <functional>
#include <utility>
#include <vector>

#include "jobnet/limits.h"
#include "jobnet/status.h"
#include "protocol/messages.hpp"

namespace jobnet {

class EventLog {
 public:
  // Reads kept events with from <= seq <= to, as Journal::ReadEvents does.
  using Reader = std::function<Status(uint64_t from, uint64_t to, uint32_t scan_max,
                                      const std::function<bool(protocol::StateEvent&&)>& fn,
                                      uint64_t* covered_to)>;
  // The oldest event still kept (the journal's; the next seq when none is).
  using OldestFn = std::function<uint64_t()>;
  struct Options {
    uint32_t memory_max = limits::kEventsInMemoryMax;  // newest events kept here
    uint32_t waiters_max = limits::kEventWaitersMax;   // held requests; more: kOverloaded
    uint32_t scan_max = limits::kEventScanMax;         // events one request looks at
  };
  // A reply for the request held as `token`.
  using Answers = std::vector<std::pair<uint64_t, protocol::EventPage>>;

  // `next_seq`: the seq the next published event has (the journal's, at start).
  EventLog(uint64_t next_seq, Reader reader, OldestFn oldest, Options options);
  EventLog(const EventLog&) = delete;
  EventLog& operator=(const EventLog&) = delete;

  // Answers `q` at once into *page (*held false), or holds it as `token` until an event it
  // wants is published or q.wait_ms passes (*held true; the answer comes from Publish or
  // Expire). It answers at once when it found events, when events after q.since are gone
  // (page.gap), when it stopped at scan_max, or when q.wait_ms is 0. Errors: kOverloaded when
  // waiters_max requests are held; the reader's error (kCorruption, kStorage).
  Status Query(uint64_t token, const protocol::EventQuery& q, uint64_t now_ms,
               protocol::EventPage* page, bool* held);
  // Events just made durable, in seq order, continuing the stream (the first has the seq
  // after the last published). Keeps them and answers the held requests they match.
  void Publish(std::vector<protocol::StateEvent> events, Answers* answers);
  // Answers, with no events, every held request whose wait ends at or before now_ms.
  void Expire(uint64_t now_ms, Answers* answers);

  uint64_t last_seq() const { return last_seq_; }
  size_t held() const { return waiters_.size(); }
  size_t in_memory() const { return recent_.size(); }

 private:
  struct Waiter {
    uint64_t token = 0;
    protocol::EventQuery query;
    uint64_t covered = 0;  // events up to here are known not to match
    uint64_t deadline_ms = 0;
  };
  static bool Matches(const protocol::EventQuery& q, const protocol::StateEvent& e) {
    return (q.queue.empty() || e.queue == q.queue) && (q.job.empty() || e.id == q.job);
  }
  uint64_t OldestKept() const;

  Reader reader_;
  OldestFn oldest_;
  Options options_;
  uint64_t last_seq_ = 0;                   // the newest published event (0: none yet)
  std::deque<protocol::StateEvent> recent_;  // the newest, contiguous, ending at last_seq_
  std::vector<Waiter> waiters_;
};

}  // namespace jobnet

#endif  // JOBNET_CORE_EVENT_LOG_HPP_
