// Run outcomes on their way from the worker threads to the scheduler actor. Workers that
// finish while the scheduler is busy share one wake-up of it and one state-machine step.
#ifndef JOBNET_ACTORS_OUTCOME_BOX_HPP_
#define JOBNET_ACTORS_OUTCOME_BOX_HPP_

#include <mutex>
#include <utility>
#include <vector>

#include "core/scheduler_core.hpp"

namespace jobnet::actors {

// Bounded by the worker slots: a slot's next run starts only after the scheduler took its
// outcome.
class OutcomeBox {
 public:
  // Leaves `o` for the scheduler. True if the box was empty, i.e. the caller must tell the
  // scheduler (one done_atom); otherwise a done_atom is already on its way.
  bool Put(sched::Outcome o) {
    std::lock_guard<std::mutex> lock(mu_);
    outcomes_.push_back(std::move(o));
    return outcomes_.size() == 1;
  }
  // Everything left so far, in the order it was put.
  std::vector<sched::Outcome> TakeAll() {
    std::vector<sched::Outcome> out;
    std::lock_guard<std::mutex> lock(mu_);
    out.swap(outcomes_);
    return out;
  }

 private:
  std::mutex mu_;
  std::vector<sched::Outcome> outcomes_;  // guarded by mu_
};

}  // namespace jobnet::actors

#endif  // JOBNET_ACTORS_OUTCOME_BOX_HPP_
