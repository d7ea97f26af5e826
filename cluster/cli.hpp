// The `jobnet` command line: node, client commands and the journal tool.
//
// Exit codes (docs/operations.md): 0 ok; 1 the node answered with an error (conflict,
// overloaded, draining, internal...) or a check failed; 2 usage error or a request the node
// rejected as invalid or too large; 3 no node reachable / request timed out; 4 job not found;
// 5 journal locked, unreadable or a storage failure; 6 cannot listen.
#ifndef JOBNET_CLUSTER_CLI_HPP_
#define JOBNET_CLUSTER_CLI_HPP_

#include <string>

#include "jobnet/status.h"

namespace jobnet::cli {

constexpr int kExitOk = 0;
constexpr int kExitError = 1;
constexpr int kExitUsage = 2;
constexpr int kExitUnavailable = 3;
constexpr int kExitNotFound = 4;
constexpr int kExitJournal = 5;

int ExitCodeFor(const Status& s);
int Main(int argc, char** argv);

// `jobnet journal DIR ACTION`: read-only inspection of a stopped node's journal.
int JournalCommand(const std::string& dir, const std::string& action, const std::string& job_id,
                   bool json);

}  // namespace jobnet::cli

#endif  // JOBNET_CLUSTER_CLI_HPP_
