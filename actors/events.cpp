// Events actor behavior: EventLog driven by the ingress, the journal writer and a timer.
#include "actors/events.hpp"

#include <chrono>

#include <caf/send.hpp>
#include <caf/spawn_options.hpp>
#include <caf/typed_event_based_actor.hpp>
#include <spdlog/spdlog.h>

#include "base/clock.hpp"
#include "core/event_log.hpp"

namespace jobnet::actors {
namespace {

struct EventsState {
  std::unique_ptr<EventLog> log;
  caf::actor ingress;
  static inline const char* name = "jobnet.events";
};

using Self = events_actor::stateful_pointer<EventsState>;

void SendAnswers(Self self, EventLog::Answers& answers) {
  if (answers.empty()) return;
  std::vector<sched::Reply> replies;
  replies.reserve(answers.size());
  for (auto& [token, page] : answers) replies.push_back(sched::Reply{token, std::move(page)});
  caf::anon_send(self->state.ingress, reply_atom_v, std::move(replies));
  answers.clear();
}

events_actor::behavior_type Events(Self self, std::shared_ptr<const Journal> journal,
                                   uint64_t next_seq) {
  EventLog::Reader reader = [journal](uint64_t from, uint64_t to, uint32_t scan_max,
                                      const std::function<bool(protocol::StateEvent&&)>& fn,
                                      uint64_t* covered_to) {
    return journal->ReadEvents(from, to, scan_max, fn, covered_to);
  };
  self->state.log = std::make_unique<EventLog>(
      next_seq, std::move(reader),
      [journal] { return journal->oldest_event_seq(); }, EventLog::Options{});
  return {
      [=](connect_atom, caf::actor ingress) { self->state.ingress = std::move(ingress); },
      [=](request_atom, uint64_t token, protocol::Body& body) {
        auto* q = std::get_if<protocol::EventsRequest>(&body);
        protocol::Body reply;
        if (q == nullptr) {
          reply = protocol::ErrorReply{Code::kInternal, "the events actor got another request"};
        } else {
          protocol::EventPage page;
          bool held = false;
          Status s = self->state.log->Query(token, *q, base::SteadyMs(), &page, &held);
          if (held) {
            // One ms late rather than early: the wait is over when the tick arrives.
            self->delayed_send(self, std::chrono::milliseconds(q->wait_ms + 1), tick_atom_v);
            return;
          }
          if (s.ok()) {
            reply = std::move(page);
          } else {
            if (!s.IsOverloaded()) spdlog::error("events request failed: {}", s.ToString());
            reply = protocol::ErrorReply{s.code(), s.message()};
          }
        }
        caf::anon_send(self->state.ingress, reply_atom_v, token, std::move(reply));
      },
      [=](publish_atom, std::vector<protocol::StateEvent>& events) {
        EventLog::Answers answers;
        self->state.log->Publish(std::move(events), &answers);
        SendAnswers(self, answers);
      },
      [=](tick_atom) {
        EventLog::Answers answers;
        self->state.log->Expire(base::SteadyMs(), &answers);
        SendAnswers(self, answers);
      },
  };
}

}  // namespace

events_actor SpawnEvents(caf::actor_system& sys, std::shared_ptr<const Journal> journal) {
  // Read here, not in the actor's first turn: a detached actor starts on its own thread, after
  // the journal writer may already have made the first batch (recovery's re-queued runs)
  // durable, and the stream would then start past the events that batch publishes.
  const uint64_t next_seq = journal->next_event_seq();
  return sys.spawn<caf::detached>(Events, std::move(journal), next_seq);
}

}  // namespace jobnet::actors
