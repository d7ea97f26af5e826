// The `jobnet` command line: node, client commands and the journal tool.
//
// Exit codes: base/exit_codes.hpp (docs/operations.md lists them).
#ifndef JOBNET_CLI_CLI_HPP_
#define JOBNET_CLI_CLI_HPP_

#include <functional>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "base/exit_codes.hpp"
#include "jobnet/client.h"
#include "jobnet/limits.h"
#include "jobnet/status.h"

namespace jobnet {
struct NodeConfig;  // node/config.hpp
}

namespace CLI {
class App;
}

namespace jobnet::cli {

constexpr int kExitOk = exit_code::kOk;
constexpr int kExitError = exit_code::kError;
constexpr int kExitUsage = exit_code::kUsage;
constexpr int kExitUnavailable = exit_code::kUnavailable;
constexpr int kExitNotFound = exit_code::kNotFound;
constexpr int kExitJournal = exit_code::kStorage;

int ExitCodeFor(const Status& s);

// ---- shared by the subcommand files (cli.cpp, cli_*.cpp) ----
// The flags of every command that talks to a node.
struct ClientFlags {
  std::string to;
  bool json = false;
  std::string request_timeout = std::to_string(limits::kRequestTimeoutMsDefault) + "ms";
  std::string key;         // --key-file: CURVE key file (else $JOBNET_KEY)
  std::string server_key;  // the nodes' public key (Z85), for --to endpoints
  std::string cluster;     // a cluster.json (else $JOBNET_CLUSTER): endpoints and node keys
};
void AddClientFlags(CLI::App* cmd, ClientFlags* f);
// Prints "jobnet: <status>" to stderr; returns the exit code for it.
int Fail(const Status& s);
// Parses an optional duration flag into *ms (left as it is when the flag is empty); -1 when it
// is fine, else the usage error's exit code after printing it.
int DurationFlag(const std::string& text, uint64_t* ms);
// Waits for every id to reach a final state, printing each as it does (`jobnet wait`); the exit
// code of the worst outcome.
int WaitAll(Client& client, const ClientFlags& f, const std::vector<std::string>& ids,
            uint32_t request_ms);
// The client options of the flags: the endpoints (--to, else $JOBNET_ENDPOINTS, else the
// cluster file's), --request-timeout, and the CURVE keys (--key / $JOBNET_KEY, the nodes' keys
// from --server-key or the cluster file).
Status Options(const ClientFlags& f, ClientOptions* o);
// The CURVE part of Options: the client's key, the nodes' keys, and with a cluster file and
// no other endpoints given, the cluster's endpoints (cli_keys.cpp).
Status ClientSecurity(const ClientFlags& f, ClientOptions* o);
// Connects as the flags say.
Status Connect(const ClientFlags& f, std::unique_ptr<Client>* client);

// `jobnet keys new FILE | show` and `jobnet principals add|remove|list` (cli_keys.cpp).
std::function<int()> AddKeysCommands(CLI::App* app);
std::function<int()> AddPrincipalsCommands(CLI::App* app, ClientFlags* f);

// `jobnet schedule add|list|remove|pause|resume` (cli_schedule.cpp): adds the subcommands to
// `app`; after parsing, if `schedule` was given, call the returned function to run it.
std::function<int()> AddScheduleCommands(CLI::App* app);
// Runs the command line. `run_node` runs `jobnet node` with its resolved config; the node
// binary passes RunNode (node/node.hpp), so the client binary links none of the node runtime.
int Main(int argc, char** argv, int (*run_node)(const NodeConfig&));
// `jobnet blob put|get` and `jobnet result` (cli_blobs.cpp): adds them to `app`; the returned
// function runs the one that was parsed, or returns -1 if none was.
std::function<int()> AddBlobCommands(CLI::App* app);

// `jobnet flow submit FILE | show ID` (cli_flows.cpp): adds them to `app`; the returned
// function runs the one that was parsed, or returns -1 if none was.
std::function<int()> AddFlowCommands(CLI::App* app, ClientFlags* f);

// `jobnet workers [set N]` (cli_workers.cpp).
struct WorkersFlags {
  std::string action;  // empty: list; "set"; "autoscale"
  std::string count;   // N for set; "off" for autoscale
  std::string min, max, target_wait, quiet;  // for autoscale
};
CLI::App* AddWorkersCommand(CLI::App& app, WorkersFlags* wf, ClientFlags* f);
int RunWorkers(const WorkersFlags& wf, const ClientFlags& f);

// `jobnet queue set|pause|resume Q` and `jobnet queues` (cli/cli_queues.cpp).
struct QueueCommands {
  CLI::App* set = nullptr;
  CLI::App* pause = nullptr;
  CLI::App* resume = nullptr;
  CLI::App* list = nullptr;
  std::string name;
  std::string order, concurrency, rate, weight;  // as typed; empty = unchanged
};
void AddQueueCommands(CLI::App* app, QueueCommands* q, ClientFlags* f);
// Runs the queue command that was parsed; -1 if none was.
int RunQueueCommands(const QueueCommands& q, const ClientFlags& f);
// The queues table (`jobnet queues`, `jobnet stats`).
void PrintQueues(std::ostream& out, const std::vector<QueueInfo>& queues);

// `jobnet events [--queue Q] [--job ID] [--since SEQ] [--no-follow]` (cli/cli_events.cpp).
struct EventsFlags {
  std::string queue;
  std::string job;
  uint64_t since = 0;
  bool follow = true;
};
CLI::App* AddEventsCommand(CLI::App& app, EventsFlags* ef, ClientFlags* f);
int RunEvents(const EventsFlags& ef, const ClientFlags& f);

// `jobnet journal DIR ACTION`: read-only inspection of a stopped node's journal.
int JournalCommand(const std::string& dir, const std::string& action, const std::string& job_id,
                   bool json);

}  // namespace jobnet::cli

#endif  // JOBNET_CLI_CLI_HPP_
