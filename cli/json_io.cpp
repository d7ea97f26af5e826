// JSON conversions and job printing for the CLI.
#include "cli/json_io.hpp"

#include <ctime>
#include <iomanip>
#include <sstream>

namespace jobnet::cli {

nlohmann::json JobWithHistoryToJson(const protocol::JobInfo& j) {
  nlohmann::json o = JobToJson(j);
  nlohmann::json list = nlohmann::json::array();
  for (const auto& a : j.history)
    list.push_back(nlohmann::json{{"attempt", a.attempt},
                                  {"node", a.node},
                                  {"started_at", a.started_at_ms},
                                  {"ended_at", a.ended_at_ms},
                                  {"error", a.error.empty() ? nlohmann::json(nullptr)
                                                            : nlohmann::json(a.error)}});
  o["attempt_count"] = j.attempts;
  o["attempts"] = std::move(list);
  o["attempts_dropped"] = j.history_dropped;
  return o;
}

nlohmann::json JobRecordToJson(const protocol::Job& job) {
  nlohmann::json o = JobToJson(job.Info());
  o["seq"] = job.seq;
  o["payload"] = MsgpackToJson(job.spec.payload);
  o["timeout_ms"] = job.spec.timeout_ms;
  o["backoff_ms"] = job.spec.backoff_ms;
  o["events"] = job.events;
  return o;
}

std::string FormatTimeMs(uint64_t unix_ms) {
  if (unix_ms == 0) return "-";
  std::time_t secs = static_cast<std::time_t>(unix_ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  std::ostringstream s;
  s << std::put_time(&tm, "%Y-%m-%dT%H:%M:%S") << '.' << std::setw(3) << std::setfill('0')
    << unix_ms % 1000 << 'Z';
  return s.str();
}

void PrintTable(std::ostream& out, const std::vector<std::string>& header,
                const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> width(header.size());
  for (size_t i = 0; i < header.size(); ++i) width[i] = header[i].size();
  for (const auto& r : rows)
    for (size_t i = 0; i < r.size() && i < width.size(); ++i) width[i] = std::max(width[i], r[i].size());
  auto line = [&](const std::vector<std::string>& r) {
    for (size_t i = 0; i < r.size(); ++i) {
      out << r[i];
      if (i + 1 < r.size()) out << std::string(width[i] - r[i].size() + 2, ' ');
    }
    out << '\n';
  };
  line(header);
  for (const auto& r : rows) line(r);
}

namespace {
const std::vector<std::string> kJobHeader = {"ID",       "TYPE",    "QUEUE",       "STATE",
                                             "ATTEMPTS", "CREATED", "RESULT/ERROR"};

std::vector<std::string> JobRow(const protocol::JobInfo& j) {
  std::string result = j.state == protocol::JobState::kSucceeded
                           ? MsgpackToJson(j.result).dump(-1, ' ', false, kInvalidUtf8Replaced)
                           : j.error;
  std::string state = protocol::JobStateName(j.state);
  if (j.state == protocol::JobState::kRunning && (j.progress != 0 || !j.progress_message.empty())) {
    // A running job shows how far it got, and its progress message in place of a result.
    state += " " + std::to_string(j.progress) + "%";
    if (!j.progress_message.empty()) result = j.progress_message;
  }
  if (result.size() > 60) result = result.substr(0, 57) + "...";
  return {j.id, j.type, j.queue, state,
          std::to_string(j.attempts) + "/" + std::to_string(j.max_attempts),
          FormatTimeMs(j.created_at_ms), result};
}
}  // namespace

void PrintJobsTable(std::ostream& out, const std::vector<protocol::JobInfo>& jobs) {
  std::vector<std::vector<std::string>> rows;
  for (const auto& j : jobs) rows.push_back(JobRow(j));
  PrintTable(out, kJobHeader, rows);
}

void PrintCallbacks(std::ostream& out, const std::vector<protocol::JobInfo>& jobs) {
  std::vector<std::vector<std::string>> rows;
  for (const auto& j : jobs) {
    if (j.callback.empty()) continue;
    rows.push_back({j.id, j.callback, CallbackStateName(j.callback_state),
                    std::to_string(j.callback_attempts), FormatTimeMs(j.callback_next_at_ms),
                    j.callback_error.empty() ? "-" : j.callback_error});
  }
  if (rows.empty()) return;
  out << "\n";
  PrintTable(out, {"ID", "CALLBACK", "DELIVERY", "ATTEMPTS", "NEXT TRY", "LAST ERROR"}, rows);
}

void PrintFixedRow(std::ostream& out, const std::vector<size_t>& widths,
                   const std::vector<std::string>& row) {
  for (size_t i = 0; i < row.size(); ++i) {
    out << row[i];
    size_t w = i < widths.size() ? widths[i] : 0;
    if (i + 1 < row.size()) out << std::string(row[i].size() < w ? w - row[i].size() : 1, ' ');
  }
  out << std::endl;
}

void PrintJobRow(std::ostream& out, const protocol::JobInfo& job, bool header) {
  // Fixed widths: rows printed one at a time (as jobs finish) still line up.
  static const std::vector<size_t> kWidths = {16, 12, 10, 11, 10, 26};
  if (header) PrintFixedRow(out, kWidths, kJobHeader);
  PrintFixedRow(out, kWidths, JobRow(job));
}

namespace {
std::optional<uint32_t> IdleAt(const std::vector<std::optional<uint32_t>>& idle, size_t i) {
  return i < idle.size() ? idle[i] : std::nullopt;
}
}  // namespace

nlohmann::json PeersToJson(const std::vector<protocol::PeerInfo>& peers,
                           const std::vector<std::optional<uint32_t>>& idle) {
  nlohmann::json a = nlohmann::json::array();
  for (size_t i = 0; i < peers.size(); ++i) {
    const auto& p = peers[i];
    auto n = IdleAt(idle, i);
    a.push_back({{"node", p.node},         {"endpoint", p.endpoint}, {"state", p.state},
                 {"incarnation", p.incarnation}, {"workers", p.workers},
                 {"idle", n ? nlohmann::json(*n) : nlohmann::json(nullptr)}, {"free", p.free},
                 {"queued", p.queued},     {"last_seen", p.last_seen_ms}, {"leases", p.leases}});
  }
  return a;
}

void PrintPeers(std::ostream& out, const std::vector<protocol::PeerInfo>& peers,
                const std::vector<std::optional<uint32_t>>& idle) {
  std::vector<std::vector<std::string>> rows;
  for (size_t i = 0; i < peers.size(); ++i) {
    const auto& p = peers[i];
    auto n = IdleAt(idle, i);
    rows.push_back({p.node.empty() ? "?" : p.node, p.endpoint, p.state,
                    std::to_string(p.incarnation),
                    (n ? std::to_string(*n) : "-") + "/" + std::to_string(p.workers),
                    std::to_string(p.queued), std::to_string(p.leases), FormatTimeMs(p.last_seen_ms)});
  }
  PrintTable(out, {"NODE", "ENDPOINT", "STATE", "INCARNATION", "IDLE/WORKERS", "QUEUED", "LEASES",
                   "LAST SEEN"},
             rows);
}

}  // namespace jobnet::cli
