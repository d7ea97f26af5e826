// `jobnet` subcommands of batches and bulk actions: submit --batch, retry/cancel --all, types,
// and the attempt history of status --history. Exit codes as cli.hpp.
#ifndef JOBNET_CLI_CLI_BATCH_HPP_
#define JOBNET_CLI_CLI_BATCH_HPP_

#include <istream>
#include <ostream>
#include <string>
#include <vector>

#include "jobnet/client.h"

namespace jobnet::cli {

// Reads JSON lines (one job spec per line) from `in` and submits them in batches of up to
// limits::kBatchSpecsMax. Prints one line per spec, in input order: with json the job
// ({"line", "id", "state", "duplicate"}) or {"line", "error": {"code", "message"}}; without,
// the id on stdout and the error on stderr. Blank lines are skipped (they keep their number).
// Returns the highest exit code of any spec (0 when all were accepted). A request whose answer
// was lost (timeout, lost connection) is said on stderr: its jobs may exist. With no `client`
// (the connect failed) every spec is answered with `unreachable`, and nothing is sent.
int SubmitBatchLines(Client* client, const Status& unreachable, std::istream& in, bool json);

// Runs the bulk action on each endpoint in turn (jobs belong to the node that owns them) and
// prints what each touched and the total. Returns the highest exit code.
int RunBulkOnEach(const ClientOptions& options, const BulkQuery& query, bool json);

// `jobnet types`: the node's handlers, with payload and result.
int PrintTypes(Client& client, bool json);

// The attempt history of one job as a table (status --history without --json).
void PrintHistory(std::ostream& out, const JobInfo& job);

}  // namespace jobnet::cli

#endif  // JOBNET_CLI_CLI_BATCH_HPP_
