// A worker: a thread of its own that runs one job at a time through the handler registry and
// reports each outcome to its scheduler. Handlers may block; CAF's threads never do.
// A plain thread rather than a detached actor: handing it a run costs one wake-up. CAF 0.17
// wakes a detached actor by signalling its condition variable while holding the mutex, so the
// woken thread first blocks on that mutex and has to be woken a second time (perf: a tenth of
// the scheduler's thread, one dispatch per job).
#ifndef JOBNET_ACTORS_WORKER_HPP_
#define JOBNET_ACTORS_WORKER_HPP_

#include <condition_variable>
#include <mutex>
#include <optional>
#include <thread>

#include <caf/actor.hpp>

#include "actors/caf_glue.hpp"
#include "actors/outcome_box.hpp"

namespace jobnet::actors {

class Worker {
 public:
  // Starts the thread. Outcomes go into `outcomes`; one that finds it empty also sends
  // `report_to` a done_atom, which stands for all that follow until they are taken.
  Worker(caf::actor report_to, std::shared_ptr<OutcomeBox> outcomes);
  // Lets the run in progress finish (its cancel flag is the caller's to set), then stops.
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  // Hands over the slot's next run. The scheduler gives a slot a run only while it is free, so
  // at most one waits here.
  void Run(WorkItem item);

 private:
  void Loop();

  caf::actor report_to_;
  std::shared_ptr<OutcomeBox> outcomes_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::optional<WorkItem> next_;  // guarded by mu_
  bool stop_ = false;             // guarded by mu_
  std::thread thread_;
};

}  // namespace jobnet::actors

#endif  // JOBNET_ACTORS_WORKER_HPP_
