// Journal writer behavior: one synced WriteBatch per request.
#include "actors/journal_writer.hpp"

#include <optional>

#include <caf/send.hpp>
#include <caf/typed_event_based_actor.hpp>
#include <caf/spawn_options.hpp>

#include "base/check.hpp"
#include "base/clock.hpp"

namespace jobnet::actors {
namespace {

struct JournalWriterState {
  std::shared_ptr<Journal> journal;
  std::optional<JournalBatch> held;  // refused for want of space; written again on resume
  events_actor events;
  static inline const char* name = "jobnet.journal";
};

JournalAck WriteBatch(Journal& journal, const JournalBatch& b, const events_actor& events) {
  const uint64_t start_us = base::SteadyUs();
  std::vector<protocol::StateEvent> published;
  Status s = journal.Write(b.writes, b.deletes, b.next_seq, b.pool, b.schedules, b.queues,
                           events ? &published : nullptr);
  if (s.ok() && !published.empty()) caf::anon_send(events, publish_atom_v, std::move(published));
  const uint64_t end_us = base::SteadyUs();
  uint64_t records = b.writes.size() + b.deletes.size() + (b.next_seq ? 1 : 0) +
                     (b.pool.workers ? 1 : 0) + b.schedules.size() + b.queues.size();
  return JournalAck{s.code(),  s.message(), records, end_us - start_us,
                    start_us,  end_us,      journal.stats().last_sync_us};
}

journal_writer_actor::behavior_type JournalWriter(
    journal_writer_actor::stateful_pointer<JournalWriterState> self, std::shared_ptr<Journal> j,
    events_actor events, std::function<void()> idle) {
  self->state.journal = std::move(j);
  self->state.events = std::move(events);
  return {
      [=](write_atom, JournalBatch& b) -> JournalAck {
        JOBNET_CHECK(!self->state.held);  // the scheduler sends nothing new while one is held
        JournalAck ack = WriteBatch(*self->state.journal, b, self->state.events);
        if (ack.code == Code::kStorageFull) self->state.held = std::move(b);
        return ack;
      },
      [=](resume_atom) -> JournalAck {
        JOBNET_CHECK(self->state.held);
        JournalAck ack = WriteBatch(*self->state.journal, *self->state.held, self->state.events);
        if (ack.code != Code::kStorageFull) self->state.held.reset();
        return ack;
      },
      [=](tick_atom) {
        if (idle && !self->state.held) idle();
      },
  };
}

}  // namespace

journal_writer_actor SpawnJournalWriter(caf::actor_system& sys, std::shared_ptr<Journal> journal,
                                        events_actor events, std::function<void()> idle) {
  return sys.spawn<caf::detached>(JournalWriter, std::move(journal), std::move(events),
                                  std::move(idle));
}

}  // namespace jobnet::actors
