// Pipelined client helpers for the node process tests: a job spec in one call, and submitting or
// waiting for many jobs with up to 128 requests in flight on one connection.
#ifndef JOBNET_TESTS_PIPELINED_CLIENT_HPP_
#define JOBNET_TESTS_PIPELINED_CLIENT_HPP_

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "jobnet/client.h"

namespace jobnet::testing {

inline JobSpec Spec(const std::string& type, std::string payload, uint64_t delay_ms = 0) {
  JobSpec s;
  s.type = type;
  s.payload = std::move(payload);
  s.delay_ms = delay_ms;
  return s;
}

// Submits all specs pipelined; returns ids in order.
inline std::vector<std::string> SubmitAll(Client& c, const std::vector<JobSpec>& specs) {
  std::map<uint64_t, size_t> pending;
  std::vector<std::string> ids(specs.size());
  size_t next = 0;
  while (next < specs.size() || !pending.empty()) {
    while (next < specs.size() && pending.size() < 128) {
      auto corr = c.SendSubmit(specs[next]);
      EXPECT_TRUE(corr.ok());
      pending[corr.value()] = next++;
    }
    auto env = c.Receive(10000);
    EXPECT_TRUE(env.ok()) << env.status().ToString();
    if (!env.ok()) break;
    auto it = pending.find(env.value().corr_id);
    if (it == pending.end()) continue;
    EXPECT_TRUE(env.value().status.ok()) << env.value().status.ToString();
    ids[it->second] = env.value().submitted.id;
    pending.erase(it);
  }
  return ids;
}

// Waits for every id (pipelined) and returns the final jobs by id.
inline std::map<std::string, JobInfo> WaitAll(Client& c, const std::vector<std::string>& ids,
                                       uint64_t timeout_ms = 30000) {
  std::map<uint64_t, std::string> pending;
  std::map<std::string, JobInfo> out;
  for (const auto& id : ids) pending[c.SendWait(id, timeout_ms).value()] = id;
  while (!pending.empty()) {
    auto env = c.Receive(static_cast<uint32_t>(timeout_ms + 5000));
    if (!env.ok()) {
      ADD_FAILURE() << pending.size() << " waits unanswered: " << env.status().ToString();
      break;
    }
    auto it = pending.find(env.value().corr_id);
    if (it == pending.end()) continue;
    if (env.value().status.ok()) {
      out[it->second] = env.value().job;
    } else {
      ADD_FAILURE() << it->second << ": " << env.value().status.ToString();
    }
    pending.erase(it);
  }
  return out;
}

}  // namespace jobnet::testing

#endif  // JOBNET_TESTS_PIPELINED_CLIENT_HPP_
