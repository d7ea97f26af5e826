// A job with its full state, and its encoding as a journal record. Records are msgpack maps
// with short keys and a record version, so fields can be added without a migration:
//
// The payload is not part of the job record: it never changes, so the journal stores it once,
// under its own key, when the job is first written (journal.hpp).
//
//   job_record   := map { "v": 2, "seq": uint, "id": str, "spec": map, "state": uint,
//                         "att": uint, "ca": uint, "sa": uint, "fa": uint, "ra": uint,
//                         "res": any, "err": str, "ord": uint, "nev": uint,
//                         ["rk": bin(32)], ["rf": str], ["ls": uint] }
//     rk: the content key of a job submitted with reuse that runs (result reuse);
//     rf: the job whose result a reuse submit copied (it never ran);
//     ls: the lease of the job's current (or last) run: the one run whose result it takes.
//     spec: the wire's job spec map (descriptions.hpp JobSpecFields) without "payload". Version
//     1 records spelled it with their own keys (prio, max, backoff, timeout, run_at, cb), still
//     read (docs/journal.md §2).
//   event_record := map { "v": 1, "t": uint(ms), "state": uint, "att": uint, "msg": str,
//                         ["node": str], ["err": str] }
//     node: on an event into `running`, the node that runs the attempt;
//     err:  on an event that ends a failed attempt, the attempt's error.
//   (Both optional: records written before them read as empty, docs/journal.md.)
//   schedule_record := map { "v": 2, "name": str, "cron": str, "every": uint,
//                            "spec": map (the wire's job spec, with "payload"),
//                            "an": uint, "from": uint, "paused": bool, "lf": uint, "lj": str,
//                            "fires": uint }
//   callback_record := map { "v": 1, "id": str, "state": uint, "att": uint, "next": uint(ms),
//                            "last": uint(ms), "err": str }
//     the delivery of a job's callback (CallbackDelivery), under "c:" + seq; the URL is in the
//     job's spec ("cb", left out when empty).
//   stream_record := map { "v": 1, "ev": [stream_event, ...] (1..kStreamRecordEventsMax) }
//   stream_event  := map { "id": str, "state": uint, "q": str, "type": str, "t": uint(ms),
//                          "att": uint, ["node": str], ["err": str], ["pr": uint, "pm": str] }
//     Consecutive entries of the node-wide event stream (jobnet/events.h StateEvent); the key
//     holds the first one's seq, the i-th has that + i. pr/pm: a progress report.
//   queue_record := map { "v": 1, "name": str, "order": uint (0 fifo, 1 lifo), "conc": uint,
//                         "rate": uint, "w": uint, "paused": uint (0|1), "ua": uint(ms),
//                         "orig": str }
//
// docs/journal.md mirrors this grammar.
#ifndef JOBNET_PROTOCOL_JOB_RECORD_HPP_
#define JOBNET_PROTOCOL_JOB_RECORD_HPP_

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "jobnet/status.h"
#include "protocol/messages.hpp"
#include "protocol/shared_name.hpp"

namespace jobnet::protocol {

// The delivery of a job's callback for its last final state (docs/http.md "Callbacks"). Made
// pending in the journal batch that makes the job final, so a crash cannot lose it; updated after
// each attempt.
struct CallbackDelivery {
  CallbackState state = CallbackState::kNone;
  // X-Jobnet-Delivery: "<job id>.<event number of the final state>". The same on every retry of
  // this delivery, new for the next final state after a manual retry of the job.
  std::string id;
  uint32_t attempts = 0;     // POSTs tried
  uint64_t next_at_ms = 0;   // the next try while pending
  uint64_t last_at_ms = 0;   // the last try ended (0 = none yet)
  std::string error;         // the last failed try's error, or why it was given up
  // In memory only (not journaled): the next try on the node's steady clock, so a wall step
  // neither hurries nor holds a retry (next_at_ms is the instant it names, journaled).
  uint64_t due_mono_ms = 0;
};

// A value kept out of line and made on first write: a copy copies the value, and an empty one
// reads as a default T. What few jobs use then costs the others one pointer, not its size.
template <typename T>
class OutOfLine {
 public:
  OutOfLine() = default;
  OutOfLine(const OutOfLine& o) : p_(o.p_ ? std::make_unique<T>(*o.p_) : nullptr) {}
  OutOfLine& operator=(const OutOfLine& o) {
    if (this != &o) p_ = o.p_ ? std::make_unique<T>(*o.p_) : nullptr;
    return *this;
  }
  OutOfLine(OutOfLine&&) noexcept = default;
  OutOfLine& operator=(OutOfLine&&) noexcept = default;

  const T& get() const {
    static const T kEmpty{};
    return p_ ? *p_ : kEmpty;
  }
  T& mut() {
    if (!p_) p_ = std::make_unique<T>();
    return *p_;
  }
  bool has() const { return p_ != nullptr; }

 private:
  std::unique_ptr<T> p_;
};

// The parts of a job most jobs never have: a callback delivery, result reuse, progress reports
// and an attempt history (only jobs that ran hold one).
struct JobRare {
  // Its callback's delivery; journaled in its own record ("c:" + seq), not in the job record.
  CallbackDelivery callback;
  // Result reuse (journaled "rk" and "rf", each only when set): the job's content key, the
  // SHA-256 of its type and payload (32 bytes), when it was submitted with reuse and ran (so
  // later reuse submits may find it); and, on a job answered from another's result, that job.
  std::string reuse_key;
  std::string reused_from;
  // The last limits::kAttemptHistoryMax attempts, derived from the job's events (RecordEvent);
  // not part of the job record. history_dropped counts the older ones.
  std::vector<AttemptInfo> history;
  uint32_t history_dropped = 0;
  // In memory only (not journaled): the current run's progress (JobInfo::progress), and when it
  // was last applied, for the rate limit (limits::kProgressIntervalMsMin).
  uint32_t progress = 0;
  std::string progress_message;
  uint64_t progress_at_ms = 0;
  uint64_t progress_event_at_ms = 0;  // the last report sent to the event stream
  // Dependencies: the results of the parents that succeeded, by parent id (journaled "pr" once
  // the job is released; while it waits they are gathered again after a restart). Shared: the
  // thousand children of one parent hold one copy of its result in memory.
  std::vector<std::pair<std::string, std::shared_ptr<const std::string>>> parent_results;
};

// How a job's last run ended: its result (raw msgpack, nil until it succeeds) and its last
// failure's text.
struct JobOutcome {
  std::string result = MsgpackNil();
  std::string error;
};

// The parts of a spec most jobs leave empty.
struct SpecExtra {
  std::string key;
  std::string callback;
  std::string label;
  std::vector<std::string> depends_on;  // JobSpec::depends_on
  bool run_on_parent_failure = false;
  std::string flow;       // JobSpec::flow
  std::string flow_name;  // JobSpec::flow_name
};

// A job's spec as the scheduler holds it: a JobSpec in about a third of its size, as a million
// waiting jobs hold one each. Type and queue are shared names (few distinct ones). The key, callback and label (most jobs have none) are out of line;
// priority (0..kPriorityMax) and max_attempts (1..kMaxAttemptsMax) are narrowed; delay_ms is
// dropped, as the submit has resolved it into run_at_ms (journaled as 0). A JobSpec converts to
// it implicitly (the scheduler and the journal take JobSpecs in); ToJobSpec gives one back.
struct HeldSpec {
  static_assert(limits::kPriorityMax <= UINT8_MAX && limits::kMaxAttemptsMax <= UINT8_MAX,
                "HeldSpec narrows priority and max_attempts to 8 bits");

  HeldSpec() = default;
  HeldSpec(JobSpec s);  // NOLINT(google-explicit-constructor)
  JobSpec ToJobSpec() const;

  const std::string& key() const { return extra.get().key; }
  const std::string& callback() const { return extra.get().callback; }
  const std::string& label() const { return extra.get().label; }
  const std::vector<std::string>& depends_on() const { return extra.get().depends_on; }
  bool run_on_parent_failure() const { return extra.get().run_on_parent_failure; }
  const std::string& flow() const { return extra.get().flow; }
  const std::string& flow_name() const { return extra.get().flow_name; }
  void set_key(std::string k) { SetExtra(&SpecExtra::key, std::move(k)); }
  void set_callback(std::string c) { SetExtra(&SpecExtra::callback, std::move(c)); }
  void set_label(std::string l) { SetExtra(&SpecExtra::label, std::move(l)); }

  SharedName type;
  std::string payload = MsgpackNil();
  SharedName queue = "default";
  uint64_t run_at_ms = 0;
  uint64_t backoff_ms = limits::kBackoffMsDefault;
  uint64_t timeout_ms = limits::kTimeoutMsDefault;
  uint8_t max_attempts = limits::kMaxAttemptsDefault;
  uint8_t priority = 0;
  bool reuse = false;
  OutOfLine<SpecExtra> extra;

 private:
  // An empty value on a spec without extras stays without: no allocation for nothing.
  void SetExtra(std::string SpecExtra::*field, std::string v) {
    if (v.empty() && !extra.has()) return;
    extra.mut().*field = std::move(v);
  }
};

// A job as the scheduler holds it. Kept small (a million waiting jobs are held in memory):
// what few jobs have lives in `rare` and `spec.extra`, out of line.
struct Job {
  uint64_t seq = 0;          // per-node sequence; the id is "<node>-<seq>"
  std::string id;
  HeldSpec spec;             // as submitted (delay_ms resolved into run_at_ms)
  JobState state = JobState::kQueued;
  uint32_t attempts = 0;     // runs started so far
  uint32_t events = 0;       // history events journaled so far (next event number)
  uint64_t created_at_ms = 0;
  uint64_t started_at_ms = 0;
  uint64_t finished_at_ms = 0;
  uint64_t run_at_ms = 0;    // when a delayed job becomes eligible
  uint64_t order = 0;        // enqueue order, for FIFO among equal priorities
  // The lease of its current (or last) run, journaled: a result is applied only to it (its
  // owner's incarnation is in its high 32 bits, core/scheduler_core.hpp). 0: never ran.
  uint64_t lease = 0;
  // In memory only (not journaled), on the node's steady clock (core/clock.hpp): while queued,
  // when it last became ready, for priority aging in its queue (core/queue_set.hpp; recovery
  // sets it to the time of the restart); while delayed by a backoff (attempts > 0), when it is
  // due. A delay the user named is due by run_at_ms, on the wall clock.
  uint64_t ready_at_ms = 0;
  uint64_t run_started_mono_ms = 0;  // in memory only: the current run's start, steady clock
  OutOfLine<JobRare> rare;
  OutOfLine<JobOutcome> outcome;  // only jobs that ran (or were answered) have one

  const std::string& result() const { return outcome.get().result; }  // msgpack, nil if none
  const std::string& error() const { return outcome.get().error; }
  void set_result(std::string r) { outcome.mut().result = std::move(r); }
  void set_error(std::string e) { outcome.mut().error = std::move(e); }
  void clear_error() {
    if (outcome.has()) outcome.mut().error.clear();
  }

  // Without the attempt history (status and list replies stay small unless it is asked for).
  JobInfo Info() const;
};

// One state change in a job's history, for `jobnet journal show`.
struct JobEvent {
  uint64_t at_ms = 0;
  JobState state = JobState::kQueued;
  uint32_t attempt = 0;
  std::string message;
  std::string node;   // into running: the node that runs the attempt
  std::string error;  // ends a failed attempt: its error
};

// Updates job->history with one of its events, in event order: an event into `running` opens
// an attempt (on ev.node, or on `owner` for records that predate the field); the next event
// closes it, with ev.error (or the event's message) unless it succeeded. An attempt that was
// handed back unstarted (the event's attempt number went down: a peer rejected it or never
// acknowledged it) is removed, as it does not count.
void RecordEvent(const JobEvent& ev, const std::string& owner, Job* job);

// The journal write for one job: the job as it now is, and the events (numbered per job) that
// explain how it got there since its last write.
struct JobWrite {
  Job job;
  std::vector<std::pair<uint32_t, JobEvent>> events;
  // Also write job.callback ("c:" + seq) in the same batch. With no events only that record is
  // written: a delivery attempt changes nothing else of the job.
  bool callback = false;
  // Write only a progress report of the running job (job.progress, job.progress_message) to the
  // event stream ("e:"); its job record and history are not touched.
  bool progress = false;
};

// A recurring job and its state, as journaled under "s:" + name (docs/journal.md).
struct Schedule {
  ScheduleSpec spec;           // the job template keeps its payload here
  // An interval ticks at anchor + k * every_ms: the creation, moved to the time of a fire that
  // caught up more than one missed tick.
  uint64_t anchor_ms = 0;
  uint64_t from_ms = 0;        // ticks after this count: the creation, or the last resume
  bool paused = false;
  uint64_t last_fire_ms = 0;   // 0 = never fired
  std::string last_job_id;
  uint64_t fires = 0;          // fires so far; each fire's job key is made from it
};

// The journal write for one schedule: its record as it now is, or its removal.
struct ScheduleWrite {
  std::string name;
  bool remove = false;
  Schedule schedule;  // when !remove
};

std::string EncodeScheduleRecord(const Schedule& s);
Result<Schedule> DecodeScheduleRecord(const std::string& bytes);

// Encodes everything but job.spec.payload.
std::string EncodeJobRecord(const Job& job);
// Decodes a record; spec.payload is left nil (the journal joins it from its own key).
Result<Job> DecodeJobRecord(const std::string& bytes);
std::string EncodeCallbackRecord(const CallbackDelivery& d);
// kCorruption for a record that does not decode or holds an unknown state.
Result<CallbackDelivery> DecodeCallbackRecord(const std::string& bytes);
std::string EncodeEventRecord(const JobEvent& ev);
Result<JobEvent> DecodeEventRecord(const std::string& bytes);
// A run of consecutive events of the node's event stream, 1..limits::kStreamRecordEventsMax
// of them, journaled under "e:" + fixed64(seq of the first): the i-th has seq first + i, so no
// seq is in the record. Decode appends the events to *out; kCorruption (and nothing appended)
// for a record that does not decode, holds no event or too many, or an event without a job.
std::string EncodeStreamRecord(const StateEvent* events, size_t count);
Status DecodeStreamRecord(const std::string& bytes, uint64_t first_seq,
                          std::vector<StateEvent>* out);
// A queue's settings (journal key "q:" + name).
std::string EncodeQueueRecord(const QueueSettings& q);
// kCorruption for a record that does not decode or whose settings are out of bounds.
Result<QueueSettings> DecodeQueueRecord(const std::string& bytes);

}  // namespace jobnet::protocol

#endif  // JOBNET_PROTOCOL_JOB_RECORD_HPP_
