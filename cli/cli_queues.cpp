// `jobnet queue set|pause|resume Q` and `jobnet queues`: queue settings and per-queue figures.
// A setting goes to one node, which passes it on to its peers; the listing asks that node and
// each of its alive peers, so it shows what every node has.
#include <CLI/CLI.hpp>

#include <iostream>

#include "base/parse.hpp"
#include "cli/cli.hpp"
#include "cli/json_io.hpp"
#include "node/config.hpp"

namespace jobnet::cli {
namespace {

// A whole number in 0..max, for the flag `flag`.
Result<uint32_t> ParseCount(const std::string& text, const std::string& flag, uint64_t max) {
  auto v = base::ParseUint(text, max);
  if (!v)
    return Status::InvalidArgument(flag + " must be a whole number 0.." + std::to_string(max) +
                                   ", not '" + text + "'");
  return static_cast<uint32_t>(*v);
}

Result<QueueUpdate> UpdateFrom(const QueueCommands& q) {
  QueueUpdate u;
  u.name = q.name;
  if (!q.order.empty()) {
    u.order = ParseQueueOrder(q.order);
    if (!u.order) return Status::InvalidArgument("--order must be fifo or lifo, not '" + q.order + "'");
  }
  if (!q.concurrency.empty()) {
    auto c = ParseCount(q.concurrency, "--concurrency", limits::kQueueConcurrencyMax);
    if (!c.ok()) return c.status();
    u.concurrency = c.value();
  }
  if (!q.rate.empty()) {
    std::string r = q.rate;
    if (r.size() > 2 && r.compare(r.size() - 2, 2, "/s") == 0) r.resize(r.size() - 2);
    auto c = ParseCount(r, "--rate (runs per second, e.g. 10/s)", limits::kQueueRateMax);
    if (!c.ok()) return c.status();
    u.rate = c.value();
  }
  if (!q.weight.empty()) {
    auto c = ParseCount(q.weight, "--weight", limits::kQueueWeightMax);
    if (!c.ok()) return c.status();
    u.weight = c.value();
  }
  if (q.pause != nullptr && *q.pause) u.paused = true;
  if (q.resume != nullptr && *q.resume) u.paused = false;
  return u;
}

using jsonio::QueueToJson;

void Print(const std::vector<QueueInfo>& queues, bool json) {
  if (!json) return PrintQueues(std::cout, queues);
  for (const auto& q : queues)
    std::cout << QueueToJson(q).dump(-1, ' ', false, kInvalidUtf8Replaced) << "\n";
}

// The queues of the node the flags reach and of each of its alive peers.
int ListAll(const ClientFlags& f) {
  std::unique_ptr<Client> client;
  if (Status s = Connect(f, &client); !s.ok()) return Fail(s);
  auto mine = client->Queues();
  if (!mine.ok()) return Fail(mine.status());
  std::vector<QueueInfo> all = std::move(mine.value());
  int rc = kExitOk;
  auto stats = client->Stats();
  if (!stats.ok()) return Fail(stats.status());
  ClientOptions base;
  if (Status s = Options(f, &base); !s.ok()) return Fail(s);
  const uint32_t timeout_ms = base.request_timeout_ms;
  for (const auto& p : stats.value().peers) {
    if (p.state != "alive") continue;
    std::unique_ptr<Client> peer;
    Result<std::vector<QueueInfo>> theirs = Status::Unavailable("no connection");
    if (Status s = Client::Connect(base.Narrowed(p.endpoint, timeout_ms), &peer); s.ok())
      theirs = peer->Queues();
    if (!theirs.ok()) {
      std::cerr << "jobnet: node " << p.node << " at " << p.endpoint << ": "
                << theirs.status().ToString() << "\n";
      rc = std::max(rc, ExitCodeFor(theirs.status()));
      continue;
    }
    all.insert(all.end(), theirs.value().begin(), theirs.value().end());
  }
  Print(all, f.json);
  return rc;
}

}  // namespace

void PrintQueues(std::ostream& out, const std::vector<QueueInfo>& queues) {
  std::vector<std::vector<std::string>> rows;
  auto limit = [](uint32_t v, const char* unit) {
    return v == 0 ? std::string("-") : std::to_string(v) + unit;
  };
  for (const auto& q : queues) {
    const QueueSettings& s = q.settings;
    rows.push_back({q.node, s.name, QueueOrderName(s.order), std::to_string(q.queued),
                    std::to_string(q.delayed), std::to_string(q.running), std::to_string(q.dead),
                    std::to_string(q.oldest_wait_ms), limit(s.concurrency, ""), limit(s.rate, "/s"),
                    std::to_string(s.weight), s.paused ? "yes" : "no"});
  }
  PrintTable(out, {"NODE", "QUEUE", "ORDER", "QUEUED", "DELAYED", "RUNNING", "DEAD", "OLDEST_MS",
                   "CONCURRENCY", "RATE", "WEIGHT", "PAUSED"},
             rows);
}

void AddQueueCommands(CLI::App* app, QueueCommands* q, ClientFlags* f) {
  auto* queue = app->add_subcommand("queue", "change a queue's settings: set | pause | resume");
  queue->require_subcommand(1);
  q->set = queue->add_subcommand("set", "set a queue's order, limits or weight (on every node)");
  q->set->add_option("queue", q->name, "queue name")->required();
  q->set->add_option("--order", q->order, "fifo (default) or lifo: which ready job goes first");
  q->set->add_option("--concurrency", q->concurrency,
                     "runs of the queue at once per node, peers' included (0 = no limit, max " +
                         std::to_string(limits::kQueueConcurrencyMax) + ")");
  q->set->add_option("--rate", q->rate,
                     "runs started per second per node, e.g. 10/s (0 = no limit, max " +
                         std::to_string(limits::kQueueRateMax) + ")");
  q->set->add_option("--weight", q->weight,
                     "share against other queues with ready jobs (1.." +
                         std::to_string(limits::kQueueWeightMax) + ", default 1)");
  AddClientFlags(q->set, f);
  q->pause = queue->add_subcommand("pause", "accept submits to the queue but start none");
  q->pause->add_option("queue", q->name, "queue name")->required();
  AddClientFlags(q->pause, f);
  q->resume = queue->add_subcommand("resume", "start the queue's jobs again");
  q->resume->add_option("queue", q->name, "queue name")->required();
  AddClientFlags(q->resume, f);
  q->list = app->add_subcommand("queues", "each node's queues: settings, counts, oldest wait");
  AddClientFlags(q->list, f);
}

int RunQueueCommands(const QueueCommands& q, const ClientFlags& f) {
  if (q.list != nullptr && *q.list) return ListAll(f);
  bool change = (q.set != nullptr && *q.set) || (q.pause != nullptr && *q.pause) ||
                (q.resume != nullptr && *q.resume);
  if (!change) return -1;
  auto u = UpdateFrom(q);
  if (!u.ok()) return Fail(u.status());
  if (Status s = protocol::Validate(u.value()); !s.ok()) return Fail(s);
  std::unique_ptr<Client> client;
  if (Status s = Connect(f, &client); !s.ok()) return Fail(s);
  auto r = client->SetQueue(u.value());
  if (!r.ok()) return Fail(r.status());
  Print({r.value()}, f.json);
  return kExitOk;
}

}  // namespace jobnet::cli
