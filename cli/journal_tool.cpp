// `jobnet journal DIR stats|list|show ID|verify|export`: read-only inspection of a journal
// whose node is stopped. A journal held by a running node is refused with exit code 5.
#include <iostream>
#include <map>

#include "cli/cli.hpp"
#include "cli/json_io.hpp"
#include "storage/journal.hpp"

namespace jobnet::cli {
namespace {

int PrintVerify(const std::vector<std::string>& problems, uint64_t checked, bool json) {
  if (json) {
    std::cout << nlohmann::json{{"jobs", checked}, {"ok", problems.empty()}, {"problems", problems}}
                     .dump(-1, ' ', false, kInvalidUtf8Replaced)
              << "\n";
  } else {
    for (const auto& p : problems) std::cout << "problem: " << p << "\n";
    std::cout << (problems.empty() ? "ok" : "FAILED") << ": " << checked << " jobs checked, "
              << problems.size() << " problem(s)\n";
  }
  return problems.empty() ? kExitOk : kExitError;
}

}  // namespace

int JournalCommand(const std::string& dir, const std::string& action, const std::string& job_id,
                   bool json) {
  static const char* kActions[] = {"stats", "list", "show", "verify", "export"};
  bool known = false;
  for (const char* a : kActions) known = known || action == a;
  if (!known) {
    std::cerr << "jobnet: unknown journal action '" << action
              << "' (want stats, list, show ID, verify or export)\n";
    return kExitUsage;
  }
  if (action == "show" && job_id.empty()) {
    std::cerr << "jobnet: journal show needs a job id\n";
    return kExitUsage;
  }
  JournalOptions opt;
  opt.read_only = true;
  std::unique_ptr<Journal> j;
  if (Status s = Journal::Open(dir, opt, &j); !s.ok()) {
    // A journal too damaged to open (a WAL damaged before its last synced write) is verify's
    // finding, not a failure to run it.
    if (action == "verify" && s.IsCorruption()) return PrintVerify({s.message()}, 0, json);
    std::cerr << "jobnet: " << s.ToString() << "\n";
    return ExitCodeFor(s);
  }

  if (action == "show") {
    auto parsed = protocol::ParseJobId(job_id);
    if (!parsed.ok()) {
      std::cerr << "jobnet: " << parsed.status().ToString() << "\n";
      return kExitUsage;
    }
    auto job = j->Get(parsed.value().seq);
    if (!job.ok() && !job.status().IsNotFound()) {
      std::cerr << "jobnet: " << job.status().ToString() << "\n";
      return ExitCodeFor(job.status());
    }
    if (!job.ok() || job.value().id != job_id) {
      std::cerr << "jobnet: job " << job_id << " is not in " << dir << "\n";
      return kExitNotFound;
    }
    std::vector<std::pair<uint32_t, protocol::JobEvent>> history;
    if (Status s = j->History(job.value().seq, &history); !s.ok()) {
      std::cerr << "jobnet: " << s.ToString() << "\n";
      return ExitCodeFor(s);
    }
    // The attempts, derived from the events as the node derives them at recovery.
    protocol::Job& jb = job.value();
    for (const auto& [n, ev] : history) protocol::RecordEvent(ev, parsed.value().node, &jb);
    nlohmann::json o = JobRecordToJson(jb);
    protocol::JobInfo info = jb.Info();
    info.history = jb.rare.get().history;
    info.history_dropped = jb.rare.get().history_dropped;
    // `attempts` stays the count here (the tool's output contract predates the history).
    nlohmann::json with = JobWithHistoryToJson(info);
    o["attempt_history"] = with["attempts"];
    o["attempts_dropped"] = with["attempts_dropped"];
    nlohmann::json evs = nlohmann::json::array();
    for (const auto& [n, ev] : history) {
      nlohmann::json e{{"n", n}, {"at", ev.at_ms}, {"state", protocol::JobStateName(ev.state)},
                       {"attempt", ev.attempt}, {"message", ev.message}};
      if (!ev.node.empty()) e["node"] = ev.node;
      if (!ev.error.empty()) e["error"] = ev.error;
      evs.push_back(std::move(e));
    }
    o["history"] = evs;
    if (json) {
      std::cout << o.dump(-1, ' ', false, kInvalidUtf8Replaced) << "\n";
      return kExitOk;
    }
    std::cout << o.dump(2, ' ', false, kInvalidUtf8Replaced) << "\n";
    return kExitOk;
  }

  if (action == "verify") {
    std::vector<std::string> problems;
    uint64_t checked = 0;
    if (Status s = j->Verify(&problems, &checked); !s.ok()) {
      std::cerr << "jobnet: " << s.ToString() << "\n";
      return ExitCodeFor(s);
    }
    return PrintVerify(problems, checked, json);
  }

  if (action == "stats") {
    std::map<std::string, uint64_t> by_state, by_queue;
    uint64_t total = 0, attempts = 0;
    Status s = j->ForEachJob([&](const protocol::Job& job) {
      total++;
      attempts += job.attempts;
      by_state[protocol::JobStateName(job.state)]++;
      by_queue[job.spec.queue]++;
      return true;
    });
    if (!s.ok()) {
      std::cerr << "jobnet: " << s.ToString() << "\n";
      return ExitCodeFor(s);
    }
    if (json) {
      std::cout << nlohmann::json{{"jobs", total},     {"incarnation", j->incarnation()},
                                  {"attempts", attempts}, {"states", by_state},
                                  {"queues", by_queue}}
                       .dump(-1, ' ', false, kInvalidUtf8Replaced)
                << "\n";
      return kExitOk;
    }
    std::cout << "journal " << dir << ": " << total << " jobs, incarnation " << j->incarnation()
              << ", " << attempts << " attempts\n\n";
    std::vector<std::vector<std::string>> rows;
    for (const auto& [k, v] : by_state) rows.push_back({k, std::to_string(v)});
    PrintTable(std::cout, {"STATE", "JOBS"}, rows);
    rows.clear();
    for (const auto& [k, v] : by_queue) rows.push_back({k, std::to_string(v)});
    std::cout << "\n";
    PrintTable(std::cout, {"QUEUE", "JOBS"}, rows);
    return kExitOk;
  }

  // list and export: one job per line; export always JSON with payload.
  std::vector<protocol::JobInfo> rows;
  Status s = j->ForEachJob([&](const protocol::Job& job) {
    if (action == "export") {
      std::cout << JobRecordToJson(job).dump(-1, ' ', false, kInvalidUtf8Replaced) << "\n";
    } else if (json) {
      std::cout << JobToJson(job.Info()).dump(-1, ' ', false, kInvalidUtf8Replaced) << "\n";
    } else {
      rows.push_back(job.Info());
    }
    return true;
  });
  if (!rows.empty()) PrintJobsTable(std::cout, rows);
  if (!s.ok()) {
    std::cerr << "jobnet: " << s.ToString() << "\n";
    return ExitCodeFor(s);
  }
  return kExitOk;
}

}  // namespace jobnet::cli
