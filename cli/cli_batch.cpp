// `jobnet submit --batch`, `retry --all`, `cancel --all`, `types` and status --history output.
#include "cli/cli_batch.hpp"

#include <algorithm>
#include <iostream>
#include <optional>

#include "cli/cli.hpp"
#include "cli/json_io.hpp"
#include "jobnet/limits.h"
#include "protocol/messages.hpp"

namespace jobnet::cli {
namespace {

// One line of `submit --batch`: a JSON job spec, the one the HTTP face takes (client/json.hpp),
// with the fields and units of `jobnet submit`, within the same nesting bound.
Status ParseSpecLine(const std::string& line, JobSpec* spec) {
  auto parsed = jsonio::JobSpecFromJsonText(line);
  if (!parsed.ok()) return parsed.status();
  *spec = std::move(parsed.value());
  return Status::OK();
}

// What became of one input line.
struct LineResult {
  uint64_t line = 0;
  Status status;
  SubmitResult submitted;
};

void PrintLine(const LineResult& r, bool json, int* rc) {
  if (!r.status.ok()) *rc = std::max(*rc, ExitCodeFor(r.status));
  if (json) {
    nlohmann::json o;
    if (r.status.ok()) {
      o = SubmitResultToJson(r.submitted);
      o["line"] = r.line;
    } else {
      o["line"] = r.line;
      o["error"] = {{"code", CodeName(r.status.code())}, {"message", r.status.message()}};
    }
    std::cout << o.dump(-1, ' ', false, kInvalidUtf8Replaced) << "\n";
  } else if (r.status.ok()) {
    std::cout << r.submitted.id << (r.submitted.duplicate ? " (existing job for this key)" : "")
              << "\n";
  } else {
    std::cerr << "jobnet: line " << r.line << ": " << r.status.ToString() << "\n";
  }
}

// Whether a batch request that failed may still have been carried out: the node may have
// journaled it and its answer was lost (no answer in time, a lost connection, a garbled reply).
bool OutcomeUnknown(const Status& s) {
  return s.IsTimeout() || s.IsUnavailable() || s.IsCorruption() || s.code() == Code::kInternal;
}

}  // namespace

int SubmitBatchLines(Client* client, const Status& unreachable, std::istream& in, bool json) {
  int rc = kExitOk;
  std::vector<LineResult> results;   // this chunk's lines, in order
  std::vector<JobSpec> specs;        // the parsed ones among them
  std::vector<size_t> spec_result;   // specs[i] answers results[spec_result[i]]
  uint64_t bytes = 0;
  bool stopped = false;
  auto flush = [&]() {
    if (!specs.empty()) {
      // Without a client every spec gets the connect error: nothing was sent.
      auto r = client != nullptr ? client->SubmitBatch(specs)
                                 : Result<std::vector<BatchItemResult>>(unreachable);
      for (size_t i = 0; i < specs.size(); ++i) {
        LineResult& lr = results[spec_result[i]];
        if (!r.ok()) {
          lr.status = r.status();  // the whole request failed: each of its specs says so
        } else {
          lr.status = r.value()[i].status;
          lr.submitted = r.value()[i].submitted;
        }
      }
      if (client != nullptr && !r.ok() && OutcomeUnknown(r.status()))
        std::cerr << "jobnet: lines " << results[spec_result.front()].line << ".."
                  << results[spec_result.back()].line
                  << ": the node's answer was lost, so those jobs may exist. Submitting the same "
                     "file again is safe for lines that carry a \"key\" (the node answers the job "
                     "it already has); a line without one may then run twice\n";
      if (client != nullptr && !r.ok() && !r.status().IsInvalidArgument() &&
          !r.status().IsTooLarge())
        stopped = true;
    }
    for (const auto& lr : results) PrintLine(lr, json, &rc);
    std::cout.flush();
    results.clear();
    specs.clear();
    spec_result.clear();
    bytes = 0;
  };
  std::string line;
  uint64_t line_no = 0;
  while (!stopped && std::getline(in, line)) {
    ++line_no;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    JobSpec spec;
    Status s = ParseSpecLine(line, &spec);
    uint64_t size = protocol::BatchSpecBytes(spec);
    if (s.ok() && !specs.empty() &&
        (specs.size() == limits::kBatchSpecsMax || bytes + size > limits::kBatchFrameSpecBytesMax))
      flush();
    results.push_back(LineResult{line_no, s, {}});
    if (s.ok()) {
      specs.push_back(std::move(spec));
      spec_result.push_back(results.size() - 1);
      bytes += size;
    }
  }
  flush();
  if (stopped)
    std::cerr << "jobnet: stopped after line " << line_no
              << ": the node did not take the batch; later lines were not submitted\n";
  return rc;
}

int RunBulkOnEach(const ClientOptions& options, const BulkQuery& query, bool json) {
  int rc = kExitOk;
  uint64_t total = 0;
  for (const auto& ep : options.endpoints) {
    std::unique_ptr<Client> client;
    Status s = Client::Connect(options.Narrowed(ep, options.request_timeout_ms), &client);
    Result<BulkResult> r = s.ok() ? client->Bulk(query) : Result<BulkResult>(s);
    if (!r.ok()) {
      std::cerr << "jobnet: " << ep << ": " << r.status().ToString() << "\n";
      rc = std::max(rc, ExitCodeFor(r.status()));
      continue;
    }
    total += r.value().touched;
    if (json) {
      std::cout << nlohmann::json{{"endpoint", ep},
                                  {"touched", r.value().touched},
                                  {"matched", r.value().matched}}
                       .dump(-1, ' ', false, kInvalidUtf8Replaced)
                << "\n";
    } else {
      std::cout << ep << ": " << r.value().touched << " job(s) "
                << (query.action == BulkAction::kRetry ? "retried" : "cancelled");
      if (r.value().matched > r.value().touched)
        std::cout << " (" << r.value().matched - r.value().touched << " refused)";
      std::cout << "\n";
    }
  }
  if (!json && options.endpoints.size() > 1) std::cout << "total: " << total << "\n";
  return rc;
}

int PrintTypes(Client& client, bool json) {
  auto r = client.Types();
  if (!r.ok()) {
    std::cerr << "jobnet: " << r.status().ToString() << "\n";
    return ExitCodeFor(r.status());
  }
  if (json) {
    for (const auto& h : r.value())
      std::cout << nlohmann::json{{"type", h.type}, {"payload", h.payload}, {"result", h.result}}
                       .dump(-1, ' ', false, kInvalidUtf8Replaced)
                << "\n";
    return kExitOk;
  }
  std::vector<std::vector<std::string>> rows;
  for (const auto& h : r.value()) rows.push_back({h.type, h.payload, h.result});
  PrintTable(std::cout, {"TYPE", "PAYLOAD", "RESULT"}, rows);
  return kExitOk;
}

void PrintHistory(std::ostream& out, const JobInfo& job) {
  out << job.id << ": " << job.history.size() << " attempt(s) shown";
  if (job.history_dropped > 0) out << ", " << job.history_dropped << " older dropped";
  out << "\n";
  std::vector<std::vector<std::string>> rows;
  for (const auto& a : job.history)
    rows.push_back({std::to_string(a.attempt), a.node, FormatTimeMs(a.started_at_ms),
                    a.ended_at_ms ? FormatTimeMs(a.ended_at_ms) : "running",
                    a.error.empty() ? "-" : a.error});
  PrintTable(out, {"ATTEMPT", "NODE", "STARTED", "ENDED", "ERROR"}, rows);
}

}  // namespace jobnet::cli
