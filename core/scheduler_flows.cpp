// Flows (docs/protocol.md §23): a graph of jobs with local names, submitted in one request and
// accepted whole or not at all. Part of class Scheduler (scheduler_core.hpp); the dependencies
// it makes are core/scheduler_deps.cpp's.
#include <map>
#include <set>

#include "core/scheduler_core.hpp"

#include "base/check.hpp"

namespace jobnet::sched {
namespace {

Status InFlow(const FlowJob& j, const Status& s) {
  return Status(s.code(), "job '" + j.name + "': " + s.message());
}

// The jobs in an order where each comes after every job it names in `after` (Kahn's, stable:
// among jobs ready together, the submitted order). kInvalidArgument for an unknown name, a
// name twice or a cycle.
Result<std::vector<size_t>> Order(const std::vector<FlowJob>& jobs) {
  std::map<std::string, size_t> index;
  for (size_t i = 0; i < jobs.size(); ++i) {
    const FlowJob& j = jobs[i];
    if (!protocol::IsValidName(j.name, limits::kTypeNameBytesMax))
      return Status::InvalidArgument("a flow's job name must match " +
                                     protocol::NamePattern(limits::kTypeNameBytesMax) + ", not '" +
                                     j.name.substr(0, 80) + "'");
    if (!index.emplace(j.name, i).second)
      return Status::InvalidArgument("the flow names job '" + j.name + "' twice");
  }
  std::vector<std::vector<size_t>> children(jobs.size());
  std::vector<size_t> parents(jobs.size(), 0);
  for (size_t i = 0; i < jobs.size(); ++i) {
    std::set<std::string> seen;
    for (const std::string& name : jobs[i].after) {
      auto it = index.find(name);
      if (it == index.end())
        return InFlow(jobs[i], Status::InvalidArgument("after names '" + name.substr(0, 80) +
                                                       "', no job of this flow"));
      if (!seen.insert(name).second)
        return InFlow(jobs[i], Status::InvalidArgument("after names '" + name + "' twice"));
      children[it->second].push_back(i);
      parents[i]++;
    }
  }
  std::set<size_t> ready;
  for (size_t i = 0; i < jobs.size(); ++i)
    if (parents[i] == 0) ready.insert(i);
  std::vector<size_t> order;
  while (!ready.empty()) {
    size_t i = *ready.begin();
    ready.erase(ready.begin());
    order.push_back(i);
    for (size_t c : children[i])
      if (--parents[c] == 0) ready.insert(c);
  }
  if (order.size() != jobs.size()) {
    for (size_t i = 0; i < jobs.size(); ++i)
      if (parents[i] != 0)
        return Status::InvalidArgument("the flow's after names form a cycle through '" +
                                       jobs[i].name + "'");
  }
  return order;
}

}  // namespace

void Scheduler::SubmitFlow(ReplyToken t, protocol::SubmitFlowRequest req, Now now) {
  std::vector<FlowJob>& jobs = req.jobs;
  if (jobs.empty() || jobs.size() > limits::kFlowJobsMax)
    return Error(t, Status::InvalidArgument("a flow has 1.." +
                                            std::to_string(limits::kFlowJobsMax) + " jobs"));
  auto order = Order(jobs);
  if (!order.ok()) return Error(t, order.status());
  // Every check first: once the first job is made, every other one must be made too.
  uint64_t bytes = 0;
  std::set<std::string> new_queues;
  size_t callbacks = 0;
  for (const FlowJob& j : jobs) {
    const JobSpec& spec = j.spec;
    if (!spec.key.empty() || spec.reuse)
      return Error(t, InFlow(j, Status::InvalidArgument(
                                    "a flow's jobs take no idempotency key and no reuse")));
    if (!spec.flow.empty() || !spec.flow_name.empty()) return Error(t, InFlow(j, NodeSetsFlow()));
    if (spec.depends_on.size() + j.after.size() > limits::kParentsMax)
      return Error(t, InFlow(j, Status::TooLarge("it waits for more than " +
                                                 std::to_string(limits::kParentsMax) +
                                                 " jobs")));
    Status s = CheckSpec(spec);
    if (s.ok() && spec.run_at_ms > now.wall_ms + limits::kDelayMsMax)
      s = Status::InvalidArgument("run_at_ms is more than a year ahead");
    if (s.ok()) s = CheckParents(spec);  // the ids it names besides the flow's own jobs
    if (!s.ok()) return Error(t, InFlow(j, s));
    bytes += spec.payload.size();
    if (queue_depth_.count(spec.queue) == 0) new_queues.insert(spec.queue);
    if (!spec.callback.empty()) callbacks++;
  }
  if (live_jobs_ + jobs.size() > opt_.jobs_live_max)
    return Error(t, Status::Overloaded("node holds " + std::to_string(live_jobs_) +
                                       " unfinished jobs; a flow of " +
                                       std::to_string(jobs.size()) + " would pass its limit"));
  if (held_bytes_ + bytes > opt_.held_bytes_max) Purge(now);
  if (held_bytes_ + bytes > opt_.held_bytes_max)
    return Error(t, Status::Overloaded("node holds " + std::to_string(held_bytes_) +
                                       " bytes of payloads and results, its limit is " +
                                       std::to_string(opt_.held_bytes_max)));
  if (queue_depth_.size() + new_queues.size() > limits::kQueuesMax)
    return Error(t, Status::Overloaded("too many queues with waiting jobs"));
  if (callbacks > 0 && callbacks_pending() + callbacks > opt_.callbacks.pending_max)
    return Error(t, Status::Overloaded("node has " + std::to_string(callbacks_pending()) +
                                       " callback deliveries pending, its limit"));

  // Then every job, parents first, with consecutive ids: the first one's id names the flow.
  protocol::FlowAcceptedReply reply;
  reply.flow.flow = protocol::MakeJobId(opt_.node_id, next_seq_);
  for (size_t i : order.value()) {
    FlowJob& j = jobs[i];
    for (const std::string& name : j.after) j.spec.depends_on.push_back(reply.flow.ids.at(name));
    j.spec.flow = reply.flow.flow;
    j.spec.flow_name = j.name;
    auto r = Admit(std::move(j.spec), now);
    // Admit's checks are the ones above; a flow job it refused now would break the promise
    // that a flow is whole.
    JOBNET_CHECK_MSG(r.ok() && !r.value().duplicate, "a checked flow job was refused");
    reply.flow.ids[j.name] = r.value().id;
  }
  counters_[Counter::kFlowsSubmitted]++;
  fx_.replies.push_back(Reply{t, std::move(reply)});
  DispatchReady(now);
}

}  // namespace jobnet::sched
