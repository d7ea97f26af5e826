// Forwarding state machine; see forwarding.hpp.
#include "core/forwarding.hpp"

#include <algorithm>
#include <tuple>
#include <type_traits>
#include <variant>

#include "base/check.hpp"
#include "jobnet/limits.h"
#include "protocol/codec.hpp"

namespace jobnet {

const std::string* ForwardableJob(const protocol::Body& body, uint64_t* wait_ms) {
  const std::string* id = nullptr;
  std::visit(
      [&](const auto& b) {
        using T = std::decay_t<decltype(b)>;
        if constexpr (std::is_same_v<T, protocol::StatusRequest> ||
                      std::is_same_v<T, protocol::CancelRequest> ||
                      std::is_same_v<T, protocol::RetryRequest>) {
          id = &b.id;
        } else if constexpr (std::is_same_v<T, protocol::BlobGetRequest>) {
          if (!b.job.empty()) id = &b.job;  // a result blob is on its job's owner
        } else if constexpr (std::is_same_v<T, protocol::WaitRequest>) {
          id = &b.id;
          *wait_ms = b.timeout_ms;
        } else if constexpr (std::is_same_v<T, protocol::EventsRequest>) {
          // One job's events live on its owner (each node streams the jobs it owns).
          if (!b.job.empty()) {
            id = &b.job;
            *wait_ms = b.wait_ms;
          }
        }
      },
      body);
  return id;
}

Forwarder::Forwarder(std::string node_id, uint32_t link_count)
    : node_id_(std::move(node_id)), peers_(link_count) {}

void Forwarder::SetPeer(uint32_t link, const std::string& node, bool alive) {
  JOBNET_CHECK(link < peers_.size() && !node.empty());
  Peer& p = peers_[link];
  if (!p.node.empty() && p.node != node) {
    auto old = link_of_.find(p.node);
    if (old != link_of_.end() && old->second == link) link_of_.erase(old);
  }
  p.node = node;
  p.alive = alive;
  link_of_[node] = link;
  if (alive) return;
  // The owner will not answer what it was asked: say so now rather than at the deadline.
  for (auto it = pending_.begin(); it != pending_.end();) {
    auto next = std::next(it);
    if (it->second.link == link) {
      counters_.lost_on_death++;
      Fail(it, Status::Unavailable("owner node " + node +
                                   " was declared dead before it answered; its jobs resume "
                                   "when it restarts"));
    }
    it = next;
  }
}

void Forwarder::SetShardHolder(const std::string& shard, const std::string& holder,
                               uint64_t epoch) {
  if (!holder.empty() && holder != shard && epoch > 0 &&
      (taken_at_.size() < kHoldersMax || taken_at_.count(shard)))
    taken_at_[shard] = std::max(taken_at_[shard], epoch);
  if (holder.empty() || holder == shard)
    holders_.erase(shard);  // requests go to the owner named by the id, as without etcd
  else if (holders_.size() < kHoldersMax || holders_.count(shard))
    holders_[shard] = holder;
}

bool Forwarder::FromDeposedOwner(const protocol::RemoteRun& run) {
  if (run.epoch == 0) return false;
  auto it = taken_at_.find(run.owner);
  if (it == taken_at_.end() || it->second <= run.epoch) return false;
  counters_.deposed_runs++;
  return true;
}

Forwarder::Decision Forwarder::Route(uint64_t route, const protocol::Envelope& env,
                                     uint64_t now_ms) {
  Decision d;
  if (const auto* sl = std::get_if<protocol::ScheduleListRequest>(&env.body);
      sl != nullptr && !sl->local && !link_of_.empty())
    return StartGather(route, env, now_ms);
  uint64_t wait_ms = 0;
  const std::string* job_id = ForwardableJob(env.body, &wait_ms);
  if (job_id == nullptr || node_id_.empty()) return d;
  auto parsed = protocol::ParseJobId(*job_id);
  if (!parsed.ok()) return d;
  std::string target = parsed.value().node;
  const auto held = holders_.find(target);
  if (held != holders_.end()) {
    if (held->second == node_id_) return d;  // a shard this node has taken over
    target = held->second;  // the shard's primary since a takeover (this node's own, too)
  } else if (target == node_id_) {
    return d;
  }
  // Answered here, `unavailable`: the job's node (or holder) cannot be asked now.
  auto unavailable = [&](const std::string& why) {
    counters_.owner_down++;
    d.verdict = Verdict::kAnswered;
    Answer(route, protocol::MakeError(env.corr_id, Status::Unavailable("job " + *job_id + why)));
    return d;
  };
  auto owner = link_of_.find(target);
  // Its holder is known but not (yet) reachable from here: never answered from this node,
  // which does not serve the shard.
  if (owner == link_of_.end() && held != holders_.end())
    return unavailable("'s shard is held by " + target +
                       ", not reachable from this node yet; ask again shortly");
  if (owner == link_of_.end()) return d;  // never named by a heartbeat: the scheduler says not_found
  const uint32_t link = owner->second;
  if (!peers_[link].alive)
    return unavailable(" is owned by node " + parsed.value().node +
                       ", which is down; its jobs resume when it restarts");
  const uint64_t id = next_id_++;
  const uint64_t budget_ms = wait_ms + limits::kForwardSlackMs;
  const uint64_t deadline_ms = now_ms + budget_ms;
  pending_.emplace(id, Pending{route, env.corr_id, link, deadline_ms, budget_ms,
                               parsed.value().node});
  deadlines_.emplace(deadline_ms, id);
  protocol::Envelope out = env;
  out.corr_id = id;
  d.verdict = Verdict::kForward;
  d.link = link;
  d.forward_id = id;
  d.frame = protocol::Encode(out);
  counters_.forwarded++;
  return d;
}

Forwarder::Decision Forwarder::StartGather(uint64_t route, const protocol::Envelope& env,
                                           uint64_t now_ms) {
  Decision d;
  d.verdict = Verdict::kGather;
  protocol::Envelope ask = env;
  std::get<protocol::ScheduleListRequest>(ask.body).local = true;
  d.local = ask;
  Gather g;
  g.client_corr = env.corr_id;
  g.waiting = 1;  // this node
  const uint64_t deadline_ms = now_ms + limits::kForwardSlackMs;
  for (uint32_t link = 0; link < peers_.size(); ++link) {
    const Peer& p = peers_[link];
    if (p.node.empty()) continue;  // never heard from: not known to be a node yet
    if (!p.alive) {
      g.merged.unreachable.push_back(p.node);
      continue;
    }
    const uint64_t id = next_id_++;
    pending_.emplace(id, Pending{route, env.corr_id, link, deadline_ms, limits::kForwardSlackMs,
                                 p.node, route});
    deadlines_.emplace(deadline_ms, id);
    ask.corr_id = id;
    d.sends.push_back(Send{link, id, protocol::Encode(ask)});
    g.waiting++;
  }
  gathers_.emplace(route, std::move(g));
  counters_.gathered++;
  return d;
}

bool Forwarder::OnLocalReply(uint64_t route, const std::string& frame) {
  if (gathers_.empty()) return false;  // every reply passes here: keep the common case cheap
  auto it = gathers_.find(route);
  if (it == gathers_.end()) return false;
  uint64_t corr = 0;
  auto env = protocol::Decode(frame.data(), frame.size(), &corr, limits::kReplyFrameBytesMax);
  auto* list = env.ok() ? std::get_if<protocol::ScheduleListReply>(&env.value().body) : nullptr;
  if (list != nullptr) {
    auto& m = it->second.merged.schedules;
    m.insert(m.end(), std::make_move_iterator(list->schedules.begin()),
             std::make_move_iterator(list->schedules.end()));
  } else {
    it->second.local_error = frame;  // this node's own failure is the answer
  }
  GatherPartDone(route);
  return true;
}

void Forwarder::GatherPartDone(uint64_t route) {
  auto it = gathers_.find(route);
  JOBNET_CHECK(it != gathers_.end() && it->second.waiting > 0);
  if (--it->second.waiting > 0) return;
  Gather g = std::move(it->second);
  gathers_.erase(it);
  if (!g.local_error.empty()) {
    answers_.push_back(ForwardAnswer{route, std::move(g.local_error)});
    return;
  }
  auto& m = g.merged.schedules;
  std::sort(m.begin(), m.end(), [](const protocol::ScheduleInfo& a, const protocol::ScheduleInfo& b) {
    return std::tie(a.node, a.name) < std::tie(b.node, b.name);
  });
  std::sort(g.merged.unreachable.begin(), g.merged.unreachable.end());
  Answer(route, protocol::Envelope{limits::kProtocolVersion, g.client_corr, std::move(g.merged)});
}

void Forwarder::Unsent(uint64_t forward_id) {
  auto it = pending_.find(forward_id);
  JOBNET_CHECK(it != pending_.end());
  if (it->second.gather_route == 0) counters_.forwarded--;  // a gather's parts are not counted there
  counters_.unsent++;
  Fail(it, Status::Unavailable("cannot reach owner node " + it->second.owner));
}

void Forwarder::OnReply(const char* data, size_t size) {
  uint64_t corr = 0;
  auto env = protocol::Decode(data, size, &corr, limits::kReplyFrameBytesMax);
  auto it = pending_.find(corr);
  if (it == pending_.end()) {
    counters_.unmatched_replies++;
    return;
  }
  if (!env.ok()) return Fail(it, env.status());
  Pending p = std::move(it->second);
  deadlines_.erase({p.deadline_ms, corr});
  pending_.erase(it);
  if (p.gather_route != 0) {
    // An error (an older peer that does not know schedule_list) leaves its node unlisted.
    auto* list = std::get_if<protocol::ScheduleListReply>(&env.value().body);
    Gather& g = gathers_.at(p.gather_route);
    if (list != nullptr) {
      g.merged.schedules.insert(g.merged.schedules.end(),
                                std::make_move_iterator(list->schedules.begin()),
                                std::make_move_iterator(list->schedules.end()));
    } else {
      g.merged.unreachable.push_back(p.owner);
    }
    return GatherPartDone(p.gather_route);
  }
  env.value().corr_id = p.client_corr;
  Answer(p.route, env.value());
}

void Forwarder::Expire(uint64_t now_ms) {
  while (!deadlines_.empty() && deadlines_.begin()->first <= now_ms) {
    auto it = pending_.find(deadlines_.begin()->second);
    JOBNET_CHECK(it != pending_.end());
    counters_.expired++;
    Fail(it, Status::Unavailable("the job's owner node " + it->second.owner +
                                 " did not answer within " +
                                 std::to_string(it->second.budget_ms) + " ms"));
  }
}

std::vector<ForwardAnswer> Forwarder::TakeAnswers() {
  std::vector<ForwardAnswer> out;
  out.swap(answers_);
  return out;
}

void Forwarder::Fail(std::unordered_map<uint64_t, Pending>::iterator it, const Status& why) {
  deadlines_.erase({it->second.deadline_ms, it->first});
  if (it->second.gather_route != 0) {
    const uint64_t route = it->second.gather_route;
    gathers_.at(route).merged.unreachable.push_back(it->second.owner);
    pending_.erase(it);
    return GatherPartDone(route);
  }
  Answer(it->second.route, protocol::MakeError(it->second.client_corr, why));
  pending_.erase(it);
}

void Forwarder::Answer(uint64_t route, const protocol::Envelope& env) {
  answers_.push_back(ForwardAnswer{route, protocol::Encode(env)});
}

}  // namespace jobnet
