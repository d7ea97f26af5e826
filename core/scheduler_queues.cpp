// The Scheduler's queue settings (docs/architecture.md §14): set here or by a peer, journaled,
// passed on to peers, shown. QueueSet applies them to the ready jobs. Part of class Scheduler
// (scheduler_core.hpp).
#include "core/scheduler_core.hpp"

#include <algorithm>
#include <tuple>

#include "base/check.hpp"

namespace jobnet::sched {

void Scheduler::RecoverQueue(const protocol::QueueSettings& settings, Now now) {
  queues_.Configure(settings, now.mono_ms);
}

void Scheduler::ApplyQueue(const protocol::QueueSettings& q, Now now) {
  queues_.Configure(q, now.mono_ms);
  fx_.queue_writes.push_back(q);
}

void Scheduler::SetQueue(ReplyToken t, const protocol::QueueUpdate& u, Now now) {
  if (Status s = protocol::Validate(u); !s.ok()) return Error(t, s);
  if (!queues_.IsConfigured(u.name) && queues_.configured() >= limits::kQueueSettingsMax)
    return Error(t, Status::Overloaded("node has settings for " +
                                       std::to_string(limits::kQueueSettingsMax) +
                                       " queues, its limit"));
  protocol::QueueSettings q = queues_.SettingsOf(u.name);
  if (u.order) q.order = *u.order;
  if (u.concurrency) q.concurrency = *u.concurrency;
  if (u.rate) q.rate = *u.rate;
  if (u.weight) q.weight = *u.weight;
  if (u.paused) q.paused = *u.paused;
  // Newer than what this node had even if its clock stepped back: the last change here wins.
  // A stamp from beyond the skew is not trusted (it could only hold every later change back),
  // so the sum cannot overflow and the new stamp is one peers accept.
  q.updated_at_ms = std::max(now.wall_ms, TrustedStamp(q.updated_at_ms, now) + 1);
  q.origin = opt_.node_id;
  ApplyQueue(q, now);
  counters_[Counter::kQueueSettingsSet]++;
  // A peer that is down now gets it when it comes back (SyncQueuesTo from OnHeartbeat).
  for (uint32_t i = 0; i < peers_.size(); ++i)
    if (peers_.peer(i).alive) fx_.peer_sends.push_back(PeerSend{i, protocol::QueueSync{opt_.node_id, {q}}});
  fx_.replies.push_back(Reply{t, protocol::QueueListReply{{InfoOf(u.name, now)}}});
  DispatchReady(now);  // a resumed queue or a raised limit may start jobs at once
}

void Scheduler::OnQueueSync(const protocol::QueueSync& sync, Now now) {
  for (const protocol::QueueSettings& q : sync.queues) {
    if (q.updated_at_ms > now.wall_ms + limits::kClockSkewMsMax) {
      // Stamped in the future: it would win over every change for that long. Refused; the
      // sender's clock (or the frame) is wrong.
      counters_[Counter::kQueueSyncFuture]++;
      peers_.NoteRefused([&] {
        return "queue_sync from " + sync.node + " refused: queue " + q.name + " stamped " +
               std::to_string(q.updated_at_ms - now.wall_ms) + " ms in the future";
      });
      continue;
    }
    bool known = queues_.IsConfigured(q.name);
    protocol::QueueSettings cur = queues_.SettingsOf(q.name);
    const uint64_t cur_at = TrustedStamp(cur.updated_at_ms, now);
    // Newest first wins, on every node alike: by updated_at, then by origin node id.
    bool newer = !known || std::tie(q.updated_at_ms, q.origin) > std::tie(cur_at, cur.origin);
    if (!newer || (!known && queues_.configured() >= limits::kQueueSettingsMax)) {
      counters_[Counter::kQueueSyncStale]++;
      continue;
    }
    ApplyQueue(q, now);
    counters_[Counter::kQueueSyncApplied]++;
  }
  DispatchReady(now);
}

void Scheduler::SyncQueuesTo(uint32_t link) {
  std::vector<protocol::QueueSettings> all = queues_.AllConfigured();
  for (size_t i = 0; i < all.size(); i += limits::kQueueSyncPerFrameMax) {
    size_t end = std::min(all.size(), i + limits::kQueueSyncPerFrameMax);
    protocol::QueueSync sync{opt_.node_id, {}};
    sync.queues.assign(std::make_move_iterator(all.begin() + i),
                       std::make_move_iterator(all.begin() + end));
    fx_.peer_sends.push_back(PeerSend{link, std::move(sync)});
  }
}

protocol::QueueInfo Scheduler::InfoOf(const std::string& queue, Now now) const {
  protocol::QueueInfo info;
  info.node = opt_.node_id;
  info.settings = queues_.SettingsOf(queue);
  auto it = queue_states_.find(queue);
  if (it != queue_states_.end()) {
    info.queued = it->second[static_cast<int>(JobState::kQueued)];
    info.delayed = it->second[static_cast<int>(JobState::kDelayed)];
    info.running = it->second[static_cast<int>(JobState::kRunning)];
    info.dead = it->second[static_cast<int>(JobState::kDead)];
  }
  info.oldest_wait_ms = queues_.OldestWaitMs(queue, now.mono_ms);
  return info;
}

std::vector<protocol::QueueInfo> Scheduler::Queues(Now now) const {
  std::set<std::string> names;
  for (const auto& [name, counts] : queue_states_) names.insert(name);
  for (const auto& q : queues_.AllConfigured()) names.insert(q.name);
  std::vector<protocol::QueueInfo> out;
  out.reserve(names.size());
  for (const auto& name : names) out.push_back(InfoOf(name, now));
  return out;
}

void Scheduler::ListQueues(ReplyToken t, Now now) {
  fx_.replies.push_back(Reply{t, protocol::QueueListReply{Queues(now)}});
}

}  // namespace jobnet::sched
