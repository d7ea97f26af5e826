// `jobnet workers`: the node's worker slots and the external workers registered with it (tables,
// or one JSON object per slot and per external worker, the latter with "kind":"external"), and
// `jobnet workers set N`, which resizes the pool while the node runs.
#include <CLI/CLI.hpp>

#include <iostream>

#include "base/parse.hpp"
#include "cli/cli.hpp"
#include "cli/json_io.hpp"

namespace jobnet::cli {
namespace {

Result<uint32_t> ParseWorkers(const std::string& text) {
  auto n = base::ParseUint(text, limits::kWorkersMax);
  if (!n || *n < 1)
    return Status::InvalidArgument("workers set wants a count 1.." +
                                   std::to_string(limits::kWorkersMax) + ", not '" + text + "'");
  return static_cast<uint32_t>(*n);
}

void PrintSlots(const WorkerList& list, bool json) {
  const bool autoscale = list.autoscale_min != 0;
  if (json && autoscale) {
    nlohmann::json o{{"kind", "autoscale"}, {"node", list.node}, {"workers", list.workers},
                     {"min", list.autoscale_min}, {"max", list.autoscale_max}};
    std::cout << o.dump() << "\n";
  } else if (autoscale) {
    std::cout << list.node << ": " << list.workers << " workers, autoscaling between "
              << list.autoscale_min << " and " << list.autoscale_max << "\n\n";
  }
  if (json) {
    for (const auto& w : list.slots) {
      std::cout << jsonio::WorkerSlotToJson(w).dump(-1, ' ', false, kInvalidUtf8Replaced) << "\n";
    }
    for (const auto& w : list.external) {
      nlohmann::json o = jsonio::ExternalWorkerToJson(w);
      o["kind"] = "external";
      std::cout << o.dump(-1, ' ', false, kInvalidUtf8Replaced) << "\n";
    }
    return;
  }
  std::vector<std::vector<std::string>> rows;
  for (const auto& w : list.slots) {
    std::string state = w.busy ? (w.retiring ? "busy (retiring)" : "busy") : "idle";
    auto dash = [](const std::string& s) { return s.empty() ? std::string("-") : s; };
    rows.push_back({std::to_string(w.id), state, dash(w.job), dash(w.queue), dash(w.type),
                    FormatTimeMs(w.since_ms)});
  }
  PrintTable(std::cout, {"SLOT", "STATE", "JOB", "QUEUE", "TYPE", "SINCE"}, rows);
  if (list.external.empty()) return;
  rows.clear();
  for (const auto& w : list.external) {
    std::string types, jobs;
    for (const auto& t : w.types) types += (types.empty() ? "" : ",") + t;
    for (const auto& j : w.jobs) jobs += (jobs.empty() ? "" : ",") + j;
    if (w.running > w.jobs.size()) jobs += ",...";
    rows.push_back({std::to_string(w.id), w.name.empty() ? "-" : w.name, types,
                    std::to_string(w.running) + "/" + std::to_string(w.capacity),
                    w.polling ? "polling" : w.running > 0 ? "working" : "idle", jobs.empty() ? "-" : jobs});
  }
  std::cout << "\n";
  PrintTable(std::cout, {"EXTERNAL", "NAME", "TYPES", "RUNNING/CAPACITY", "STATE", "JOBS"}, rows);
}

}  // namespace

CLI::App* AddWorkersCommand(CLI::App& app, WorkersFlags* wf, ClientFlags* f) {
  auto* cmd = app.add_subcommand(
      "workers", "the node's worker slots; `workers set N` resizes the pool while it runs");
  cmd->add_option("action", wf->action,
                  "set or autoscale (leave out to list the slots and external workers)");
  cmd->add_option("count", wf->count,
                  "for set: the new pool size, 1.." + std::to_string(limits::kWorkersMax) +
                      "; for autoscale: off");
  cmd->add_option("--min", wf->min, "for autoscale: the fewest workers");
  cmd->add_option("--max", wf->max, "for autoscale: the most workers");
  cmd->add_option("--target-wait", wf->target_wait,
                  "for autoscale: grow while jobs wait this long with every slot busy (default 1s)");
  cmd->add_option("--quiet", wf->quiet,
                  "for autoscale: shrink after this long without waiting jobs (default 30s)");
  AddClientFlags(cmd, f);
  return cmd;
}

// `workers autoscale --min N --max M [--target-wait D] [--quiet D]` or `workers autoscale off`.
int RunAutoscale(const WorkersFlags& wf, const ClientFlags& f) {
  const bool off = wf.count == "off";
  if (!off && !wf.count.empty())
    return Fail(Status::InvalidArgument("workers autoscale takes --min and --max, or off"));
  if (off != (wf.min.empty() && wf.max.empty() && wf.target_wait.empty() && wf.quiet.empty()))
    return Fail(Status::InvalidArgument(off ? "workers autoscale off takes no other flag"
                                            : "workers autoscale wants --min N --max M"));
  uint32_t min = 0, max = 0;
  uint64_t target = 0, quiet = 0;
  if (!off) {
    auto lo = base::ParseUint(wf.min, limits::kWorkersMax), hi = base::ParseUint(wf.max, limits::kWorkersMax);
    if (!lo || !hi || *lo < 1 || *lo > *hi)
      return Fail(Status::InvalidArgument("workers autoscale wants 1 <= --min <= --max <= " +
                                          std::to_string(limits::kWorkersMax)));
    min = static_cast<uint32_t>(*lo);
    max = static_cast<uint32_t>(*hi);
    if (int rc = DurationFlag(wf.target_wait, &target); rc >= 0) return rc;
    if (int rc = DurationFlag(wf.quiet, &quiet); rc >= 0) return rc;
  }
  std::unique_ptr<Client> client;
  if (Status s = Connect(f, &client); !s.ok()) return Fail(s);
  auto r = client->SetAutoscale(min, max, target, quiet);
  if (!r.ok()) return Fail(r.status());
  const WorkerList& list = r.value();
  if (f.json) {
    nlohmann::json o{{"node", list.node}, {"workers", list.workers}, {"min", list.autoscale_min},
                     {"max", list.autoscale_max}};
    std::cout << o.dump() << "\n";
  } else if (list.autoscale_min == 0) {
    std::cout << list.node << ": autoscaling off, " << list.workers << " workers\n";
  } else {
    std::cout << list.node << ": " << list.workers << " workers, autoscaling between "
              << list.autoscale_min << " and " << list.autoscale_max << "\n";
  }
  return kExitOk;
}

int RunWorkers(const WorkersFlags& wf, const ClientFlags& f) {
  if (wf.action == "autoscale") return RunAutoscale(wf, f);
  if (!wf.action.empty() && wf.action != "set")
    return Fail(Status::InvalidArgument("unknown workers action '" + wf.action +
                                        "' (want `workers`, `workers set N` or `workers "
                                        "autoscale --min N --max M`)"));
  if (!wf.min.empty() || !wf.max.empty() || !wf.target_wait.empty() || !wf.quiet.empty())
    return Fail(Status::InvalidArgument("--min, --max, --target-wait and --quiet go with `workers autoscale`"));
  if (wf.action.empty() && !wf.count.empty())
    return Fail(Status::InvalidArgument("a count goes with `workers set N`"));
  Result<uint32_t> n = 0u;
  if (wf.action == "set" && !(n = ParseWorkers(wf.count)).ok()) return Fail(n.status());
  std::unique_ptr<Client> client;
  if (Status s = Connect(f, &client); !s.ok()) return Fail(s);
  if (wf.action.empty()) {
    auto r = client->Workers();
    if (!r.ok()) return Fail(r.status());
    PrintSlots(r.value(), f.json);
    return kExitOk;
  }
  auto r = client->SetWorkers(n.value());
  if (!r.ok()) return Fail(r.status());
  const WorkerList& list = r.value();
  uint32_t busy = 0, retiring = 0;
  for (const auto& w : list.slots) {
    busy += w.busy;
    retiring += w.retiring;
  }
  if (f.json) {
    nlohmann::json o{{"node", list.node}, {"workers", list.workers}, {"busy", busy},
                     {"retiring", retiring}};
    std::cout << o.dump(-1, ' ', false, kInvalidUtf8Replaced) << "\n";
  } else {
    std::cout << list.node << ": " << list.workers << " workers, " << busy << " busy";
    if (retiring > 0) std::cout << " (" << retiring << " past the new size finish their jobs first)";
    std::cout << "\n";
  }
  return kExitOk;
}

}  // namespace jobnet::cli
