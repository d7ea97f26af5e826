// Worker thread: run the handler, report the outcome (also for failures and exceptions).
#include "actors/worker.hpp"

#include <memory>
#include <utility>

#include <caf/send.hpp>

#include "base/check.hpp"

namespace jobnet::actors {
namespace {

void RunOne(const WorkItem& item, const caf::actor& report_to, OutcomeBox& outcomes) {
  const sched::Dispatch& d = item.dispatch;
  handlers::HandlerContext ctx;
  ctx.job_id = d.id;
  ctx.attempt = d.attempt;
  ctx.deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(d.timeout_ms);
  ctx.cancelled = item.cancelled.get();
  ctx.config = item.config.get();
  ctx.blobs = item.config ? item.config->blobs : nullptr;
  ctx.parents = d.parents;
  // A peer's job (seq 0) reads its inputs from, and leaves its result on, its owner.
  std::unique_ptr<protocol::BlobAccess> hosted;
  if (d.seq == 0 && ctx.blobs && item.config->hosted_blobs) {
    hosted = item.config->hosted_blobs(d.id);
    ctx.blobs = hosted.get();
  }
  // Progress goes to the scheduler, which keeps it if this run is still the job's current
  // one (a peer's job, seq 0, keeps none: its owner does not hear of it).
  if (d.seq != 0)
    ctx.progress_sink = [report_to, seq = d.seq, lease = d.lease](uint32_t pct,
                                                                 std::string message) {
      caf::anon_send(report_to, progress_atom_v, seq, lease, pct, std::move(message));
    };
  // This node's own jobs (seq != 0; a peer's job runs with seq 0) are marked while they
  // run, so a crash during the run still counts the attempt (storage/run_marks.hpp).
  const bool marked = item.marks != nullptr && d.seq != 0;
  if (marked) item.marks->Mark(d.slot, d.seq, d.attempt);
  handlers::HandlerResult r = handlers::Run(d.type, d.payload, ctx);
  if (marked) item.marks->Clear(d.slot);
  sched::Outcome o;
  o.slot = d.slot;
  o.lease = d.lease;
  o.seq = d.seq;
  o.ok = r.ok;
  o.result = std::move(r.result);
  o.error = std::move(r.error);
  // A handler that stops at its deadline says so only in its own words ("sleep stopped:
  // cancelled or timed out"); tell the scheduler, which reports every timeout alike.
  o.timed_out = !o.ok && std::chrono::steady_clock::now() >= ctx.deadline;
  if (outcomes.Put(std::move(o))) caf::anon_send(report_to, done_atom_v);
}

}  // namespace

Worker::Worker(caf::actor report_to, std::shared_ptr<OutcomeBox> outcomes)
    : report_to_(std::move(report_to)),
      outcomes_(std::move(outcomes)),
      thread_([this] { Loop(); }) {}

Worker::~Worker() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_one();
  thread_.join();
}

void Worker::Run(WorkItem item) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    JOBNET_CHECK(!next_);  // a slot runs one job at a time
    next_ = std::move(item);
  }
  cv_.notify_one();  // after unlocking: the woken thread finds the mutex free
}

void Worker::Loop() {
  for (;;) {
    WorkItem item;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [this] { return stop_ || next_; });
      if (stop_) return;  // a run handed over with the stop is dropped, as an actor's was
      item = std::move(*next_);
      next_.reset();
    }
    RunOne(item, report_to_, *outcomes_);
  }
}

}  // namespace jobnet::actors
