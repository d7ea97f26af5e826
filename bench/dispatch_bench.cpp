// jobnet_dispatch_bench: the scheduler core's dispatch cost with many queues and many queued
// jobs, in process (no actors, journal or network). Three figures, each in ns per dispatched job:
//   queue_set   QueueSet::Next + RunEnded alone, every queue eligible;
//   scheduler   Scheduler::Complete of one run, which dispatches the next on the freed slot
//               (the state change, its journal record and the dispatch effect included);
//   paused      the same with all queues but one paused (they hold half the jobs): skipped
//               queues cost nothing.
// Usage: jobnet_dispatch_bench [--queues 1000] [--jobs 1000000] [--runs 200000]
#include <CLI/CLI.hpp>

#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "core/queue_set.hpp"
#include "core/scheduler_core.hpp"

namespace {

using Clock = std::chrono::steady_clock;

double NsPer(Clock::time_point t0, uint64_t n) {
  return std::chrono::duration<double, std::nano>(Clock::now() - t0).count() / static_cast<double>(n);
}

double QueueSetOnly(uint32_t queues, uint64_t jobs, uint64_t runs) {
  jobnet::sched::QueueSet qs;
  std::vector<std::string> names;
  for (uint32_t i = 0; i < queues; ++i) names.push_back("q" + std::to_string(i));
  const uint64_t now = 1'000'000;
  for (uint64_t seq = 1; seq <= jobs; ++seq)
    qs.Add(names[seq % queues], {seq, seq, now, static_cast<uint32_t>(seq % 10)}, now);
  jobnet::sched::QueueSet::Entry e;
  auto t0 = Clock::now();
  for (uint64_t i = 0; i < runs; ++i) {
    if (!qs.Next(now, &e)) return -1;
    qs.RunEnded(names[e.seq % queues]);
  }
  return NsPer(t0, runs);
}

double SchedulerCycle(uint32_t queues, uint64_t jobs, uint64_t runs, bool pause_all_but_one) {
  jobnet::sched::SchedulerOptions o;
  o.workers = 1;
  o.final_jobs_max = runs + 1;
  o.held_bytes_max = 64ull << 30;
  jobnet::sched::Scheduler s(o);
  uint64_t now = 1'000'000;
  jobnet::sched::ReplyToken token = 0;
  if (pause_all_but_one)
    for (uint32_t i = 1; i < queues; ++i)
      s.SetQueue(++token, {"q" + std::to_string(i), {}, {}, {}, {}, true}, now);
  jobnet::sched::Effects fx = s.TakeEffects();
  std::vector<jobnet::sched::Dispatch> running;
  for (uint64_t i = 0; i < jobs; ++i) {
    jobnet::JobSpec spec;
    spec.type = "echo";
    // With the others paused, q0 holds every other job; the rest are spread over all queues.
    uint64_t q = pause_all_but_one && i % 2 == 0 ? 0 : i % queues;
    spec.queue = "q" + std::to_string(q);
    spec.priority = static_cast<uint32_t>(i % 10);
    s.Submit(++token, std::move(spec), now);
    if (i % 10000 == 9999 || i + 1 == jobs) {
      fx = s.TakeEffects();  // drop the journal records: the journal is not measured
      for (auto& d : fx.dispatches) running.push_back(d);
    }
  }
  if (running.size() != 1) return -1;
  jobnet::sched::Dispatch cur = running[0];
  fx = jobnet::sched::Effects{};  // free the last submits' records before the clock starts
  auto t0 = Clock::now();
  uint64_t done = 0;
  for (; done < runs; ++done) {
    jobnet::sched::Outcome out{cur.slot, cur.lease, cur.seq, true, std::string(1, '\xc0'), ""};
    s.Complete(out, ++now);
    fx = s.TakeEffects();
    if (fx.dispatches.size() != 1) break;  // the one unpaused queue ran dry
    cur = fx.dispatches[0];
  }
  return done == 0 ? -1 : NsPer(t0, done);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"jobnet_dispatch_bench: the scheduler core's dispatch cost (ns per dispatched job)"};
  uint32_t queues = 1000;
  uint64_t jobs = 1000000, runs = 200000;
  app.add_option("--queues", queues, "queues the jobs are spread over (default 1000)");
  app.add_option("--jobs", jobs, "jobs queued before measuring (default 1000000)");
  app.add_option("--runs", runs, "dispatches measured (default 200000)");
  CLI11_PARSE(app, argc, argv);
  if (queues == 0 || runs == 0 || runs > jobs) {
    std::fprintf(stderr, "need --queues >= 1 and 1 <= --runs <= --jobs\n");
    return 2;
  }
  std::printf("queues=%u jobs=%llu runs=%llu\n", queues, static_cast<unsigned long long>(jobs),
              static_cast<unsigned long long>(runs));
  std::printf("queue_set  %.0f ns/dispatch\n", QueueSetOnly(queues, jobs, runs));
  std::fflush(stdout);
  std::printf("scheduler  %.0f ns/dispatch\n", SchedulerCycle(queues, jobs, runs, false));
  std::fflush(stdout);
  // All but q0 paused, with about half the jobs: q0 holds the other half.
  uint64_t paused_runs = std::min<uint64_t>(runs, jobs / 2);
  std::printf("paused     %.0f ns/dispatch (%u of %u queues paused, %llu runs)\n",
              SchedulerCycle(queues, jobs, paused_runs, true), queues - 1, queues,
              static_cast<unsigned long long>(paused_runs));
  return 0;
}
