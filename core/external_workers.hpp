// The external worker processes registered with a node (docs/architecture.md §19): their types,
// capacity and liveness leases, the one poll each may hold, and the runs leased to them. It owns
// no jobs: the Scheduler asks it and carries out what it answers (which poll to answer, which
// runs go back to their queues), as it does with QueueSet. Pure: no clock of its own, no I/O.
#ifndef JOBNET_CORE_EXTERNAL_WORKERS_HPP_
#define JOBNET_CORE_EXTERNAL_WORKERS_HPP_

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/clock.hpp"
#include "protocol/messages.hpp"

namespace jobnet::sched {

class ExternalWorkers {
 public:
  using Token = uint64_t;  // the owner's reply token of a held poll (0: none)

  struct Worker {
    std::string name;
    std::set<std::string> types;
    uint32_t capacity = 1;
    uint64_t lease_ms = 0;
    uint64_t expires_ms = 0;    // silent until then (and no poll held): dropped
    std::set<uint64_t> leases;  // its runs in flight
    Token poll = 0;             // the poll it holds, 0 = none
    uint64_t poll_deadline_ms = 0;
    uint32_t poll_max = 0;
  };
  // A removed worker's leftovers, for the owner to settle.
  struct Removed {
    std::string name;
    Token poll = 0;                                   // to answer empty (0: none held)
    std::vector<std::pair<uint64_t, uint64_t>> runs;  // (lease, seq): back to their queues
  };

  // Worker ids carry `incarnation` in their high 32 bits, so a worker of an earlier start of the
  // node is never mistaken for one of this start.
  explicit ExternalWorkers(uint64_t incarnation) : incarnation_(incarnation) {}

  size_t size() const { return workers_.size(); }
  size_t runs() const { return runs_.size(); }
  // Whether some registered worker serves `type`.
  bool Serves(const std::string& type) const { return types_.count(type) != 0; }

  // Adds a valid request's worker (the caller checked the limit); its id. Its lease runs from now.
  uint64_t Register(const protocol::WorkerRegisterRequest& req, Now now);
  Worker* Find(uint64_t id);
  // Every registered worker, by id (`jobnet workers`).
  const std::map<uint64_t, Worker>& all() const { return workers_; }
  // The worker was heard from: its lease runs from now.
  void Touch(uint64_t id, Now now);
  // The worker holds poll `t` until deadline_ms (steady); returns the poll it replaces, to be
  // answered empty (0: none).
  Token HoldPoll(uint64_t id, Token t, uint64_t deadline_ms, uint32_t max, Now now);
  // Ends the worker's held poll (there must be one) and returns its token, to be answered.
  Token ReleasePoll(uint64_t id, Now now);
  bool AnyPolls() const { return !polling_.empty(); }
  // The workers holding a poll, round robin from the one after the worker served last, so that
  // one worker polling often cannot take every job while others wait.
  std::vector<uint64_t> PollOrder() const;
  // How many jobs a polling worker takes now: its free capacity, at most its poll's max.
  uint32_t Wants(uint64_t id) const;
  // The run `lease` of job `seq` is the worker's now; Served marks whom the round robin served.
  void AddRun(uint64_t id, uint64_t lease, uint64_t seq);
  void Served(uint64_t id) { served_last_ = id; }
  // The job of run `lease` if `worker` holds it.
  std::optional<uint64_t> RunOf(uint64_t worker, uint64_t lease) const;
  // Forgets a run whose lease ended (no-op for a lease that is not an external run).
  void DropRun(uint64_t lease);
  // Removes the worker and gives back what the owner must settle.
  Removed Remove(uint64_t id);

  // Timers, on the steady clock; `mono_ms` 0 judges nothing. The worker whose held poll is due,
  // and the worker silent past its lease (holding no poll).
  std::optional<uint64_t> DuePoll(uint64_t mono_ms) const;
  std::optional<uint64_t> Expired(uint64_t mono_ms) const;
  uint64_t NextDeadlineMs() const;  // UINT64_MAX if none

 private:
  uint64_t incarnation_;
  std::map<uint64_t, Worker> workers_;                // by worker id
  std::map<std::string, uint32_t> types_;             // type -> registered workers serving it
  std::unordered_map<uint64_t, std::pair<uint64_t, uint64_t>> runs_;  // lease -> (worker, seq)
  std::set<std::pair<uint64_t, uint64_t>> expiry_;    // (expires_ms, worker): no poll held
  std::set<std::pair<uint64_t, uint64_t>> polls_;     // (deadline, worker): held polls
  std::set<uint64_t> polling_;                        // workers holding a poll
  uint64_t next_worker_ = 1;
  uint64_t served_last_ = 0;  // round robin among polls
};

}  // namespace jobnet::sched

#endif  // JOBNET_CORE_EXTERNAL_WORKERS_HPP_
