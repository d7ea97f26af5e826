// The one place where jobnet types meet CAF: atoms and message-type permissions.
// Protocol structs travel between actors of one process only; across processes they are
// encoded to msgpack by the transport. So they are allowed as local ("unsafe") message types
// instead of being made CAF-serializable.
#ifndef JOBNET_ACTORS_CAF_GLUE_HPP_
#define JOBNET_ACTORS_CAF_GLUE_HPP_

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/atom.hpp>
#include <caf/type_id.hpp>

#include "core/scheduler_core.hpp"
#include "handlers/registry.hpp"
#include "protocol/inbound.hpp"
#include "protocol/messages.hpp"
#include "storage/journal.hpp"
#include "storage/run_marks.hpp"

namespace jobnet::actors {

// One run of one job on one worker (handed over by Worker::Run, not as a CAF message).
struct WorkItem {
  sched::Dispatch dispatch;
  std::shared_ptr<std::atomic<bool>> cancelled;  // set by the scheduler on timeout or cancel
  std::shared_ptr<const handlers::HandlerConfig> config;
  std::shared_ptr<RunMarks> marks;  // this node's run marks; null in tests without a journal
};

// One group-commit batch for the journal writer.
struct JournalBatch {
  std::vector<protocol::JobWrite> writes;
  std::vector<uint64_t> deletes;
  uint64_t next_seq = 0;
  PoolSetting pool;  // a `workers set` size to keep (pool.workers == 0: none)
  std::vector<protocol::ScheduleWrite> schedules;
  std::vector<protocol::QueueSettings> queues;  // queue settings ("q:" + name)
};

struct JournalAck {
  Code code = Code::kOk;
  std::string message;
  uint64_t records = 0;
  uint64_t sync_us = 0;  // time spent in the synced write
  // For the ack stage timings (protocol/histograms.hpp), on base::SteadyUs's clock: when the
  // writer took the batch up and when its acknowledgement left, and the part of the write
  // spent in RocksDB's synced Write.
  uint64_t start_us = 0, end_us = 0, rocks_us = 0;
};

// Progress of a draining node, for the shutdown loop.
struct DrainState {
  uint32_t running = 0;         // jobs whose runs have not returned
  bool journal_idle = false;    // nothing pending or in flight to the journal
};

}  // namespace jobnet::actors

CAF_BEGIN_TYPE_ID_BLOCK(jobnet, caf::first_custom_type_id)
CAF_ADD_ATOM(jobnet, jobnet::actors, inbound_atom, "inbound")
CAF_ADD_ATOM(jobnet, jobnet::actors, reply_atom, "reply")
CAF_ADD_ATOM(jobnet, jobnet::actors, request_atom, "request")
CAF_ADD_ATOM(jobnet, jobnet::actors, done_atom, "done")
CAF_ADD_ATOM(jobnet, jobnet::actors, tick_atom, "tick")
CAF_ADD_ATOM(jobnet, jobnet::actors, write_atom, "write")
CAF_ADD_ATOM(jobnet, jobnet::actors, drain_atom, "drain")
CAF_ADD_ATOM(jobnet, jobnet::actors, stop_atom, "stop")
CAF_ADD_ATOM(jobnet, jobnet::actors, connect_atom, "connect")
CAF_ADD_ATOM(jobnet, jobnet::actors, beat_atom, "beat")
CAF_ADD_ATOM(jobnet, jobnet::actors, resume_atom, "resume")
CAF_ADD_ATOM(jobnet, jobnet::actors, bulk_atom, "bulk")
CAF_ADD_ATOM(jobnet, jobnet::actors, callback_atom, "callback")
CAF_ADD_ATOM(jobnet, jobnet::actors, publish_atom, "publish")
CAF_ADD_ATOM(jobnet, jobnet::actors, progress_atom, "progress")
CAF_ADD_ATOM(jobnet, jobnet::actors, linger_atom, "linger")
CAF_ADD_ATOM(jobnet, jobnet::actors, peer_atom, "peer")
CAF_END_TYPE_ID_BLOCK(jobnet)

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(jobnet::protocol::Body)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(jobnet::protocol::Envelope)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(std::vector<jobnet::protocol::Inbound>)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(jobnet::sched::Outcome)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(jobnet::sched::CallbackResult)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(std::vector<jobnet::sched::Reply>)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(jobnet::actors::JournalBatch)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(jobnet::actors::JournalAck)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(jobnet::actors::DrainState)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(std::vector<jobnet::protocol::StateEvent>)

#endif  // JOBNET_ACTORS_CAF_GLUE_HPP_
