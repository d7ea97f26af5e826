// Dependencies (docs/architecture.md "Dependencies"): a job submitted with depends_on waits in
// state `waiting` until each parent has succeeded, then queues; a parent that ends dead, failed
// or cancelled cancels it (or counts as done, with on_parent_failure "run"). Parents of this
// node are linked in memory (children_, rebuilt at recovery from the children's specs); parents
// on peers are watched with parent_watch and answered with parent_done (docs/cluster.md
// "Dependencies"). Part of class Scheduler (scheduler_core.hpp).
#include "core/scheduler_core.hpp"

#include <algorithm>

#include "base/check.hpp"
#include "protocol/fields.hpp"

namespace jobnet::sched {
namespace {

// A parent's error as its children's errors quote it: cut (at a character) so that a chain of
// cancellations does not grow each child's error by all of its ancestors' (10,000 deep would
// be gigabytes).
std::string Quoted(const std::string& error) {
  constexpr size_t kMax = 160;
  if (error.size() <= kMax) return error;
  size_t cut = kMax;
  while (cut > 0 && (static_cast<unsigned char>(error[cut]) & 0xC0) == 0x80) --cut;
  return error.substr(0, cut) + "...";
}

}  // namespace

Status Scheduler::CheckParents(const JobSpec& spec) const {
  for (const std::string& id : spec.depends_on) {
    auto parsed = protocol::ParseJobId(id);  // Validate checked the ids
    if (!parsed.ok()) return parsed.status();
    const protocol::ParsedJobId& p = parsed.value();
    if (p.node == opt_.node_id) {
      const Job* parent = jobs_.Find(p.seq);
      if (parent == nullptr || parent->id != id)
        return Status::NotFound("parent job " + id +
                                " does not exist (or was purged by retention)");
      continue;
    }
    if (peers_.FindLink(p.node) < 0)
      return Status::NotFound("parent job " + id + " is owned by node " + p.node +
                              ", which is not a peer of node " + opt_.node_id);
  }
  return Status::OK();
}

uint32_t Scheduler::LinkParents(Job& job, std::string* failed) {
  uint32_t waiting = 0;
  if (job.rare.has()) job.rare.mut().parent_results.clear();  // gathered again here
  const bool run_anyway = job.spec.run_on_parent_failure();
  for (const std::string& id : job.spec.depends_on()) {
    auto parsed = protocol::ParseJobId(id);
    if (!parsed.ok()) {  // a journal record names a job id no node makes: treated as gone
      if (failed->empty() && !run_anyway) *failed = "parent job " + id + " is not a job id";
      continue;
    }
    if (parsed.value().node != opt_.node_id) {
      auto& kids = remote_children_[id];
      if (kids.empty()) new_watches_[parsed.value().node].push_back(id);  // asked in this turn
      kids.push_back(job.seq);
      waiting++;
      continue;
    }
    const Job* parent = jobs_.Find(parsed.value().seq);
    if (parent == nullptr || parent->id != id) {
      // Purged while the child waited cannot happen (its end released the child in the same
      // write); a journal that lost it can. Gone counts as a failure.
      if (failed->empty() && !run_anyway)
        *failed = "parent job " + id + " no longer exists";
      continue;
    }
    if (!protocol::IsFinal(parent->state)) {
      children_[parent->seq].push_back(job.seq);
      waiting++;
    } else if (parent->state == JobState::kSucceeded) {
      job.rare.mut().parent_results.emplace_back(id, SharedResult(*parent));
    } else if (!run_anyway && failed->empty()) {
      *failed = "parent job " + id + " ended " + protocol::JobStateName(parent->state) +
                (parent->error().empty() ? "" : ": " + Quoted(parent->error()));
    }
  }
  return waiting;
}

void Scheduler::CancelForParent(Job& job, const std::string& why, Now now) {
  counters_[Counter::kDependentsCancelled]++;
  CancelJob(job, now, "cancelled: " + why, why);
}

void Scheduler::ReleaseChild(Job& job, Now now) {
  parents_waiting_.erase(job.seq);
  if (job.rare.has() && !job.rare.get().parent_results.empty()) {
    // In depends_on order, whatever order the parents ended in; all of it must travel with the
    // run (a peer's remote_run, an external worker's poll) beside the payload.
    auto& results = job.rare.mut().parent_results;
    const auto& order = job.spec.depends_on();
    std::stable_sort(results.begin(), results.end(), [&order](const auto& a, const auto& b) {
      return std::find(order.begin(), order.end(), a.first) <
             std::find(order.begin(), order.end(), b.first);
    });
    uint64_t bytes = job.spec.payload.size();
    for (const auto& [id, result] : results) bytes += id.size() + result->size() + 8;
    if (bytes > limits::kParentResultsBytesMax) {
      const std::string why = "its payload and its parents' results come to " +
                              std::to_string(bytes) + " bytes, over the " +
                              std::to_string(limits::kParentResultsBytesMax) +
                              " a run carries";
      return CancelForParent(job, why, now);
    }
  }
  job.run_at_ms = job.spec.run_at_ms > now.wall_ms ? job.spec.run_at_ms : 0;
  SetState(job, job.run_at_ms != 0 ? JobState::kDelayed : JobState::kQueued, now,
           "parents finished");
  Enqueue(job, now);
  counters_[Counter::kDependentsReleased]++;
}

void Scheduler::ParentEnded(std::vector<uint64_t> children, const std::string& parent,
                            JobState state, bool missing, const std::string& error,
                            const std::string& result, Now now) {
  parent_ends_.push_back(ParentEnd{std::move(children), parent, state, missing, error, result});
  if (ending_parents_) return;  // the loop below, further up the stack, takes it
  ending_parents_ = true;
  while (!parent_ends_.empty()) {
    ParentEnd end = std::move(parent_ends_.front());
    parent_ends_.pop_front();
    const bool ok = !end.missing && end.state == JobState::kSucceeded;
    // One copy for all of its children.
    auto result = std::make_shared<const std::string>(ok ? std::move(end.result) : std::string());
    for (uint64_t seq : end.children) {
      Job* child = jobs_.Find(seq);
      auto pending = parents_waiting_.find(seq);
      // Cancelled (or released by another parent's failure) since it named this parent.
      if (child == nullptr || child->state != JobState::kWaiting || pending == parents_waiting_.end())
        continue;
      if (ok || child->spec.run_on_parent_failure()) {
        if (ok) child->rare.mut().parent_results.emplace_back(end.parent, result);
        if (--pending->second == 0) ReleaseChild(*child, now);
        continue;
      }
      std::string why =
          end.missing ? "parent job " + end.parent + " does not exist"
                      : "parent job " + end.parent + " ended " + protocol::JobStateName(end.state) +
                            (end.error.empty() ? "" : ": " + Quoted(end.error));
      CancelForParent(*child, why, now);  // its own children join the loop
    }
  }
  ending_parents_ = false;
}

void Scheduler::TellChildren(const Job& job, Now now) {
  if (auto w = watchers_.find(job.seq); w != watchers_.end()) {
    protocol::ParentDone done = DoneOf(job.id, &job);
    for (const std::string& node : w->second) {
      int link = peers_.FindLink(node);
      if (link < 0 || !peers_.peer(static_cast<uint32_t>(link)).alive) continue;  // it asks again
      fx_.peer_sends.push_back(PeerSend{static_cast<uint32_t>(link), done});
      counters_[Counter::kParentDonesSent]++;
    }
    watcher_count_ -= w->second.size();
    watchers_.erase(w);
  }
  auto c = children_.find(job.seq);
  if (c == children_.end()) return;
  std::vector<uint64_t> children = std::move(c->second);
  children_.erase(c);
  ParentEnded(std::move(children), job.id, job.state, false, job.error(), job.result(), now);
}

protocol::ParentDone Scheduler::DoneOf(const std::string& id, const Job* job) const {
  protocol::ParentDone d;
  d.node = opt_.node_id;
  d.id = id;
  if (job == nullptr) {
    d.missing = true;
    return d;
  }
  d.state = job->state;
  if (job->state == JobState::kSucceeded) {
    d.result = job->result();
  } else if (protocol::IsFinal(job->state)) {
    d.error = job->error();
  }
  return d;
}

void Scheduler::SendWatches(const std::string& node, Now now) {
  watch_resend_mono_ms_ = node.empty() ? now.mono_ms + limits::kParentWatchResendMs
                                       : watch_resend_mono_ms_;
  std::map<std::string, std::vector<std::string>> by_owner;
  for (auto it = remote_children_.begin(); it != remote_children_.end();) {
    auto& kids = it->second;
    kids.erase(std::remove_if(kids.begin(), kids.end(),
                              [this](uint64_t seq) {
                                const Job* j = jobs_.Find(seq);
                                return j == nullptr || j->state != JobState::kWaiting;
                              }),
               kids.end());
    if (kids.empty()) {
      it = remote_children_.erase(it);
      continue;
    }
    auto parsed = protocol::ParseJobId(it->first);
    if (parsed.ok() && (node.empty() || parsed.value().node == node))
      by_owner[parsed.value().node].push_back(it->first);
    ++it;
  }
  for (const auto& [owner, ids] : by_owner) SendWatchFrames(owner, ids);
}

void Scheduler::SendWatchFrames(const std::string& owner, const std::vector<std::string>& ids) {
  int link = peers_.FindLink(owner);
  if (link < 0 || !peers_.peer(static_cast<uint32_t>(link)).alive) return;  // on its return
  for (size_t i = 0; i < ids.size(); i += limits::kParentWatchPerFrameMax) {
    size_t end = std::min(ids.size(), i + limits::kParentWatchPerFrameMax);
    protocol::ParentWatch w{opt_.node_id, {ids.begin() + i, ids.begin() + end}};
    fx_.peer_sends.push_back(PeerSend{static_cast<uint32_t>(link), std::move(w)});
    counters_[Counter::kParentWatchesSent]++;
  }
}

bool Scheduler::HoldSubmit(ReplyToken t, const protocol::JobSpec& spec, Now now) {
  std::set<std::string> remote;
  for (const std::string& id : spec.depends_on) {
    auto parsed = protocol::ParseJobId(id);
    if (parsed.ok() && parsed.value().node != opt_.node_id) remote.insert(id);
  }
  if (remote.empty()) return false;
  // What needs no answer is checked now (Admit checks it all again on the answer).
  if (!CheckSpec(spec).ok() || !CheckParents(spec).ok()) return false;
  if (held_submits_.size() >= kHeldSubmitsMax) {
    Error(t, Status::Overloaded("node " + opt_.node_id + " holds " +
                                std::to_string(held_submits_.size()) +
                                " submits waiting for their parents' owners"));
    return true;
  }
  std::map<std::string, std::vector<std::string>> by_owner;
  for (const std::string& id : remote) {
    const std::string owner = protocol::ParseJobId(id).value().node;
    const int link = peers_.FindLink(owner);  // known: CheckParents
    if (link < 0 || !peers_.peer(static_cast<uint32_t>(link)).alive) {
      Error(t, Status::Unavailable("node " + owner + ", which owns parent job " + id +
                                   ", is not alive: whether it holds the job cannot be asked"));
      return true;
    }
    by_owner[owner].push_back(id);
  }
  for (const auto& [owner, ids] : by_owner) SendWatchFrames(owner, ids);
  held_submits_.push_back(
      HeldSubmit{t, spec, std::move(remote), now.mono_ms + kParentCheckMs});
  return true;
}

void Scheduler::AnswerHeldSubmits(const protocol::ParentDone& d, Now now) {
  bool admitted = false;
  for (auto it = held_submits_.begin(); it != held_submits_.end();) {
    if (it->unanswered.erase(d.id) == 0) {
      ++it;
      continue;
    }
    if (d.missing) {
      Error(it->token, Status::NotFound("parent job " + d.id + " does not exist on node " +
                                        d.node + " (or was purged by retention)"));
    } else if (it->unanswered.empty()) {
      auto r = Admit(std::move(it->spec), now);
      if (!r.ok()) {
        Error(it->token, r.status());
      } else {
        fx_.replies.push_back(Reply{it->token, std::move(r.value())});
        admitted = true;
      }
    } else {
      ++it;
      continue;
    }
    it = held_submits_.erase(it);
  }
  if (admitted) DispatchReady(now);
}

void Scheduler::ExpireHeldSubmits(Now now) {
  while (!held_submits_.empty() && held_submits_.front().deadline_mono_ms <= now.mono_ms) {
    const HeldSubmit& h = held_submits_.front();
    const std::string& id = *h.unanswered.begin();
    Error(h.token, Status::Unavailable("node " + protocol::ParseJobId(id).value().node +
                                       " did not say within " + std::to_string(kParentCheckMs) +
                                       " ms whether it holds parent job " + id));
    held_submits_.pop_front();
  }
}

void Scheduler::OnParentWatch(const protocol::ParentWatch& w, Now) {
  int link = peers_.FindLink(w.node);
  if (link < 0) return;  // not a peer: nowhere to answer
  for (const std::string& id : w.ids) {
    auto parsed = protocol::ParseJobId(id);
    const Job* job = nullptr;
    if (parsed.ok() && parsed.value().node == opt_.node_id) {
      job = jobs_.Find(parsed.value().seq);
      if (job != nullptr && job->id != id) job = nullptr;
    }
    if (job == nullptr || protocol::IsFinal(job->state)) {
      fx_.peer_sends.push_back(PeerSend{static_cast<uint32_t>(link), DoneOf(id, job)});
      counters_[Counter::kParentDonesSent]++;
      continue;
    }
    // Not final yet: answered when it ends, and the first time a node asks, with the state it
    // is in (a held submit waits for that). Past the bound the peer's next watch asks again.
    if (watcher_count_ >= limits::kParentWatchersMax) {
      fx_.peer_sends.push_back(PeerSend{static_cast<uint32_t>(link), DoneOf(id, job)});
      continue;
    }
    if (watchers_[job->seq].insert(w.node).second) {
      watcher_count_++;
      fx_.peer_sends.push_back(PeerSend{static_cast<uint32_t>(link), DoneOf(id, job)});
      counters_[Counter::kParentDonesSent]++;
    }
  }
}

void Scheduler::OnParentDone(const protocol::ParentDone& d, Now now) {
  auto parsed = protocol::ParseJobId(d.id);
  // Only the parent's owner speaks for it.
  if (!parsed.ok() || parsed.value().node != d.node || d.node == opt_.node_id) return;
  if (!held_submits_.empty()) AnswerHeldSubmits(d, now);
  auto it = remote_children_.find(d.id);
  if (it == remote_children_.end()) return;  // answered already (a watch sent twice)
  if (!d.missing && !protocol::IsFinal(d.state)) return;
  std::vector<uint64_t> children = std::move(it->second);
  remote_children_.erase(it);
  ParentEnded(std::move(children), d.id, d.state, d.missing, d.missing ? "" : d.error,
              d.result, now);
  DispatchReady(now);
}

std::shared_ptr<const std::string> Scheduler::SharedResult(const Job& parent) {
  std::weak_ptr<const std::string>& weak = result_shares_[parent.seq];
  if (auto shared = weak.lock()) return shared;
  auto shared = std::make_shared<const std::string>(parent.result());
  weak = shared;
  return shared;
}

std::string Scheduler::ParentsOf(const Job& job) {
  const auto& results = job.rare.get().parent_results;
  if (results.empty()) return protocol::MsgpackNil();
  msgpack::sbuffer buf;
  protocol::Packer pk(&buf);
  pk.pack_map(static_cast<uint32_t>(results.size()));
  for (const auto& [id, result] : results) {
    protocol::PackStr(pk, id);
    protocol::PackRaw(buf, *result);
  }
  return std::string(buf.data(), buf.size());
}

JobInfo Scheduler::InfoOf(const Job& job) const {
  JobInfo info = job.Info();
  if (job.state == JobState::kWaiting) {
    auto it = parents_waiting_.find(job.seq);
    if (it != parents_waiting_.end()) info.parents_waiting = it->second;
  }
  return info;
}

}  // namespace jobnet::sched
