#include "http/metrics.hpp"

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <cstring>
#include <set>
#include <sstream>

#include "protocol/counters.hpp"
#include "protocol/histograms.hpp"

namespace jobnet::http {
namespace {

using protocol::Counter;

// Counters that are levels, not running totals.
const std::set<Counter> kGauges = {Counter::kWaiters,
                                   Counter::kHeldBytes,
                                   Counter::kRecoveredJobs,
                                   Counter::kRecoveredRunning,
                                   Counter::kJournalBatchRecordsMax,
                                   Counter::kJournalSyncUsAvg,
                                   Counter::kJournalFull,
                                   Counter::kCallbacksPending,
                                   Counter::kFenced,
                                   Counter::kShardEpoch,
                                   Counter::kReplicationInSync,
                                   Counter::kShardsTakenOver};
// Counts of job events: named jobnet_jobs_<name>_total.
const std::set<Counter> kJobEvents = {Counter::kSubmitted,    Counter::kSubmitsDeduplicated,
                                      Counter::kSucceeded,    Counter::kFailedAttempts,
                                      Counter::kTimeouts,     Counter::kRetries,
                                      Counter::kDead,         Counter::kInterruptedRuns,
                                      Counter::kCancelled,    Counter::kRetriedManually,
                                      Counter::kStaleResults, Counter::kPurged};

}  // namespace

std::string RenderMetrics(const protocol::StatsReply& st, const std::vector<QueueInfo>& queues,
                          const FaceCounters& face) {
  prometheus::Registry reg;
  auto gauge = [&reg](const std::string& name,
                      const std::string& help) -> prometheus::Family<prometheus::Gauge>& {
    return prometheus::BuildGauge().Name(name).Help(help).Register(reg);
  };
  auto counter = [&reg](const std::string& name,
                        const std::string& help) -> prometheus::Family<prometheus::Counter>& {
    return prometheus::BuildCounter().Name(name).Help(help).Register(reg);
  };
  const prometheus::Labels node{{"node", st.node}};

  // The stats counters, each under its own name, every known one even while the node leaves it
  // out for being 0 (a series that appears late breaks rate()). A counter this build does not
  // know (a newer node's) is still shown, as a total.
  std::map<std::string, Counter> by_name;
  std::map<std::string, uint64_t> values = st.counters;
  for (const auto& c : protocol::kCounters) {
    by_name[c.name] = c.counter;
    values.emplace(c.name, 0);
  }
  // A node that counts by queue: submitted jobs by queue only (one family, one label set).
  const bool by_queue = !st.queue_totals.empty();
  for (const auto& [name, value] : values) {
    auto it = by_name.find(name);
    if (by_queue && it != by_name.end() && it->second == Counter::kSubmitted) continue;
    if (it != by_name.end() && it->second >= Counter::kRejectedNotFound &&
        it->second <= Counter::kRejectedOther) {
      counter("jobnet_requests_rejected_total", "error replies sent to clients, by error code")
          .Add({{"node", st.node}, {"code", name.substr(std::strlen("rejected_"))}})
          .Increment(static_cast<double>(value));
      continue;
    }
    const std::string help = "jobnet stats counter '" + name + "' (docs/protocol.md 5.4)";
    if (it != by_name.end() && it->second == Counter::kJournalSyncUsAvg) {
      gauge("jobnet_journal_sync_seconds_avg", "mean time to write and fsync one journal batch")
          .Add(node)
          .Set(static_cast<double>(value) / 1e6);
    } else if (it != by_name.end() && it->second == Counter::kReplicationWaitUs) {
      counter("jobnet_replication_wait_seconds_total",
              "time journal batches waited for backups after their local write")
          .Add(node)
          .Increment(static_cast<double>(value) / 1e6);
    } else if (it != by_name.end() && kGauges.count(it->second)) {
      gauge("jobnet_" + name, help).Add(node).Set(static_cast<double>(value));
    } else if (it != by_name.end() && kJobEvents.count(it->second)) {
      counter("jobnet_jobs_" + name + "_total", help)
          .Add(node)
          .Increment(static_cast<double>(value));
    } else {
      counter("jobnet_" + name + "_total", help).Add(node).Increment(static_cast<double>(value));
    }
  }

  if (by_queue) {
    auto& submitted =
        counter("jobnet_jobs_submitted_total", "jobs submitted since start, by queue");
    auto& finished = counter("jobnet_jobs_finished_total",
                             "jobs that reached a final state since start, by queue and state");
    for (const auto& [queue, totals] : st.queue_totals) {
      for (const auto& [what, n] : totals) {
        if (what == "submitted")
          submitted.Add({{"node", st.node}, {"queue", queue}}).Increment(static_cast<double>(n));
        else
          finished.Add({{"node", st.node}, {"queue", queue}, {"state", what}})
              .Increment(static_cast<double>(n));
      }
    }
  }
  if (!st.denied.empty()) {
    auto& denied = counter("jobnet_permission_denied_by_principal_total",
                           "frames refused because their principal lacked the scope, by principal");
    for (const auto& [principal, n] : st.denied)
      denied.Add({{"node", st.node}, {"principal", principal}}).Increment(static_cast<double>(n));
  }
  // The node's distributions. prometheus-cpp's Histogram takes observations, not buckets, so
  // the family is filled through ObserveMultiple with our per-bucket counts.
  const std::map<std::string, std::string> histogram_help = {
      {protocol::kRunSeconds, "time from a run's start to its end"},
      {protocol::kQueueWaitSeconds, "time a job waited ready before it started"},
      {protocol::kJournalSyncSeconds, "time to write and fsync one journal batch"},
      {protocol::kJournalBatchRecords, "journal records per fsynced batch"},
      {protocol::kAckReceiveSeconds, "a submit's frame read to its request at the scheduler"},
      {protocol::kAckBatchWaitSeconds,
       "a submit at the scheduler to its batch sent to the journal"},
      {protocol::kAckWriterWaitSeconds, "a submit's batch sent to the journal writer starting it"},
      {protocol::kAckEncodeSeconds, "a submit's batch built and its events handed on"},
      {protocol::kAckSyncSeconds, "a submit's batch in RocksDB's synced write"},
      {protocol::kAckReturnSeconds, "a submit's batch durable to its reply handed on"},
      {protocol::kAckNodeSeconds, "a submit's frame read to its reply sent"}};
  for (const auto& [name, h] : st.histograms) {
    auto help = histogram_help.find(name);
    auto& family =
        prometheus::BuildHistogram()
            .Name("jobnet_" + name)
            .Help(help != histogram_help.end() ? help->second : "jobnet histogram " + name)
            .Register(reg);
    auto& series = family.Add(node, h.bounds);
    std::vector<double> counts(h.counts.begin(), h.counts.end());
    series.ObserveMultiple(counts, h.sum);
  }

  auto& jobs = gauge("jobnet_jobs", "jobs held by this node, by state");
  for (const auto& [state, n] : st.jobs)
    jobs.Add({{"node", st.node}, {"state", state}}).Set(static_cast<double>(n));
  auto& waiting = gauge("jobnet_queue_waiting_jobs", "queued and delayed jobs, by queue");
  for (const auto& [queue, n] : st.queues)
    waiting.Add({{"node", st.node}, {"queue", queue}}).Set(static_cast<double>(n));
  if (!queues.empty()) {
    auto& by_state = gauge("jobnet_queue_jobs", "jobs of each queue on this node, by state");
    auto& oldest = gauge("jobnet_queue_oldest_wait_seconds",
                         "how long the longest-waiting ready job of each queue has waited");
    for (const QueueInfo& q : queues) {
      const std::string& name = q.settings.name;
      for (const auto& [state, n] : {std::pair<const char*, uint64_t>{"queued", q.queued},
                                     {"delayed", q.delayed},
                                     {"running", q.running},
                                     {"dead", q.dead}})
        by_state.Add({{"node", st.node}, {"queue", name}, {"state", state}})
            .Set(static_cast<double>(n));
      oldest.Add({{"node", st.node}, {"queue", name}})
          .Set(static_cast<double>(q.oldest_wait_ms) / 1e3);
    }
  }
  auto& slots = gauge("jobnet_worker_slots", "worker slots, busy and total");
  slots.Add({{"node", st.node}, {"state", "busy"}}).Set(st.busy);
  slots.Add({{"node", st.node}, {"state", "total"}}).Set(st.workers);
  gauge("jobnet_uptime_seconds", "time since this node started")
      .Add(node)
      .Set(static_cast<double>(st.uptime_ms) / 1e3);
  gauge("jobnet_incarnation", "how many times this node's journal has been opened")
      .Add(node)
      .Set(static_cast<double>(st.incarnation));
  std::map<std::string, uint64_t> peers = {{"alive", 0}, {"dead", 0}, {"unknown", 0}};
  for (const auto& p : st.peers) peers[p.state]++;
  auto& peer_family = gauge("jobnet_peers", "peers by the state this node sees them in");
  for (const auto& [state, n] : peers)
    peer_family.Add({{"node", st.node}, {"state", state}}).Set(static_cast<double>(n));

  gauge("jobnet_http_requests_held", "HTTP requests waiting for the node or for a job")
      .Add(node)
      .Set(static_cast<double>(face.held));
  auto& responses = counter("jobnet_http_responses_total", "HTTP responses sent, by status class");
  for (const auto& [cls, n] : face.responses)
    responses.Add({{"node", st.node}, {"code", std::to_string(cls) + "xx"}})
        .Increment(static_cast<double>(n));
  counter("jobnet_http_overloaded_total", "HTTP requests refused for the limit of held requests")
      .Add(node)
      .Increment(static_cast<double>(face.overloaded));

  std::ostringstream out;
  prometheus::TextSerializer().Serialize(out, reg.Collect());
  return out.str();
}

}  // namespace jobnet::http
