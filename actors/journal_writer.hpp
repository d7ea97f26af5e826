// The journal writer: a detached actor (its own thread) that makes batches durable, so the
// fsync never blocks CAF's scheduler threads. The scheduler sends it one batch at a time and
// collects new records meanwhile: that is the group commit.
#ifndef JOBNET_ACTORS_JOURNAL_WRITER_HPP_
#define JOBNET_ACTORS_JOURNAL_WRITER_HPP_

#include <functional>
#include <memory>

#include <caf/actor_system.hpp>
#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include "actors/caf_glue.hpp"
#include "actors/events.hpp"
#include "storage/journal.hpp"

namespace jobnet::actors {

// A batch acknowledged with kStorageFull (the disk is full) stays with the writer; resume_atom
// writes that same batch again (RocksDB resumes first), so the journal and the scheduler's
// state, which already holds the batch's changes, never part ways.
// tick_atom runs `idle` (when set) between writes, on the writer's thread: the replication
// shipper brings a backup added meanwhile up to date without waiting for the next write.
using journal_writer_actor =
    caf::typed_actor<caf::replies_to<write_atom, JournalBatch>::with<JournalAck>,
                     caf::replies_to<resume_atom>::with<JournalAck>, caf::reacts_to<tick_atom>>;

// Each durable batch's job events go to `events` (when valid) before the batch is acknowledged,
// so a client that saw its request answered finds the events it caused.
journal_writer_actor SpawnJournalWriter(caf::actor_system& sys, std::shared_ptr<Journal> journal,
                                        events_actor events = events_actor{},
                                        std::function<void()> idle = {});

}  // namespace jobnet::actors

#endif  // JOBNET_ACTORS_JOURNAL_WRITER_HPP_
