// `jobnet schedule ...`: recurring jobs. Data on stdout (a table, or JSON lines with --json),
// diagnostics on stderr, exit codes as every other command (base/exit_codes.hpp).
#include <CLI/CLI.hpp>

#include <iostream>
#include <memory>

#include "cli/cli.hpp"
#include "cli/json_io.hpp"
#include "node/config.hpp"

namespace jobnet::cli {
namespace {

struct ScheduleFlags {
  ClientFlags client;
  std::string name;
  std::string cron;
  std::string every;
  std::string type;
  std::string payload;
  std::string timeout;
  JobSpec job;
  bool local = false;
};

void Print(const std::vector<ScheduleInfo>& schedules, bool json) {
  if (json) {
    for (const auto& s : schedules)
      std::cout << jsonio::ScheduleToJson(s).dump(-1, ' ', false, kInvalidUtf8Replaced) << "\n";
    return;
  }
  std::vector<std::vector<std::string>> rows;
  for (const auto& s : schedules) {
    rows.push_back({s.name, s.node, jsonio::ScheduleSpecText(s), s.type, s.queue, s.paused ? "paused" : "active",
                    s.next_fire_ms ? FormatTimeMs(s.next_fire_ms) : "-",
                    s.last_fire_ms ? FormatTimeMs(s.last_fire_ms) : "-",
                    s.last_job_id.empty() ? "-" : s.last_job_id});
  }
  PrintTable(std::cout,
             {"NAME", "NODE", "SPEC", "TYPE", "QUEUE", "STATE", "NEXT FIRE", "LAST FIRE", "LAST JOB"},
             rows);
}

int RunAdd(ScheduleFlags& f) {
  ScheduleSpec spec;
  spec.name = f.name;
  spec.cron = f.cron;
  if (f.cron.empty() == f.every.empty())
    return Fail(Status::InvalidArgument("give exactly one of --cron and --every"));
  if (!f.every.empty()) {
    auto e = ParseDurationMs(f.every);
    if (!e.ok()) return Fail(e.status());
    if (e.value() == 0) return Fail(Status::InvalidArgument("--every must be at least 1s"));
    spec.every_ms = e.value();
  }
  spec.job = f.job;
  spec.job.type = f.type;
  if (!f.payload.empty()) {
    auto p = JsonToMsgpack(f.payload);
    if (!p.ok()) return Fail(p.status());
    spec.job.payload = std::move(p.value());
  }
  if (!f.timeout.empty()) {
    auto d = ParseDurationMs(f.timeout);
    if (!d.ok()) return Fail(d.status());
    spec.job.timeout_ms = d.value();
  }
  if (Status s = protocol::Validate(spec); !s.ok()) return Fail(s);
  std::unique_ptr<Client> client;
  if (Status s = Connect(f.client, &client); !s.ok()) return Fail(s);
  auto r = client->AddSchedule(spec);
  if (!r.ok()) return Fail(r.status());
  Print({r.value()}, f.client.json);
  return kExitOk;
}

int RunList(ScheduleFlags& f) {
  std::unique_ptr<Client> client;
  if (Status s = Connect(f.client, &client); !s.ok()) return Fail(s);
  std::vector<std::string> unreachable;
  auto r = client->ListSchedules(&unreachable, f.local);
  if (!r.ok()) return Fail(r.status());
  Print(r.value(), f.client.json);
  // The list is still printed: what the answering nodes hold is true.
  for (const auto& n : unreachable)
    std::cerr << "jobnet: node " << n << " did not answer; its schedules are not listed\n";
  return unreachable.empty() ? kExitOk : kExitUnavailable;
}

int RunChange(ScheduleFlags& f, const std::string& action) {
  std::unique_ptr<Client> client;
  if (Status s = Connect(f.client, &client); !s.ok()) return Fail(s);
  auto r = client->ChangeSchedule(f.name, action);
  if (!r.ok()) return Fail(r.status());
  Print({r.value()}, f.client.json);
  return kExitOk;
}

}  // namespace

std::function<int()> AddScheduleCommands(CLI::App* app) {
  auto f = std::make_shared<ScheduleFlags>();
  auto* cmd = app->add_subcommand("schedule", "recurring jobs: add | list | remove | pause | resume");
  cmd->require_subcommand(1);

  auto* add = cmd->add_subcommand(
      "add", "add a recurring job on the node: each tick of --cron (UTC) or --every submits one job");
  add->add_option("name", f->name, "schedule name, unique on its node")->required();
  add->add_option("type", f->type, "job type (handler)")->required();
  add->add_option("payload", f->payload, "payload as JSON (e.g. 50, '\"hi\"', '[1,2]')");
  add->add_option("--cron", f->cron,
                  "5-field cron in UTC: minute hour day-of-month month day-of-week (e.g. "
                  "\"*/5 * * * *\")");
  add->add_option("--every", f->every, "or a fixed interval, 1s to 366d (e.g. 30s, 5m, 1h)");
  add->add_option("--queue", f->job.queue, "queue name (default 'default')");
  add->add_option("--priority", f->job.priority,
                  "0.." + std::to_string(limits::kPriorityMax) + ", higher runs first (default 0)");
  add->add_option("--max-attempts", f->job.max_attempts,
                  "attempts before dead-lettering (default " +
                      std::to_string(f->job.max_attempts) + ")");
  add->add_option("--backoff", f->job.backoff_ms,
                  "first retry delay in ms, doubled per attempt (default " +
                      std::to_string(f->job.backoff_ms) + ")");
  add->add_option("--timeout", f->timeout,
                  "lease: a run longer than this fails (default " +
                      std::to_string(f->job.timeout_ms) + "ms)");
  AddClientFlags(add, &f->client);

  auto* list = cmd->add_subcommand("list", "every node's schedules: next and last fire, last job");
  list->add_flag("--local", f->local, "only the schedules of the node asked");
  AddClientFlags(list, &f->client);

  std::vector<std::pair<CLI::App*, std::string>> changes;
  for (const char* action : {"remove", "pause", "resume"}) {
    std::string help = std::string(action) + " a schedule of the node asked" +
                       (std::string(action) == "resume" ? " (from its next tick after now)" : "");
    auto* c = cmd->add_subcommand(action, help);
    c->add_option("name", f->name, "schedule name")->required();
    AddClientFlags(c, &f->client);
    changes.emplace_back(c, action);
  }

  return [f, add, list, changes]() {
    if (*add) return RunAdd(*f);
    if (*list) return RunList(*f);
    for (const auto& [c, action] : changes)
      if (*c) return RunChange(*f, action);
    return kExitUsage;
  };
}

}  // namespace jobnet::cli
