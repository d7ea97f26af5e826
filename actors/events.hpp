// The events actor: the node's job event stream (core/event_log.hpp) behind the `events`
// request (docs/protocol.md "Job events"). The journal writer publishes each batch's events
// once they are durable; requests come from the ingress and are answered through it, at once
// or when new events arrive (a long poll). Detached: a request for old events reads the
// journal, which must not hold up CAF's scheduler threads.
#ifndef JOBNET_ACTORS_EVENTS_HPP_
#define JOBNET_ACTORS_EVENTS_HPP_

#include <memory>
#include <vector>

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>
#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include "actors/caf_glue.hpp"
#include "storage/journal.hpp"

namespace jobnet::actors {

using events_actor = caf::typed_actor<
    caf::reacts_to<connect_atom, caf::actor>,                          // where replies go
    caf::reacts_to<request_atom, uint64_t, protocol::Body>,            // an events request
    caf::reacts_to<publish_atom, std::vector<protocol::StateEvent>>,  // durable, in seq order
    caf::reacts_to<tick_atom>>;                                        // held requests time out

// Starts at the journal's next event seq: spawn it before the journal writer writes.
events_actor SpawnEvents(caf::actor_system& sys, std::shared_ptr<const Journal> journal);

}  // namespace jobnet::actors

#endif  // JOBNET_ACTORS_EVENTS_HPP_
