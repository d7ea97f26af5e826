// The ingress actor: the node's front door for decoded client requests. It remembers each
// request's correlation id, hands the request to the scheduler, and encodes the scheduler's
// answer into a reply frame for the transport. It never touches a socket: replies leave
// through the ReplySink (the transport's thread-safe outbox).
#ifndef JOBNET_ACTORS_INGRESS_HPP_
#define JOBNET_ACTORS_INGRESS_HPP_

#include <functional>
#include <string>

#include <caf/actor_system.hpp>
#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include "actors/blob_service.hpp"
#include "actors/caf_glue.hpp"
#include "actors/events.hpp"
#include "actors/scheduler.hpp"

namespace jobnet::actors {

using ingress_actor =
    caf::typed_actor<caf::reacts_to<inbound_atom, std::vector<protocol::Inbound>>,  // requests
                     caf::reacts_to<reply_atom, uint64_t, protocol::Body>,        // route, answer
                     caf::reacts_to<reply_atom, std::vector<sched::Reply>>>;      // many answers

// Sends encoded reply frames, each to the client behind its route. Must be thread-safe. Replies
// come in groups (all those a group commit released) so the transport is woken once per group.
using ReplySink = std::function<void(std::vector<std::pair<uint64_t, std::string>> frames)>;

// Requests go to the scheduler, except `events` requests, which go to `events`, and blob
// requests (blob_put, blob_get), which go to `blobs`, which answers them itself; without it the
// scheduler refuses them like any kind it does not serve.
ingress_actor SpawnIngress(caf::actor_system& sys, scheduler_actor scheduler, events_actor events,
                           ReplySink sink, blob_actor blobs = {});

}  // namespace jobnet::actors

#endif  // JOBNET_ACTORS_INGRESS_HPP_
