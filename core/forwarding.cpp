// Forwarding state machine; see forwarding.hpp.
#include "core/forwarding.hpp"

#include <type_traits>
#include <variant>

#include "base/check.hpp"
#include "jobnet/limits.h"
#include "protocol/codec.hpp"

namespace jobnet {
namespace {

// The job a request is about, if it is a request that may be forwarded (else nullptr), and how
// long the owner may take beyond the slack (a wait's own timeout).
const std::string* ForwardableJob(const protocol::Body& body, uint64_t* wait_ms) {
  const std::string* id = nullptr;
  std::visit(
      [&](const auto& b) {
        using T = std::decay_t<decltype(b)>;
        if constexpr (std::is_same_v<T, protocol::StatusRequest> ||
                      std::is_same_v<T, protocol::CancelRequest> ||
                      std::is_same_v<T, protocol::RetryRequest>) {
          id = &b.id;
        } else if constexpr (std::is_same_v<T, protocol::WaitRequest>) {
          id = &b.id;
          *wait_ms = b.timeout_ms;
        }
      },
      body);
  return id;
}

}  // namespace

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

Forwarder::Decision Forwarder::Route(uint64_t route, const protocol::Envelope& env,
                                     uint64_t now_ms) {
  Decision d;
  uint64_t wait_ms = 0;
  const std::string* job_id = ForwardableJob(env.body, &wait_ms);
  if (job_id == nullptr || node_id_.empty()) return d;
  auto parsed = protocol::ParseJobId(*job_id);
  if (!parsed.ok() || parsed.value().node == node_id_) return d;
  auto owner = link_of_.find(parsed.value().node);
  if (owner == link_of_.end()) return d;  // never named by a heartbeat: the scheduler says not_found
  const uint32_t link = owner->second;
  if (!peers_[link].alive) {
    counters_.owner_down++;
    d.verdict = Verdict::kAnswered;
    Answer(route, protocol::MakeError(
                      env.corr_id, Status::Unavailable("job " + *job_id + " is owned by node " +
                                                       parsed.value().node +
                                                       ", which is down; its jobs resume when "
                                                       "it restarts")));
    return d;
  }
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

void Forwarder::Unsent(uint64_t forward_id) {
  auto it = pending_.find(forward_id);
  JOBNET_CHECK(it != pending_.end());
  counters_.forwarded--;
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
  Answer(it->second.route, protocol::MakeError(it->second.client_corr, why));
  pending_.erase(it);
}

void Forwarder::Answer(uint64_t route, const protocol::Envelope& env) {
  answers_.push_back(ForwardAnswer{route, protocol::Encode(env)});
}

}  // namespace jobnet
