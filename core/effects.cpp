// Effects: see effects.hpp.
#include "core/effects.hpp"

#include <iterator>
#include <utility>

namespace jobnet::sched {

template <class T>
static void MoveAppend(std::vector<T>* into, std::vector<T>* from) {
  if (into->empty()) {
    *into = std::move(*from);
  } else {
    into->insert(into->end(), std::make_move_iterator(from->begin()),
                 std::make_move_iterator(from->end()));
  }
  from->clear();
}

void Effects::Append(Effects&& later) {
  MoveAppend(&writes, &later.writes);
  MoveAppend(&deletes, &later.deletes);
  MoveAppend(&schedule_writes, &later.schedule_writes);
  if (later.next_seq != 0) next_seq = later.next_seq;
  if (later.workers != 0) {
    workers = later.workers;
    configured_workers = later.configured_workers;
  }
  MoveAppend(&replies, &later.replies);
  MoveAppend(&dispatches, &later.dispatches);
  MoveAppend(&cancels, &later.cancels);
  MoveAppend(&peer_sends, &later.peer_sends);
  MoveAppend(&notes, &later.notes);
  MoveAppend(&liveness, &later.liveness);
  MoveAppend(&queue_writes, &later.queue_writes);
  MoveAppend(&callback_sends, &later.callback_sends);
}

}  // namespace jobnet::sched
