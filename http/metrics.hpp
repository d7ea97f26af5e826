// Prometheus text exposition of a node's stats (GET /metrics, docs/http.md §6), built with
// prometheus-cpp from one stats reply: a pure function, so a test can check every name.
#ifndef JOBNET_HTTP_METRICS_HPP_
#define JOBNET_HTTP_METRICS_HPP_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "protocol/messages.hpp"

namespace jobnet::http {

// The HTTP face's own figures.
struct FaceCounters {
  uint64_t held = 0;                     // requests waiting for the node or a job now
  std::map<int, uint64_t> responses;     // by HTTP status class: 2, 4, 5 (2xx, 4xx, 5xx)
  uint64_t overloaded = 0;               // refused for the limit of held requests
};

// Every counter of the stats reply (docs/protocol.md §5.4) under a Prometheus name
// ("succeeded" -> jobnet_jobs_succeeded_total), submitted and finished jobs by queue, jobs by
// state, waiting jobs by queue, the node's histograms, worker slots, peers by state, uptime; from
// the node's queue list (may be empty) jobs by queue and state and the oldest wait by queue; and
// the face's own figures.
std::string RenderMetrics(const protocol::StatsReply& stats, const std::vector<QueueInfo>& queues,
                          const FaceCounters& face);

}  // namespace jobnet::http

#endif  // JOBNET_HTTP_METRICS_HPP_
