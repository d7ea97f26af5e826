// `jobnet flow submit FILE` and `jobnet flow show ID` (docs/protocol.md §23): a whole graph of
// jobs in one request, and the graph drawn with each job's state.
#include <CLI/CLI.hpp>

#include <algorithm>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>

#include "cli/cli.hpp"
#include "cli/json_io.hpp"
#include "client/json.hpp"
#include "protocol/duration.hpp"
#include "protocol/messages.hpp"

namespace jobnet::cli {
namespace {

struct FlowFlags {
  std::string file;
  std::string id;
  bool wait = false;
};

int RunFlowSubmit(const FlowFlags& ff, const ClientFlags& f) {
  std::ifstream in_file;
  if (ff.file != "-") {
    in_file.open(ff.file);
    if (!in_file) return Fail(Status::NotFound("cannot open " + ff.file));
  }
  std::stringstream text;
  text << (ff.file == "-" ? std::cin.rdbuf() : in_file.rdbuf());
  auto jobs = jsonio::FlowFromJsonText(text.str());
  if (!jobs.ok()) return Fail(jobs.status());
  std::unique_ptr<Client> client;
  if (Status s = Connect(f, &client); !s.ok()) return Fail(s);
  auto r = client->SubmitFlow(jobs.value());
  if (!r.ok()) return Fail(r.status());
  const FlowResult& flow = r.value();
  std::vector<std::pair<std::string, std::string>> by_id(flow.ids.begin(), flow.ids.end());
  std::sort(by_id.begin(), by_id.end(), [](const auto& a, const auto& b) {
    auto x = protocol::ParseJobId(a.second), y = protocol::ParseJobId(b.second);
    return x.ok() && y.ok() ? x.value().seq < y.value().seq : a.second < b.second;
  });
  if (ff.wait) {
    std::vector<std::string> ids;
    for (const auto& [name, id] : by_id) ids.push_back(id);
    std::cerr << "jobnet: flow " << flow.flow << ": " << ids.size() << " jobs submitted\n";
    auto t = ParseDurationMs(f.request_timeout);
    return WaitAll(*client, f, ids, static_cast<uint32_t>(t.ok() ? t.value() : 30000));
  }
  if (f.json) {
    std::cout << jsonio::FlowResultToJson(flow).dump() << std::endl;
    return kExitOk;
  }
  std::vector<std::vector<std::string>> rows;
  for (const auto& [name, id] : by_id) rows.push_back({name, id});
  std::cout << "flow " << flow.flow << "\n";
  PrintTable(std::cout, {"NAME", "ID"}, rows);
  return kExitOk;
}

// The jobs of the flow `job` is in, by their consecutive ids from the flow's first; or, for a
// job submitted alone, it and its ancestors (depends_on, followed up).
Result<std::vector<JobInfo>> FlowJobs(Client& client, const JobInfo& job) {
  std::vector<JobInfo> out;
  if (!job.flow.empty()) {
    auto first = protocol::ParseJobId(job.flow);
    if (!first.ok()) return first.status();
    for (uint64_t seq = first.value().seq; out.size() < limits::kFlowJobsMax; ++seq) {
      const std::string id = protocol::MakeJobId(first.value().node, seq);
      auto r = id == job.id ? Result<JobInfo>(job) : client.GetStatus(id);
      if (!r.ok() || r.value().flow != job.flow) break;  // past its last job (or purged)
      out.push_back(std::move(r.value()));
    }
    return out;
  }
  std::vector<std::string> todo{job.id};
  std::map<std::string, bool> seen{{job.id, true}};
  for (size_t i = 0; i < todo.size() && out.size() < limits::kFlowJobsMax; ++i) {
    auto r = todo[i] == job.id ? Result<JobInfo>(job) : client.GetStatus(todo[i]);
    if (!r.ok()) continue;  // a parent purged by retention
    for (const auto& p : r.value().depends_on)
      if (seen.emplace(p, true).second) todo.push_back(p);
    out.push_back(std::move(r.value()));
  }
  std::reverse(out.begin(), out.end());  // parents before children
  return out;
}

int RunFlowShow(const FlowFlags& ff, const ClientFlags& f) {
  std::unique_ptr<Client> client;
  if (Status s = Connect(f, &client); !s.ok()) return Fail(s);
  auto job = client->GetStatus(ff.id);
  if (!job.ok()) return Fail(job.status());
  auto jobs = FlowJobs(*client, job.value());
  if (!jobs.ok()) return Fail(jobs.status());
  if (ff.wait) {  // every job to a final state, then the graph as it ended
    for (const auto& j : jobs.value()) {
      if (IsFinal(j.state)) continue;
      for (;;) {
        auto w = client->Wait(j.id, limits::kWaitTimeoutMsDefault);
        if (w.ok()) break;
        if (w.status().code() != Code::kTimeout) return Fail(w.status());
      }
    }
    job = client->GetStatus(ff.id);
    if (!job.ok()) return Fail(job.status());
    jobs = FlowJobs(*client, job.value());
    if (!jobs.ok()) return Fail(jobs.status());
  }
  if (f.json) {
    for (const auto& j : jobs.value())
      std::cout << jsonio::JobToJson(j).dump(-1, ' ', false, kInvalidUtf8Replaced) << "\n";
    return kExitOk;
  }
  std::map<std::string, std::string> name_of;  // id -> name in the flow (or the id)
  std::map<std::string, size_t> by_state;
  for (const auto& j : jobs.value()) {
    name_of[j.id] = j.flow_name.empty() ? j.id : j.flow_name;
    by_state[JobStateName(j.state)]++;
  }
  std::cout << (job.value().flow.empty() ? "job " + ff.id + " and its parents"
                                         : "flow " + job.value().flow)
            << ": " << jobs.value().size() << " jobs";
  for (const auto& [state, n] : by_state) std::cout << ", " << n << " " << state;
  std::cout << "\n";
  std::vector<std::vector<std::string>> rows;
  for (const auto& j : jobs.value()) {
    std::string after;
    for (const auto& p : j.depends_on) {
      auto it = name_of.find(p);
      after += (after.empty() ? "" : ", ") + (it != name_of.end() ? it->second : p);
    }
    if (j.state == JobState::kWaiting)
      after += " (" + std::to_string(j.parents_waiting) + " to finish)";
    rows.push_back({name_of[j.id], j.id, j.type, JobStateName(j.state),
                    after.empty() ? "-" : after,
                    j.error.empty() ? "" : j.error.substr(0, 60)});
  }
  PrintTable(std::cout, {"NAME", "ID", "TYPE", "STATE", "AFTER", "ERROR"}, rows);
  return kExitOk;
}

}  // namespace

std::function<int()> AddFlowCommands(CLI::App* app, ClientFlags* f) {
  auto ff = std::make_shared<FlowFlags>();
  auto* flow = app->add_subcommand("flow", "graphs of jobs: submit one whole, show one");
  flow->require_subcommand(1);
  auto* submit = flow->add_subcommand(
      "submit", "submit the flow of FILE (- = stdin), every job or none: {\"jobs\": {\"name\": "
                "{job spec, \"after\": [names]}}}");
  submit->add_option("file", ff->file, "the flow's JSON")->required();
  submit->add_flag("--wait", ff->wait, "wait for every job of the flow to finish");
  AddClientFlags(submit, f);
  auto* show = flow->add_subcommand(
      "show", "the jobs of the flow job ID belongs to (or ID and its parents), with their "
              "states and what each waits for");
  show->add_option("id", ff->id, "a job id")->required();
  show->add_flag("--wait", ff->wait, "wait until every job of the flow is final, then show it");
  AddClientFlags(show, f);
  return [ff, f, submit, show]() -> int {
    if (*submit) return RunFlowSubmit(*ff, *f);
    if (*show) return RunFlowShow(*ff, *f);
    return -1;
  };
}

}  // namespace jobnet::cli
