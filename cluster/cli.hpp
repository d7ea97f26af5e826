// The `jobnet` command line: node, client commands and the journal tool.
//
// Exit codes: base/exit_codes.hpp (docs/operations.md lists them).
#ifndef JOBNET_CLUSTER_CLI_HPP_
#define JOBNET_CLUSTER_CLI_HPP_

#include <string>

#include "base/exit_codes.hpp"
#include "jobnet/status.h"

namespace jobnet::cli {

constexpr int kExitOk = exit_code::kOk;
constexpr int kExitError = exit_code::kError;
constexpr int kExitUsage = exit_code::kUsage;
constexpr int kExitUnavailable = exit_code::kUnavailable;
constexpr int kExitNotFound = exit_code::kNotFound;
constexpr int kExitJournal = exit_code::kStorage;

int ExitCodeFor(const Status& s);
int Main(int argc, char** argv);

// `jobnet journal DIR ACTION`: read-only inspection of a stopped node's journal.
int JournalCommand(const std::string& dir, const std::string& action, const std::string& job_id,
                   bool json);

}  // namespace jobnet::cli

#endif  // JOBNET_CLUSTER_CLI_HPP_
