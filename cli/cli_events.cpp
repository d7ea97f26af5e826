// `jobnet events`: the node's job event stream (docs/protocol.md "Job events"), one line per
// state change: a table row, or a JSON object with --json. It follows new events until
// interrupted (a long poll per page); --no-follow prints what is there and stops.
#include <signal.h>

#include <CLI/CLI.hpp>

#include <iostream>

#include "cli/cli.hpp"
#include "cli/json_io.hpp"

namespace jobnet::cli {
namespace {

volatile sig_atomic_t g_stop = 0;
void OnStop(int) { g_stop = 1; }

// How long one request waits at the node for new events. A signal ends the wait at once (it
// interrupts the poll), so this only sets how often an idle stream asks again.
constexpr uint64_t kFollowWaitMs = 10000;

void PrintEvent(const StateEvent& e, bool json, bool header) {
  if (json) {
    std::cout << jsonio::StateEventToJson(e).dump(-1, ' ', false, kInvalidUtf8Replaced)
              << std::endl;
    return;
  }
  static const std::vector<size_t> kWidths = {10, 26, 16, 11, 12, 12, 8};
  if (header)
    PrintFixedRow(std::cout, kWidths,
                  {"SEQ", "AT", "JOB", "STATE", "QUEUE", "TYPE", "ATTEMPT", "ERROR/MESSAGE"});
  PrintFixedRow(std::cout, kWidths,
                {std::to_string(e.seq), FormatTimeMs(e.at_ms), e.id,
                 e.progress_report ? std::to_string(e.progress) + "%" : JobStateName(e.state),
                 e.queue, e.type, std::to_string(e.attempt),
                 e.progress_report ? (e.progress_message.empty() ? "-" : e.progress_message)
                                   : (e.error.empty() ? "-" : e.error)});
}

}  // namespace

CLI::App* AddEventsCommand(CLI::App& app, EventsFlags* ef, ClientFlags* f) {
  auto* cmd = app.add_subcommand(
      "events", "the node's job state changes, one per line, following new ones until ^C");
  cmd->add_option("--queue", ef->queue, "only this queue");
  cmd->add_option("--job", ef->job, "only this job (asked of its owner)");
  cmd->add_option("--since", ef->since,
                  "only events after this seq (default 0: every event the node keeps)");
  cmd->add_flag("--follow,!--no-follow", ef->follow,
                "keep printing new events until interrupted (default), or stop at the newest");
  AddClientFlags(cmd, f);
  return cmd;
}

int RunEvents(const EventsFlags& ef, const ClientFlags& f) {
  EventQuery q;
  q.since = ef.since;
  q.queue = ef.queue;
  q.job = ef.job;
  q.max = limits::kEventsPerReplyMax;
  if (Status s = protocol::Validate(q); !s.ok()) return Fail(s);
  // The signals are blocked while the client's ZeroMQ threads start (they inherit the mask),
  // then taken by this thread alone: ^C interrupts its poll at once and ends the stream cleanly.
  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGINT);
  sigaddset(&sigs, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &sigs, nullptr);
  std::unique_ptr<Client> client;
  Status connected = Connect(f, &client);
  struct sigaction sa {};
  sa.sa_handler = OnStop;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  pthread_sigmask(SIG_UNBLOCK, &sigs, nullptr);
  if (!connected.ok()) return Fail(connected);
  bool header = true;
  while (!g_stop) {
    q.wait_ms = ef.follow ? kFollowWaitMs : 0;
    auto page = client->Events(q);
    if (g_stop) break;
    if (!page.ok())
      return Fail(Status(page.status().code(), page.status().message() +
                                                   " (resume with --since " +
                                                   std::to_string(q.since) + ")"));
    const EventPage& p = page.value();
    if (p.gap)
      std::cerr << "jobnet: events after " << q.since << " up to " << p.oldest
                << " are no longer kept (or the node's stream restarted); going on from "
                << (p.events.empty() ? p.next : p.events.front().seq) << "\n";
    for (const auto& e : p.events) {
      PrintEvent(e, f.json, header);
      header = false;
    }
    // Without --follow, stop at the newest event: a page that did not move the cursor.
    bool moved = p.next != q.since;
    q.since = p.next;
    if (!ef.follow && !moved) break;
  }
  return kExitOk;
}

}  // namespace jobnet::cli
