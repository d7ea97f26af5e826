// The node's logs on stderr, as text or as JSON lines (docs/operations.md "Logs").
#ifndef JOBNET_NODE_LOGGING_HPP_
#define JOBNET_NODE_LOGGING_HPP_

#include <string>

namespace jobnet {

// Sets up two loggers on one stderr sink: the default one ("jobnet") and "job", which carries
// one line per job state change at debug level (`--log-level debug`). Its messages are
// "ID\tSTATE\tATTEMPT\tTEXT" (actors/scheduler.cpp writes them); the formatter turns them into
// "job ID STATE (attempt N): TEXT", or into the fields job, state, attempt and msg of a JSON
// line, so a job can be followed by its id. `format` is "text" or "json" (checked by the config).
void SetUpLogging(const std::string& node_id, const std::string& format);

}  // namespace jobnet

#endif  // JOBNET_NODE_LOGGING_HPP_
