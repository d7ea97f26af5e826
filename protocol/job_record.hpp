// A job with its full state, and its encoding as a journal record. Records are msgpack maps
// with short keys and a record version, so fields can be added without a migration:
//
// The payload is not part of the job record: it never changes, so the journal stores it once,
// under its own key, when the job is first written (journal.hpp).
//
//   job_record   := map { "v": 1, "seq": uint, "id": str, "spec": map, "state": uint,
//                         "att": uint, "ca": uint, "sa": uint, "fa": uint, "ra": uint,
//                         "res": any, "err": str, "ord": uint, "nev": uint }
//   event_record := map { "v": 1, "t": uint(ms), "state": uint, "att": uint, "msg": str }
//   queue_record := map { "v": 1, "name": str, "order": uint (0 fifo, 1 lifo), "conc": uint,
//                         "rate": uint, "w": uint, "paused": uint (0|1), "ua": uint(ms),
//                         "orig": str }
//
// docs/journal.md mirrors this grammar.
#ifndef JOBNET_PROTOCOL_JOB_RECORD_HPP_
#define JOBNET_PROTOCOL_JOB_RECORD_HPP_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "jobnet/status.h"
#include "protocol/messages.hpp"

namespace jobnet::protocol {

struct Job {
  uint64_t seq = 0;          // per-node sequence; the id is "<node>-<seq>"
  std::string id;
  JobSpec spec;              // as submitted (delay_ms resolved into run_at_ms)
  JobState state = JobState::kQueued;
  uint32_t attempts = 0;     // runs started so far
  uint64_t created_at_ms = 0;
  uint64_t started_at_ms = 0;
  uint64_t finished_at_ms = 0;
  uint64_t run_at_ms = 0;    // when a delayed job becomes eligible
  std::string result = MsgpackNil();
  std::string error;
  uint64_t order = 0;        // enqueue order, for FIFO among equal priorities
  uint32_t events = 0;       // history events journaled so far (next event number)
  // In memory only (not journaled): when it last became ready, for priority aging in its
  // queue (core/queue_set.hpp). Recovery sets it to the time of the restart.
  uint64_t ready_at_ms = 0;

  JobInfo Info() const;
};

// One state change in a job's history, for `jobnet journal show`.
struct JobEvent {
  uint64_t at_ms = 0;
  JobState state = JobState::kQueued;
  uint32_t attempt = 0;
  std::string message;
};

// The journal write for one job: the job as it now is, and the events (numbered per job) that
// explain how it got there since its last write.
struct JobWrite {
  Job job;
  std::vector<std::pair<uint32_t, JobEvent>> events;
};

// Encodes everything but job.spec.payload.
std::string EncodeJobRecord(const Job& job);
// Decodes a record; spec.payload is left nil (the journal joins it from its own key).
Result<Job> DecodeJobRecord(const std::string& bytes);
std::string EncodeEventRecord(const JobEvent& ev);
Result<JobEvent> DecodeEventRecord(const std::string& bytes);
// A queue's settings (journal key "q:" + name).
std::string EncodeQueueRecord(const QueueSettings& q);
// kCorruption for a record that does not decode or whose settings are out of bounds.
Result<QueueSettings> DecodeQueueRecord(const std::string& bytes);

}  // namespace jobnet::protocol

#endif  // JOBNET_PROTOCOL_JOB_RECORD_HPP_
