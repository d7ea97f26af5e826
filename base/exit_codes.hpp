// Every exit code of the jobnet binaries, in one place (docs/operations.md lists them).
// Scripts depend on these numbers: never renumber one, only add new ones.
#ifndef JOBNET_BASE_EXIT_CODES_HPP_
#define JOBNET_BASE_EXIT_CODES_HPP_

namespace jobnet::exit_code {

// ---- client commands and the journal tool ----
constexpr int kOk = 0;
constexpr int kError = 1;        // the node answered with an error, or a check failed
constexpr int kUsage = 2;        // bad flags or config, or a request rejected as invalid/too large
constexpr int kUnavailable = 3;  // no node reachable, or the request timed out
constexpr int kNotFound = 4;     // no such job

// ---- the node (`jobnet node`) ----
constexpr int kConfig = 2;       // bad configuration (same number as kUsage)
constexpr int kStorage = 5;      // journal locked, unreadable, damaged or the disk failed at start
constexpr int kListen = 6;       // cannot bind the listen endpoint
constexpr int kStuck = 7;        // drained and journaled, but a handler ignored cancellation
// With etcd: etcd cannot be reached at start, or another live node holds this node's shard.
constexpr int kCoordination = 8;
// A broken invariant or a failed journal write while running: the node stops at once, keeping
// what is durable, and a restart recovers from the journal (fail-stop). 70 is EX_SOFTWARE.
constexpr int kFailStop = 70;

static_assert(kConfig == kUsage, "a node's bad flags are a usage error like any command's");

}  // namespace jobnet::exit_code

#endif  // JOBNET_BASE_EXIT_CODES_HPP_
