// The blob service actor: serves blob_put and blob_get from clients and sweeps blobs no job
// refers to. It runs detached (a thread of its own), because its requests wait for disk: a
// synced 1 MiB chunk must not hold up the scheduler's or the ingress's CAF threads. It encodes
// its answers itself and hands them to the transport's outbox (the ingress's ReplySink).
#ifndef JOBNET_ACTORS_BLOB_SERVICE_HPP_
#define JOBNET_ACTORS_BLOB_SERVICE_HPP_

#include <memory>

#include <caf/actor_system.hpp>
#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include "actors/caf_glue.hpp"
#include "core/blob_refs.hpp"
#include "storage/blob_store.hpp"

namespace jobnet::actors {

using blob_actor =
    caf::typed_actor<caf::reacts_to<inbound_atom, uint64_t, protocol::Envelope>,  // route, request
                     caf::reacts_to<tick_atom>>;                                  // sweep

// Sends encoded reply frames (route, frame); thread-safe (as the ingress's ReplySink).
using BlobReplySink = std::function<void(std::vector<std::pair<uint64_t, std::string>> frames)>;

// Sweeps every `sweep_ms` (0: never; tests sweep by hand through the store).
blob_actor SpawnBlobService(caf::actor_system& sys, std::shared_ptr<BlobStore> store,
                            std::shared_ptr<sched::BlobRefs> refs, BlobReplySink sink,
                            uint64_t sweep_ms);

}  // namespace jobnet::actors

#endif  // JOBNET_ACTORS_BLOB_SERVICE_HPP_
