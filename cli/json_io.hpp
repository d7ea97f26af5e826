// JSON <-> msgpack for the CLI, and how jobs are printed (JSON lines or a table).
#ifndef JOBNET_CLI_JSON_IO_HPP_
#define JOBNET_CLI_JSON_IO_HPP_

#include <nlohmann/json.hpp>

#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "client/json.hpp"
#include "jobnet/status.h"
#include "protocol/job_record.hpp"
#include "protocol/messages.hpp"

namespace jobnet::cli {

// The JSON form of jobs lives in the client library (client/json.hpp), shared with the HTTP face.
using jsonio::JobToJson;
using jsonio::JsonToMsgpack;
using jsonio::kInvalidUtf8Replaced;
using jsonio::MsgpackToJson;
using jsonio::SubmitResultToJson;

// JobToJson with the attempt history (status --history, journal show): `attempts` becomes the
// list of attempts ({"attempt", "node", "started_at", "ended_at", "error"}, oldest first), the
// count moves to `attempt_count`, and `attempts_dropped` counts attempts older than the list.
nlohmann::json JobWithHistoryToJson(const protocol::JobInfo& job);
// A full job record (journal tool): the above plus payload, seq and the spec.
nlohmann::json JobRecordToJson(const protocol::Job& job);

// An aligned table with a header row.
void PrintTable(std::ostream& out, const std::vector<std::string>& header,
                const std::vector<std::vector<std::string>>& rows);
void PrintJobsTable(std::ostream& out, const std::vector<protocol::JobInfo>& jobs);
// A table of the callbacks of those jobs that have one (URL, delivery state, attempts, next try,
// last error); nothing when none has.
void PrintCallbacks(std::ostream& out, const std::vector<protocol::JobInfo>& jobs);
// One row with fixed column widths (a cell wider than its column gets one space after it),
// for tables printed a row at a time; ends with std::endl, so each row is flushed.
void PrintFixedRow(std::ostream& out, const std::vector<size_t>& widths,
                   const std::vector<std::string>& row);
// One job as a table row with fixed column widths (and the header first when asked), for
// output that streams as jobs finish.
void PrintJobRow(std::ostream& out, const protocol::JobInfo& job, bool header);
std::string FormatTimeMs(uint64_t unix_ms);
// Nodes as `jobnet nodes` and `stats` show them. `idle[i]` is the i-th node's idle worker slots
// as that node itself reported them (nullopt, or `idle` shorter: not known). A peer's `free` is
// what its heartbeat advertises: its credit, idle slots plus hosted-queue places, which can
// exceed its workers, so the table shows IDLE/WORKERS and JSON has both `idle` and `free`.
nlohmann::json PeersToJson(const std::vector<protocol::PeerInfo>& peers,
                           const std::vector<std::optional<uint32_t>>& idle = {});
void PrintPeers(std::ostream& out, const std::vector<protocol::PeerInfo>& peers,
                const std::vector<std::optional<uint32_t>>& idle = {});

}  // namespace jobnet::cli

#endif  // JOBNET_CLI_JSON_IO_HPP_
