// The job event stream as clients see it: every state change of every job a node owns, numbered
// by a node-wide sequence, read in pages with a long poll (docs/protocol.md "Job events"). Plain
// structs of standard types, shared by the client library (jobnet/client.h) and the protocol.
#ifndef JOBNET_EVENTS_H_
#define JOBNET_EVENTS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "jobnet/job.h"
#include "jobnet/limits.h"

namespace jobnet {

// One state change of one job. seq is the node's event sequence: 1, 2, 3, ... with no holes,
// kept across restarts, so "everything after seq N" is a well-defined resume point.
struct StateEvent {
  uint64_t seq = 0;
  std::string id;      // the job
  JobState state = JobState::kQueued;  // the state it went into
  std::string queue;
  std::string type;
  uint64_t at_ms = 0;  // Unix ms
  uint32_t attempt = 0;  // the job's attempt count after the change
  std::string node;    // into running: the node that runs the attempt; else empty
  std::string error;   // on the change that ends a failed attempt: its error; else empty
  // A progress report of the running attempt rather than a state change (state stays
  // running): its percent (0..100) and message. Rate-limited per job
  // (limits::kProgressEventIntervalMsMin), so a stream shows a long job move without a flood.
  bool progress_report = false;
  uint32_t progress = 0;
  std::string progress_message;
};

// Which events to read: those with seq > since, of one queue and/or one job when given.
struct EventQuery {
  uint64_t since = 0;
  std::string queue;  // empty: every queue
  std::string job;    // empty: every job
  uint32_t max = limits::kEventsPerReplyDefault;  // 1..limits::kEventsPerReplyMax
  // With nothing to report, the node holds the request this long for new events
  // (0..limits::kEventWaitMsMax); 0 answers at once.
  uint64_t wait_ms = 0;
};

// One page of events, oldest first.
struct EventPage {
  std::vector<StateEvent> events;
  // Pass as `since` to read on: the last seq this page covers (filtered-out events included).
  uint64_t next = 0;
  // The oldest event the node still keeps (the journal trims the oldest, docs/journal.md).
  uint64_t oldest = 0;
  // Events after `since` were lost to trimming (since + 1 < oldest), or `since` is past the
  // node's newest event (a node whose data dir was replaced): the page starts over from what
  // the node has.
  bool gap = false;
};

}  // namespace jobnet

#endif  // JOBNET_EVENTS_H_
