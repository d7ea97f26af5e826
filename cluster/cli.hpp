// The `jobnet` command line: node, client commands and the journal tool.
//
// Exit codes: base/exit_codes.hpp (docs/operations.md lists them).
#ifndef JOBNET_CLUSTER_CLI_HPP_
#define JOBNET_CLUSTER_CLI_HPP_

#include <memory>
#include <string>

#include "base/exit_codes.hpp"
#include "jobnet/client.h"
#include "jobnet/limits.h"
#include "jobnet/status.h"

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
int Main(int argc, char** argv);

// The flags every client command takes: --to, --json, --request-timeout.
struct ClientFlags {
  std::string to;
  bool json = false;
  std::string request_timeout = std::to_string(limits::kRequestTimeoutMsDefault) + "ms";
};
void AddClientFlags(CLI::App* cmd, ClientFlags* f);
// Prints the status to stderr and returns its exit code.
int Fail(const Status& s);
// Connects to the endpoints of --to (else $JOBNET_ENDPOINTS, else the default).
Status Connect(const ClientFlags& f, std::unique_ptr<Client>* client);

// `jobnet workers [set N]` (cli_workers.cpp).
struct WorkersFlags {
  std::string action;  // empty: list; "set"
  std::string count;   // N for set
};
CLI::App* AddWorkersCommand(CLI::App& app, WorkersFlags* wf, ClientFlags* f);
int RunWorkers(const WorkersFlags& wf, const ClientFlags& f);

// `jobnet journal DIR ACTION`: read-only inspection of a stopped node's journal.
int JournalCommand(const std::string& dir, const std::string& action, const std::string& job_id,
                   bool json);

}  // namespace jobnet::cli

#endif  // JOBNET_CLUSTER_CLI_HPP_
