// Every limit of jobnet, in one place. Each has a reason; exceeding one is a typed error
// (kTooLarge, kInvalidArgument or kOverloaded), never a crash or unbounded growth.
#ifndef JOBNET_LIMITS_H_
#define JOBNET_LIMITS_H_

#include <cstdint>

namespace jobnet::limits {

// Wire protocol version spoken by this build. A frame with another version gets kUnsupportedVersion.
constexpr uint32_t kProtocolVersion = 1;

// A job payload (any msgpack value) and a handler's result: 1 MiB keeps one job cheap to journal.
constexpr uint32_t kPayloadBytesMax = 1u << 20;
constexpr uint32_t kResultBytesMax = 1u << 20;
// Everything in a frame except payload/result: names, ids, numbers, error text.
constexpr uint32_t kEnvelopeBytesMax = 64u << 10;
// A frame must carry the largest payload plus its envelope.
constexpr uint32_t kFrameBytesMax = kPayloadBytesMax + kEnvelopeBytesMax;
static_assert(kFrameBytesMax > kPayloadBytesMax, "envelope must not be empty");
// A list reply carries up to kListLimitMax jobs without payloads; it gets a larger frame.
constexpr uint32_t kListLimitMax = 1000;
constexpr uint32_t kReplyFrameBytesMax = 8u * kFrameBytesMax;
static_assert(kReplyFrameBytesMax >= kFrameBytesMax + kResultBytesMax, "a job reply must fit");

// Nesting: ONE bound for every door (HTTP bodies, CLI payloads and batch lines, wire frames,
// journal records, the Python client). A payload or a result may nest this many arrays/maps
// (JSON [[1]] and msgpack [[1]] are 2 deep; a scalar is 0): far past real job data, and it keeps
// every reader's recursion (nlohmann's dump and msgpack conversion, msgpack-c's pack) shallow.
// Deeper input is kInvalidArgument at once, at the face that read it.
constexpr uint32_t kPayloadDepthMax = 32;
// The most containers any message wraps a payload or result in: a job_list reply, a
// submit_batch and a worker_jobs reply put it at frame array > body map > array > map
// (a submit, job reply, remote run or journal record use 2). The protocol test builds the
// deepest legal payload into every message that carries one.
constexpr uint32_t kPayloadEnvelopeDepthMax = 4;
// Decoder bounds: nesting depth and elements per array/map. A frame holding the deepest payload
// in the deepest envelope decodes, so a job that was accepted can always be listed, shown,
// exported and replicated. The msgpack decoder allocates an array's slots from its header, so
// these cap what a hostile frame can make it allocate (an unfinished chain of depth headers of
// items each, 24 bytes a slot: about 56 MiB transiently, freed at once).
constexpr uint32_t kDepthMax = kPayloadDepthMax + kPayloadEnvelopeDepthMax;
static_assert(kDepthMax == 36, "the wire's nesting bound is part of the protocol (docs/protocol.md §8)");
constexpr uint32_t kContainerItemsMax = 65536;
// JSON documents that carry payloads wrap them too: a job spec in an object (1), a batch body
// {"jobs": [spec]} in up to 3. A JSON reader that takes specs is bounded by this.
constexpr uint32_t kJsonSpecEnvelopeDepthMax = 3;
static_assert(kJsonSpecEnvelopeDepthMax <= kPayloadEnvelopeDepthMax,
              "what a JSON body carries fits a frame");

// Names: short, printable, used as map keys and in logs.
constexpr uint32_t kTypeNameBytesMax = 64;
constexpr uint32_t kQueueNameBytesMax = 64;
constexpr uint32_t kNodeIdBytesMax = 32;
constexpr uint32_t kIdempotencyKeyBytesMax = 128;
// A job's label (JobSpec::label): a short human description shown in status and lists, e.g.
// "invoice 2024-117 for acme"; long enough for a sentence, short enough that a full list page of
// labelled jobs stays small.
constexpr uint32_t kLabelBytesMax = 256;
// A job id is "<node>-<seq>": node id, dash, up to 20 decimal digits.
constexpr uint32_t kJobIdBytesMax = kNodeIdBytesMax + 1 + 20;
constexpr uint32_t kErrorMessageBytesMax = 4096;
constexpr uint32_t kEndpointBytesMax = 256;  // "tcp://host:port"
constexpr uint32_t kPeersMax = 64;           // peer links per node

// Job spec bounds.
constexpr uint32_t kPriorityMax = 255;            // higher runs first; default 0
constexpr uint32_t kMaxAttemptsMax = 100;         // retries beyond this are a bug in the caller
constexpr uint32_t kMaxAttemptsDefault = 3;
constexpr uint64_t kTimeoutMsMax = 24ull * 3600 * 1000;   // a lease longer than a day is a mistake
constexpr uint64_t kTimeoutMsDefault = 30000;
constexpr uint64_t kDelayMsMax = 366ull * 24 * 3600 * 1000;  // about a year ahead
constexpr uint64_t kBackoffMsDefault = 1000;
constexpr uint64_t kBackoffMsMax = 3600ull * 1000;        // cap of one retry delay: one hour
// The autoscaler's target wait and quiet period (docs/operations.md §13).
constexpr uint64_t kAutoscaleMsMin = 10;
constexpr uint64_t kAutoscaleMsMax = 24ull * 3600 * 1000;
constexpr uint64_t kWaitTimeoutMsMax = 3600ull * 1000;
constexpr uint64_t kWaitTimeoutMsDefault = 30000;

// Node capacity. Past these the node answers kOverloaded instead of growing.
constexpr uint32_t kPendingRequestsMax = 120000;  // requests received and not yet answered
// Bytes of request frames in flight: a flood of 1 MiB submits is refused, not buffered.
constexpr uint64_t kPendingBytesMax = 256ull << 20;
static_assert(kPendingBytesMax >= 64ull * kFrameBytesMax, "many large requests fit at once");
constexpr uint32_t kJobsLiveMax = 2000000;        // jobs not yet in a final state, per node
constexpr uint32_t kWaitersPerJobMax = 10000;
constexpr uint32_t kWaitersMax = 100000;
// Worker slots of one node (`--workers`, `jobnet workers set`). Each slot is a thread, and the
// run marks file keeps one 16-byte record per slot, armed for all of them at start (16 KiB).
constexpr uint32_t kWorkersMax = 1024;
constexpr uint32_t kQueuesMax = 10000;
static_assert(kWaitersMax >= kWaitersPerJobMax, "one job may hold all its waiters");
// Queue settings (docs/architecture.md §14). 0 means "no limit" for concurrency and rate.
// Concurrency counts runs on this node's slots and its leases to peers: past 64 peers of 256
// slots nothing more can run at once anyway.
constexpr uint32_t kQueueConcurrencyMax = 65536;
// Runs started per second per queue; past this a token bucket costs more than it limits.
constexpr uint32_t kQueueRateMax = 1000000;
// A queue's share against others; 1..1000 keeps the stride (kQueueStrideOne / weight) exact
// enough and the largest ratio between two queues at 1000:1.
constexpr uint32_t kQueueWeightMax = 1000;
constexpr uint64_t kQueueStrideOne = 1ull << 20;
static_assert(kQueueStrideOne / kQueueWeightMax >= 1000, "strides of different weights stay distinct");
// Queues with settings per node (journaled, sent to peers); the same bound as queues with jobs.
constexpr uint32_t kQueueSettingsMax = kQueuesMax;
// Priority aging in a FIFO queue: a job is overtaken only by jobs that became ready less than
// (their priority - its priority) * this many ms after it. At 100 ms, priority 255 over
// priority 0 is a 25.5 s head start, and no job waits behind newcomers longer than that.
constexpr uint64_t kPriorityAgingMsPerLevel = 100;
// Queue settings per queue_sync frame: about 150 bytes each, well inside one frame.
constexpr uint32_t kQueueSyncPerFrameMax = 1000;
static_assert(kQueueSyncPerFrameMax * 256 < kFrameBytesMax, "a sync frame of 256-byte settings fits");

static_assert(kPendingRequestsMax > kWaitersMax, "every waiter is a pending request");

// Schedules (recurring jobs, docs/protocol.md "Schedules"). A schedule list reply from every node of a
// full cluster must fit one reply frame, so schedules per node are few: a recurring job is a
// configuration item, and a hundred per node is far past what one node's operator writes.
constexpr uint32_t kScheduleNameBytesMax = 64;
constexpr uint32_t kCronBytesMax = 128;             // "0,5,10,... * * * *" spelled out fits
constexpr uint32_t kSchedulesPerNodeMax = 100;
constexpr uint64_t kScheduleEveryMsMin = 1000;      // the node's timer is coarser than 1 ms anyway
constexpr uint64_t kScheduleEveryMsMax = 366ull * 24 * 3600 * 1000;  // a year; longer: use cron
// One schedule in a list reply: its names, spec, times and last job id, with map keys.
constexpr uint32_t kScheduleInfoBytesMax =
    kScheduleNameBytesMax + kNodeIdBytesMax + kCronBytesMax + kTypeNameBytesMax +
    kQueueNameBytesMax + kJobIdBytesMax + 256;
static_assert((kPeersMax + 1) * kSchedulesPerNodeMax * kScheduleInfoBytesMax <
                  kReplyFrameBytesMax,
              "a merged schedule list of a full cluster fits one reply frame");

// Journal group commit: at most this many job writes, and about this many payload bytes, in one
// synced WriteBatch; a larger backlog is written as several batches, in order.
constexpr uint32_t kJournalBatchRecordsMax = 8192;
constexpr uint64_t kJournalBatchBytesMax = 64ull << 20;
static_assert(kJournalBatchBytesMax >= 2 * (kPayloadBytesMax + kResultBytesMax),
              "a batch always fits at least one job");

// ---- Node configuration bounds (NodeConfig::Validate; messages are built from these) ----
constexpr uint32_t kTickMsMax = 1000;           // a coarser timer makes every deadline late
constexpr uint64_t kHeldMbMin = 16;             // below this one large job could not be held
constexpr uint64_t kHeldMbMax = 1ull << 24;     // 16 TiB: past any real machine, and no overflow
constexpr uint64_t kGraceMsMax = 24ull * 3600 * 1000;  // a drain longer than a day is a hang
// After the drain, a node that still has not stopped (a handler that ignores cancellation)
// exits with kStuck after this long.
constexpr uint64_t kShutdownStuckMs = 6000;
// An `exec` job stopped by cancel or timeout gets SIGTERM, then SIGKILL if its process group is
// still there after this long: time to clean up, short enough that a hung command cannot hold
// its worker (or a node's shutdown) for long.
constexpr uint64_t kExecKillGraceMs = 3000;
static_assert(kExecKillGraceMs < kShutdownStuckMs,
              "a stopping node waits out the grace of an exec job before it calls itself stuck");
constexpr uint64_t kRetentionMsMax = 10ull * 366 * 24 * 3600 * 1000;  // ten years

// ---- Peer liveness (docs/cluster.md). The defaults are the config defaults, stated once. ----
constexpr uint32_t kHeartbeatMsDefault = 250;
constexpr uint32_t kHeartbeatMsMin = 10;        // faster beats cost CPU and tell nothing new
constexpr uint32_t kHeartbeatMsMax = 60000;
// A peer silent this long is declared dead. Six beats: a few lost or late beats are not a death.
constexpr uint64_t kFailureTimeoutMsDefault = 1500;
constexpr uint64_t kFailureTimeoutMsMax = 3600ull * 1000;
// At least two beats per failure timeout, or a single late beat kills a healthy peer.
constexpr uint32_t kFailureTimeoutBeatsMin = 2;
static_assert(kFailureTimeoutMsDefault >= kFailureTimeoutBeatsMin * kHeartbeatMsDefault,
              "the defaults must pass validation");

// ---- Time (docs/architecture.md "Time") ----
// A gap this long between two reads of the scheduler loop's clock (it reads it at least every
// tick, 10 ms) means the loop did not run: the process was stopped, its VM paused, or one message
// took that long. The gap is left out of the steady clock the node judges by, and every peer
// gets a fresh grace period. Well above a tick and any one message's work, well below the
// failure timeout, so a stall is noticed before anyone could be judged by it.
constexpr uint64_t kLoopStallMsMin = 250;
static_assert(kLoopStallMsMin * 2 < kFailureTimeoutMsDefault,
              "a stall is noticed before it could pass for a peer's silence");
// How far in the future a peer's time stamp (queue settings) may be: clocks of healthy nodes
// differ by far less under NTP; a stamp beyond it is refused, and one already held is not
// trusted (it would win over every change until then).
constexpr uint64_t kClockSkewMsMax = 60000;
// Frames refused because they name no state of this node (a forged or confused result, a
// heartbeat of another incarnation): each is counted; the first this many are also logged.
constexpr uint32_t kRefusedFramesNotedMax = 100;

// ---- Runs leased to peers (docs/cluster.md §3) ----
// A peer that announces acks in its heartbeat answers each remote_run at once with remote_ack
// (or a rejection). A run not answered within this is taken back without costing an attempt:
// the peer most likely never received it. Long enough for two loaded actors and a TCP hop on a
// busy machine, short against the failure timeout, so a one-way partition costs each job that
// hits it well under a second.
constexpr uint64_t kRemoteAckMsDefault = 500;
static_assert(kRemoteAckMsDefault < kFailureTimeoutMsDefault,
              "a run lost on the way is noticed before its peer could be declared dead");
// After an unacknowledged run the peer is suspended: it gets no runs for this long, then one
// probe run; each probe that goes unacknowledged doubles the pause, up to the maximum. Any
// answer from the peer (ack, rejection, result) ends the suspension.
constexpr uint64_t kPeerSuspendMsMin = 1000;
constexpr uint64_t kPeerSuspendMsMax = 16000;
static_assert(kPeerSuspendMsMin >= kRemoteAckMsDefault, "one probe at a time");
static_assert(kPeerSuspendMsMax >= kPeerSuspendMsMin, "the pause only grows");
// Runs of one owner in flight on one peer (sent, not yet answered with a result). The peer's
// credit, refreshed from every ack and result, normally keeps it lower; this bounds what a
// peer advertising absurd free slots could make the owner lease to it.
constexpr uint32_t kPeerRunsInFlightMax = kWorkersMax;
// A run on a peer gets this much more lease than its timeout: the network both ways, and the
// wait in the host's queue.
constexpr uint64_t kRemoteLeaseSlackMsDefault = 2000;
// A host queues up to this many runs per worker beyond its idle slots, so the next run is
// already there when a slot frees (otherwise each hosted slot idles for a round trip to the
// owner between runs, and short jobs barely use peers). One, not more: measured (docs/benchmarks.md)
// 5 ms jobs gain little from a second, and runs parked behind busy hosts are runs the owner
// cannot give to a slot that frees elsewhere.
constexpr uint32_t kHostedQueuedPerWorker = 1;
// A queued hosted run that has not started after this long is handed back as a rejection (the
// attempt does not count). Shorter than the lease slack, so the host's deadline for the run
// (from its start) always falls within the owner's lease.
constexpr uint64_t kHostedQueueWaitMsMax = 1000;
static_assert(kHostedQueueWaitMsMax + kRemoteAckMsDefault <= kRemoteLeaseSlackMsDefault,
              "a queued run starts (or comes back) well within the owner's lease");

// ---- Client requests and forwarding ----
// How long a client waits for one reply (a wait request adds its own timeout on top).
constexpr uint32_t kRequestTimeoutMsDefault = 5000;
constexpr uint64_t kRequestTimeoutMsMax = 3600ull * 1000;
// A request about another owner's job is forwarded; if the owner has not answered after this
// (plus the wait's own timeout), the forwarding node answers kUnavailable. It must be shorter
// than the client's default timeout, or the client gives up first and never sees that answer.
constexpr uint64_t kForwardSlackMs = 3000;
static_assert(kForwardSlackMs < kRequestTimeoutMsDefault,
              "the node's forward deadline must expire before the client's default timeout");
// An owner that dies is declared dead (and its pending forwards answered) before they expire.
static_assert(kFailureTimeoutMsDefault < kForwardSlackMs, "death is noticed before expiry");

// ---- Transport (node/transport.cpp) ----
// Frames read per socket per loop round: a flood of requests cannot starve replies and peers.
constexpr uint32_t kFramesPerRoundMax = 1024;
// Longest poll wait: bounds how late a forward deadline is noticed.
constexpr uint32_t kTransportPollMs = 100;
// ZeroMQ high-water marks (messages): the client ROUTER/DEALER, and a peer link, which holds
// one-way frames (heartbeats, runs, results) while its peer is unreachable.
constexpr int kSocketHwm = 100000;
constexpr int kPeerLinkHwm = 10000;
// Peer link reconnect backoff: a restarted peer is reached again well within a heartbeat.
constexpr int kPeerReconnectMs = 100;
constexpr int kPeerReconnectMsMax = 500;
// On stop, queued frames get this long to reach the wire before the sockets close.
constexpr int kStopLingerMs = 1000;
// Frames up to this multiple of the limit are read and answered with kTooLarge; beyond that
// libzmq drops the connection, so a hostile peer cannot make the node buffer arbitrary amounts.
constexpr int64_t kReadableFrameFactor = 2;

// While the journal's disk is full the node asks RocksDB to resume this often. A failed resume
// costs one attempted flush, so twice a second is cheap, and writes come back within half a
// second of space returning. There is no attempt limit: the node serves reads meanwhile, and
// SIGTERM stops it as usual.
constexpr uint32_t kStorageFullRetryMs = 500;

// ---- the HTTP face (docs/http.md) ----
// Requests the HTTP face holds (waiting for the node, or for a job with ?wait=true); past it a
// request gets 429. Above the 10,000 concurrent waits it must hold, below the node's own cap.
constexpr uint32_t kHttpRequestsMax = 20000;
static_assert(kHttpRequestsMax < kPendingRequestsMax, "the node must take every held request");
// Open connections; more wait in the listen backlog until one closes.
constexpr uint32_t kHttpConnectionsMax = 20000;
// A request body over this gets 413; one over kHttpBodyHardFactor times it is cut off unread.
constexpr uint64_t kHttpBodyBytesMax = 2ull * kPayloadBytesMax;
constexpr uint64_t kHttpBodyHardFactor = 4;
// URL and header limits: over them the connection is closed (the parser stops reading).
constexpr uint32_t kHttpUrlBytesMax = 8192;
constexpr uint32_t kHttpHeaderBytesMax = 16384;  // one field's value
constexpr uint32_t kHttpHeaderFieldsMax = 100;
// A connection that sends no (next) request for this long is closed.
constexpr uint64_t kHttpIdleMsDefault = 60000;
// A request the node has not answered in this long (beyond its own wait) gets 504.
constexpr uint64_t kHttpNodeAnswerMs = kRequestTimeoutMsDefault;
// A handler waiting in HandlerContext::SleepFor looks for a cancel this often (its deadline it
// meets exactly): a cancel stops a sleeping job within this time.
constexpr uint32_t kHandlerStopPollMs = 25;

// A change (submit, batch, cancel, retry, queue or pool settings) is waited for longer: its
// answer comes after a group commit, which an overloaded node may take seconds to reach, and a
// 504 for a change leaves the caller unsure whether it happened (docs/http.md §4).
constexpr uint64_t kHttpWriteAnswerMs = 30000;
// /healthz and /readyz answer 503 when the node has not answered in this long.
constexpr uint64_t kHttpProbeMs = 1000;
constexpr uint32_t kHttpTokensMax = 1000;
// Principals a node knows ([[principals]], docs/operations.md "Securing a cluster").
constexpr uint32_t kPrincipalsMax = 1000;
// Endpoints one principal (a node) lists.
constexpr uint32_t kPrincipalEndpointsMax = 4;

// ---- Dependencies (issue 21, docs/architecture.md "Dependencies") ----
// Parents one job may name in depends_on (a fan-in of a thousand, as a batch holds).
constexpr uint32_t kParentsMax = 1000;
static_assert(kParentsMax <= kContainerItemsMax, "the decoder accepts a full depends_on");
// The parents' results a child is handed (its handler's HandlerContext::parents, an external
// worker's job.parents): at most this many bytes in all, else the child is cancelled saying so.
constexpr uint32_t kParentResultsBytesMax = 1u << 20;
// Jobs in one flow (submit_flow): as many as a batch.
constexpr uint32_t kFlowJobsMax = 1000;
// Parent ids in one parent_watch frame between nodes.
constexpr uint32_t kParentWatchPerFrameMax = 1000;
static_assert(kParentWatchPerFrameMax * (kJobIdBytesMax + 2) < kFrameBytesMax / 4,
              "a full parent_watch frame is small");
// A child's owner asks again this often about remote parents that have not finished: a watch
// or its answer lost with a link (or with a node's restart) costs at most this much delay.
constexpr uint64_t kParentWatchResendMs = 5000;
// (parent, peer) watches a node keeps for its peers' children. Past it a watch is not kept
// (the child's owner asks again every kParentWatchResendMs, and is answered once it is final).
constexpr uint32_t kParentWatchersMax = 100000;

// ---- Batches and bulk actions (issue 9) ----
// Job specs in one submit_batch request. Each spec is journaled in the same group commit, so a
// batch costs one fsync; a thousand small specs keep the frame far below kFrameBytesMax (the
// frame limit still applies: a batch of large payloads must be split by the client).
constexpr uint32_t kBatchSpecsMax = 1000;
static_assert(kBatchSpecsMax <= kJournalBatchRecordsMax, "a batch fits one journal write");
static_assert(kBatchSpecsMax <= kContainerItemsMax, "the decoder accepts a full batch");
// Clients (the CLI's submit --batch, the HTTP face) split a batch of large specs into several
// submit_batch requests so that each fits one request frame: a spec counts its payload and its
// free-length strings (key, callback, ...: protocol BatchSpecBytes) plus this much for its field
// names, names and numbers, and a request holds at most
// kBatchFrameSpecBytesMax of specs (the frame less its envelope).
constexpr uint64_t kBatchSpecOverheadBytes = 512;
static_assert(kBatchSpecOverheadBytes >= kTypeNameBytesMax + kQueueNameBytesMax + 256,
              "names, ten field names and their numbers fit the overhead");
constexpr uint64_t kBatchFrameSpecBytesMax = kFrameBytesMax - kEnvelopeBytesMax;
// A bulk retry or cancel changes at most this many jobs per scheduler turn (one group commit)
// and looks at most this many jobs for it; it goes on in the next turn, so requests that
// arrived meanwhile are served between chunks instead of waiting behind a million-job sweep.
constexpr uint32_t kBulkJobsPerTurnMax = 1000;
constexpr uint32_t kBulkScanPerTurnMax = 50000;
static_assert(kBulkJobsPerTurnMax <= kJournalBatchRecordsMax, "a chunk fits one journal write");
// Bulk actions under way at once on one node; more are refused with kOverloaded.
constexpr uint32_t kBulkOpsMax = 16;

// ---- Attempt history (JobInfo::history) ----
// A job keeps its last attempts (node, start, end, error); older ones are only counted. Ten
// covers the default three attempts and a few manual retries, at under 1 KiB per job.
constexpr uint32_t kAttemptHistoryMax = 10;

// ---- Callbacks (docs/http.md "Callbacks") ----
// A callback URL: far above any real webhook URL, small against a job record.
constexpr uint32_t kCallbackUrlBytesMax = 2048;
// POSTs one node has open at once (one thread, libcurl multi): enough to keep slow receivers
// from holding up the rest, few enough that file descriptors and memory stay small.
constexpr uint32_t kCallbacksInFlightMax = 64;
// Deliveries waiting to be (re)tried on one node. A submit with a callback is refused with
// kOverloaded past it; a job that ends while it is reached gets its delivery marked failed.
constexpr uint32_t kCallbacksPendingMax = 100000;
static_assert(kCallbacksPendingMax <= kJobsLiveMax, "one pending delivery per job at most");
// Attempts per delivery, and the retry delay: base * 2^(attempt-1), capped, with jitter.
constexpr uint32_t kCallbackAttemptsDefault = 8;
constexpr uint32_t kCallbackAttemptsMax = 100;
constexpr uint64_t kCallbackBackoffMsDefault = 1000;
constexpr uint64_t kCallbackBackoffMaxMsDefault = 300000;  // five minutes between tries at most
constexpr uint64_t kCallbackBackoffMsMax = 3600ull * 1000;
// One POST (connect, send, answer) may take this long before it counts as failed.
constexpr uint64_t kCallbackTimeoutMsDefault = 10000;
constexpr uint64_t kCallbackTimeoutMsMax = 300000;
// Entries of the allow-list ([callbacks] allow): hosts and CIDRs, checked linearly.
constexpr uint32_t kCallbackAllowEntriesMax = 1000;
// ---- The job event stream (docs/protocol.md "Job events", GET /api/events) ----
// Events in one event_list reply. An event is at most about 4.4 KiB (its error text), so a full
// reply stays well inside a reply frame; 1000 keeps a catching-up reader to a few round trips.
constexpr uint32_t kEventsPerReplyMax = 1000;
constexpr uint32_t kEventsPerReplyDefault = 500;
static_assert(kEventsPerReplyMax * (kErrorMessageBytesMax + 512) < kReplyFrameBytesMax,
              "a full event_list of events with the longest error fits a reply frame");
// Events one request looks at (from memory or the journal) when a queue or job filter skips
// most of them: a reply comes back after this many even if none matched, so one request never
// reads a million journal records.
constexpr uint32_t kEventScanMax = 10000;
static_assert(kEventScanMax >= kEventsPerReplyMax, "a scan can fill a reply");
// How long an events request may be held for new events (a long poll).
constexpr uint64_t kEventWaitMsMax = 60000;
// events requests held at once by one node; more get kOverloaded. Each is a pending request.
constexpr uint32_t kEventWaitersMax = 4096;
static_assert(kEventWaitersMax < kPendingRequestsMax, "every held events request is pending");
// The newest events kept in memory to answer followers without reading the journal: about
// 3 MiB, and a few hundred ms of history at full speed (older ones come from the journal).
constexpr uint32_t kEventsInMemoryMax = 16384;
// Events the journal keeps (config `events_max`): the oldest beyond it are trimmed, a chunk at
// a time, so a trim costs one range delete per kEventsTrimChunk events, not one per batch.
constexpr uint64_t kEventsKeptDefault = 1000000;
constexpr uint64_t kEventsKeptMin = 1000;
constexpr uint64_t kEventsKeptMax = 1000000000;
constexpr uint64_t kEventsTrimChunk = 4096;
// Events per journal stream record ("e:" key): a write's events go in records of at most this
// many, so the stream costs one key per this many events, and a record stays far below the
// decode bound (each event is at most ~4.5 KB: an error text and names).
constexpr uint32_t kStreamRecordEventsMax = 512;
// SSE streams one HTTP face holds at once; more get 503. Each holds one events request at the
// node, so they stay below kEventWaitersMax.
constexpr uint32_t kHttpEventStreamsMax = 1000;
static_assert(kHttpEventStreamsMax < kEventWaitersMax, "every stream's long poll is taken");
// Bytes an SSE stream may have queued and not yet written to its socket; a consumer slower
// than that is cut off (after an `event: error`) rather than buffered without end.
constexpr uint64_t kHttpEventUnsentBytesMax = 4ull << 20;
// An idle SSE stream gets a comment line this often: proxies and clients see it alive, and a
// client that went away is noticed at the write. It is also the stream's long-poll wait.
constexpr uint64_t kHttpEventHeartbeatMs = 15000;
static_assert(kHttpEventHeartbeatMs <= kEventWaitMsMax, "one long poll per heartbeat");

// ---- Blobs (docs/protocol.md "Blobs", docs/journal.md "Blob store") ----
// A blob is named by its SHA-256 in lower-case hex.
constexpr uint32_t kBlobHashHexBytes = 64;
// Blobs travel in chunks so that every frame keeps its ordinary limit: a 64 MiB image is 64
// frames, and no request or reply frame grows for it. A chunk is a payload's worth of bytes.
constexpr uint32_t kBlobChunkBytesMax = kPayloadBytesMax;
static_assert(kBlobChunkBytesMax + kEnvelopeBytesMax <= kFrameBytesMax,
              "a blob_put chunk fits a request frame");
// The largest blob a node takes by default (--blob-mb-max): a large photograph, with room.
constexpr uint64_t kBlobBytesMaxDefault = 64ull << 20;
// The configurable ceiling: a handler holds a whole blob in memory while it works on it.
constexpr uint64_t kBlobBytesMaxMax = 1ull << 30;
static_assert(kBlobBytesMaxDefault <= kBlobBytesMaxMax, "the default must pass validation");
// An upload nobody refers to yet (put, the job not yet submitted; a partial upload; a result
// blob whose job has not finished) is kept this long before the sweep removes it.
constexpr uint64_t kBlobGraceMsDefault = 3600ull * 1000;
// How often the node looks for blobs no job refers to.
constexpr uint64_t kBlobSweepMs = 10000;
// Image handlers refuse inputs whose header claims more pixels than this (--image-pixels-max),
// before decoding: 40 MP is a large camera photograph; a decompression bomb claims far more.
constexpr uint64_t kImagePixelsMaxDefault = 40ull * 1000 * 1000;
// The largest output side an image handler makes.
constexpr uint32_t kImageSideMax = 32768;
// ---- Text and HTTP task types (handlers/, docs/handlers.md) ----
// summarize builds a sentence graph of n^2 similarities: 2,000 sentences are 4M pairs, well
// under a second; a longer text is refused at submit rather than left to burn its lease.
constexpr uint32_t kSummarizeSentencesMax = 2000;
constexpr uint32_t kSummarizeTopMax = 100;  // sentences a summary may ask for
// PageRank stops when no score moves by more than 1e-6, or after this many rounds: on these
// small graphs it settles in 20-40, so the bound only stops a pathological case.
constexpr uint32_t kSummarizeIterationsMax = 100;
// find_patterns: each pattern is compiled at submit (to refuse a bad one) and at the run; RE2
// bounds its own memory per pattern (its default 8 MiB program budget).
constexpr uint32_t kFindPatternsMax = 32;
constexpr uint32_t kFindPatternBytesMax = 1024;
// Positions reported per pattern (max_matches; the count goes on past it). 10,000 pairs of
// offsets are about 100 KiB of result per pattern; a result over 1 MiB fails the run as usual.
constexpr uint32_t kFindMatchesMax = 10000;
constexpr uint32_t kFindMatchesDefault = 100;
static_assert(kFindMatchesDefault <= kFindMatchesMax, "the default is allowed");
// http_request: the response body kept. Sent back as base64 when it is not UTF-8 text (4/3 of
// it), with headers beside it, it must still fit a result.
constexpr uint32_t kHttpFetchBodyBytesMax = 512u << 10;
constexpr uint32_t kHttpFetchHeaderBytesMax = 32u << 10;
static_assert(kHttpFetchBodyBytesMax / 3 * 4 + 4 + kHttpFetchHeaderBytesMax + 4096 < kResultBytesMax,
              "a base64 body with its headers fits a result");
constexpr uint64_t kHttpFetchTimeoutMsDefault = 10000;
constexpr uint64_t kHttpFetchTimeoutMsMax = 120000;  // and never past the job's own lease
// ---- External workers and progress (docs/protocol.md "External workers") ----
// Worker processes registered with one node at once. Each holds at most one poll, so this also
// bounds the polls a node holds (far below kPendingRequestsMax).
constexpr uint32_t kExternalWorkersMax = 1024;
static_assert(kExternalWorkersMax < kPendingRequestsMax / 10, "held polls leave room for clients");
// Jobs one external worker holds leased at once (its `capacity`). A poll reply carries their
// payloads: the node stops filling one at half of kReplyFrameBytesMax (four 1 MiB payloads), and
// the rest go out with the next poll.
constexpr uint32_t kExternalCapacityMax = 256;
// Job types one worker serves, and its name (for logs and `stats`).
constexpr uint32_t kExternalTypesMax = 64;
constexpr uint32_t kWorkerNameBytesMax = 64;
// `jobnet workers` names at most this many of one external worker's jobs (and counts them all).
constexpr uint32_t kExternalJobsListedMax = 32;
static_assert(kExternalWorkersMax * (kWorkerNameBytesMax + kExternalTypesMax * (kTypeNameBytesMax + 2) +
                                     kExternalJobsListedMax * (kJobIdBytesMax + 2) + 128) <
                  kReplyFrameBytesMax,
              "a workers reply with every external worker must fit");
// A worker that sends nothing (poll, heartbeat, progress, result) for its lease is dropped and
// its leased jobs go back to the queue. It chooses the lease within these bounds at register:
// short enough that a dead worker's jobs run again soon, long enough to survive a GC pause.
constexpr uint64_t kExternalLeaseMsDefault = 10000;
constexpr uint64_t kExternalLeaseMsMin = 100;
constexpr uint64_t kExternalLeaseMsMax = 600000;
// The longest a node holds a poll before it answers with no jobs.
constexpr uint64_t kExternalPollWaitMsMax = 60000;
// A run's progress: a percentage and a short message, at most 5 updates a second per job
// (faster updates are answered `applied: false` and dropped: progress is kept in memory only).
constexpr uint32_t kProgressPctMax = 100;
constexpr uint32_t kProgressMessageBytesMax = 256;
constexpr uint64_t kProgressIntervalMsMin = 200;
// A job's progress also goes to the node's event stream (journaled like a state change), at
// most once per this interval per job; status shows every applied report.
constexpr uint64_t kProgressEventIntervalMsMin = 1000;

// ---- Journaling a local run's start (docs/journal.md §6a) ----
// A run started on a local slot is counted by its run mark, so its `running` record may wait:
// if the run ends within this, the record goes to the journal only with its end, one write
// instead of two; a longer run has it written once this has passed (at the next tick). Short
// against a human watching `jobnet events`, long against an echo job's run plus a group
// commit on a loaded disk.
constexpr uint64_t kRunningWriteDelayMsDefault = 50;
constexpr uint64_t kRunningWriteDelayMsMax = 1000;
static_assert(kRunningWriteDelayMsDefault <= kRunningWriteDelayMsMax, "default within bounds");
// How long a journal batch that no client waits on urgently (run ends, `wait` answers) may wait
// for a submit or another request to share its fsync (config result_linger_us; 0 = never), and
// the pending records that end the wait at once.
constexpr uint32_t kResultLingerUsDefault = 1000;
constexpr uint32_t kResultLingerUsMax = 10000;
constexpr size_t kResultLingerRecordsMax = 16;
static_assert(kResultLingerUsDefault <= kResultLingerUsMax, "default within bounds");
// With etcd (docs/failover.md §5), a node stops acknowledging, starting and ending runs this long
// before its shard's lease could end: the time for an answer decided now to reach its client.
constexpr uint32_t kFenceMarginMs = 500;
constexpr uint32_t kEtcdEndpointsMax = 16;  // etcd URLs a node is given

// ---- simulate_backup (docs/handlers.md) ----
// One run copies (or reads and discards) at most this much, from at most this many files it
// walks, so a payload naming "/" or a huge size is refused instead of filling a disk or a day.
constexpr uint64_t kBackupBytesMax = 16ull << 30;
constexpr uint32_t kBackupFilesMax = 100000;
// Chunk sizes: one chunk is read, written and checked for cancel at a time.
constexpr uint32_t kBackupChunkBytesMin = 4096;
constexpr uint32_t kBackupChunkBytesMax = 16u << 20;
constexpr uint32_t kBackupChunkBytesDefault = 1u << 20;
// A pause after each chunk (a slow medium, for demos and tests of progress and cancel).
constexpr uint32_t kBackupChunkMsMax = 10000;

}  // namespace jobnet::limits

#endif  // JOBNET_LIMITS_H_
