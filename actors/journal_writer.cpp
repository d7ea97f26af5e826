// Journal writer behavior: one synced WriteBatch per request.
#include "actors/journal_writer.hpp"

#include <chrono>

#include <caf/typed_event_based_actor.hpp>
#include <caf/spawn_options.hpp>

namespace jobnet::actors {
namespace {

struct JournalWriterState {
  std::shared_ptr<Journal> journal;
  static inline const char* name = "jobnet.journal";
};

journal_writer_actor::behavior_type JournalWriter(
    journal_writer_actor::stateful_pointer<JournalWriterState> self, std::shared_ptr<Journal> j) {
  self->state.journal = std::move(j);
  return {
      [=](write_atom, const JournalBatch& b) -> JournalAck {
        auto t0 = std::chrono::steady_clock::now();
        Status s = self->state.journal->Write(b.writes, b.deletes, b.next_seq);
        auto us = std::chrono::duration_cast<std::chrono::microseconds>(
                      std::chrono::steady_clock::now() - t0)
                      .count();
        uint64_t records = b.writes.size() + b.deletes.size() + (b.next_seq ? 1 : 0);
        return JournalAck{s.code(), s.message(), records, static_cast<uint64_t>(us)};
      },
  };
}

}  // namespace

journal_writer_actor SpawnJournalWriter(caf::actor_system& sys, std::shared_ptr<Journal> journal) {
  return sys.spawn<caf::detached>(JournalWriter, std::move(journal));
}

}  // namespace jobnet::actors
