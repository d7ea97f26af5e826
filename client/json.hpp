// Jobs as JSON: the one conversion shared by the CLI (--json lines), the HTTP face and tools.
// Field names and units are the output contract documented in docs/protocol.md ("JSON form").
#ifndef JOBNET_CLIENT_JSON_HPP_
#define JOBNET_CLIENT_JSON_HPP_

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "jobnet/events.h"
#include "jobnet/job.h"
#include "jobnet/queue.h"
#include "jobnet/status.h"

namespace jobnet::jsonio {

// Job data may hold any bytes: dump JSON with invalid UTF-8 replaced (U+FFFD), never throwing.
// Use as j.dump(-1, ' ', false, kInvalidUtf8Replaced).
constexpr auto kInvalidUtf8Replaced = nlohmann::json::error_handler_t::replace;

// Parses JSON text that nests at most `depth_max` arrays/objects. nlohmann's parser does not
// recurse, and nothing deeper is built, so no input can exhaust the stack here or in what
// later walks the value (dump, msgpack conversion: those recurse). kInvalidArgument for text
// that is not one JSON value, or nests deeper (the message names `what`).
Result<nlohmann::json> ParseJson(const std::string& text, uint32_t depth_max, const char* what);

// Parses JSON text into one msgpack value: a payload, so at most limits::kPayloadDepthMax deep.
Result<std::string> JsonToMsgpack(const std::string& json_text);
// One JSON value as one msgpack value. The conversion recurses: give it only values from
// ParseJson (or others whose depth is known to be small).
std::string JsonValueToMsgpack(const nlohmann::json& value);
// How deeply `value` nests arrays/objects (a scalar is 0, [[1]] is 2), walked without
// recursion; the walk stops as soon as it is past `stop` (and returns stop + 1).
uint32_t JsonDepth(const nlohmann::json& value, uint32_t stop);
// Renders one msgpack value as JSON (values JSON cannot hold become {"msgpack_hex": "..."}).
nlohmann::json MsgpackToJson(const std::string& bytes);

// The output contract: id, type, queue, state, result, error, attempts, created_at,
// started_at, finished_at (Unix ms), plus priority, max_attempts, run_at, key, reused_from, and for
// a job with a callback: callback, callback_state, callback_attempts, callback_next_at,
// callback_error.
nlohmann::json JobToJson(const JobInfo& job);
// A submit's answer: id, state, duplicate, plus reused_from and coalesced when set.
nlohmann::json SubmitResultToJson(const SubmitResult& r);

// A queue as `jobnet queues --json` prints it: node, name, order, queued, delayed, running,
// dead, oldest_wait_ms, concurrency, rate, weight, paused, updated_at, origin.
nlohmann::json QueueToJson(const QueueInfo& q);
// A worker slot as `jobnet workers --json` prints it: id, state, job, queue, type, since, retiring.
nlohmann::json WorkerSlotToJson(const WorkerSlot& w);
// An external worker as `jobnet workers --json` and GET /api/workers show it.
nlohmann::json ExternalWorkerToJson(const ExternalWorkerInfo& w);

// A job spec written as JSON: {"type": "echo", "payload": <any JSON>, "queue": "q",
// "priority": 0..255, "delay": 5000 | "5s", "run_at": <Unix ms>, "max_attempts": N,
// "backoff": ms | "2s", "timeout": ms | "30s", "key": "...", "callback": "https://...",
// "reuse": true}. Only `type` is required; an unknown field, a value of the wrong JSON type or out
// of range is kInvalidArgument naming the field (protocol::Validate then checks names and sizes as
// for any submit; the node checks the callback against its allow-list).
Result<JobSpec> JobSpecFromJson(const nlohmann::json& j);
// A job spec from its JSON text (an HTTP submit's body, a `submit --batch` line): parsed within
// the nesting bound, converted by JobSpecFromJson and checked by protocol::Validate, so it fails
// here with the code the node would answer (invalid_argument, too_large), never on the wire.
Result<JobSpec> JobSpecFromJsonText(const std::string& text);
// The body of POST /api/jobs/batch: a JSON array of specs, or {"jobs": [...]}, 1 to
// limits::kBatchSpecsMax of them. One entry per spec, in order: the spec (as JobSpecFromJsonText)
// or why it is refused. A bad spec, even one nested a million deep, fails only itself: the
// whole body fails (kInvalidArgument, kTooLarge over kBatchSpecsMax) only when it is not such a
// list.
Result<std::vector<Result<JobSpec>>> BatchFromJsonText(const std::string& text);
// A flow (POST /api/flows, `jobnet flow submit`): {"jobs": {"name": {job spec as above, plus
// "after": [names of the flow's jobs it waits for]}, ...}}, 1 to limits::kFlowJobsMax jobs.
// A flow is taken whole: any bad job fails it, naming the job.
Result<std::vector<FlowJob>> FlowFromJsonText(const std::string& text);
// {"flow": "<id of its first job>", "ids": {"name": "<job id>", ...}}.
nlohmann::json FlowResultToJson(const FlowResult& r);

// One event of the job event stream, as `jobnet events --json` prints it and as the `data:` of
// GET /api/events: seq, id, state, queue, type, at (Unix ms), attempt, plus node (into
// running) and error (ending a failed attempt) when they are set.
nlohmann::json StateEventToJson(const StateEvent& e);
// A schedule as `jobnet schedule list --json` prints it and GET /api/schedules answers; its
// spec in words ("*/5 * * * *", or "every 30s").
nlohmann::json ScheduleToJson(const ScheduleInfo& s);
std::string ScheduleSpecText(const ScheduleInfo& s);

// {"error": {"code": "not_found", "message": "..."}}: the one error shape of the JSON faces.
nlohmann::json ErrorToJson(const Status& s);

}  // namespace jobnet::jsonio

#endif  // JOBNET_CLIENT_JSON_HPP_
