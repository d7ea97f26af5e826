// A worker: a detached actor (its own thread) that runs one job at a time through the handler
// registry and reports the outcome to its scheduler. Handlers may block; CAF's threads never do.
#ifndef JOBNET_ACTORS_WORKER_HPP_
#define JOBNET_ACTORS_WORKER_HPP_

#include <caf/actor.hpp>
#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include "actors/caf_glue.hpp"

namespace jobnet::actors {

using worker_actor = caf::typed_actor<caf::reacts_to<run_atom, WorkItem>>;

// The behavior; spawn it detached. Outcomes go to `report_to` as (done_atom, sched::Outcome).
worker_actor::behavior_type Worker(worker_actor::pointer self, caf::actor report_to);

}  // namespace jobnet::actors

#endif  // JOBNET_ACTORS_WORKER_HPP_
