// The field tables of the structs that grow most often: a job spec (the wire and the journal use
// this one encoding), a job as status shows it, and a queue's settings. Adding an optional job
// field or queue setting is one member in jobnet/job.h or jobnet/queue.h and one row here
// (docs/protocol.md §21 "Adding a field").
#ifndef JOBNET_PROTOCOL_DESCRIPTIONS_HPP_
#define JOBNET_PROTOCOL_DESCRIPTIONS_HPP_

#include "jobnet/job.h"
#include "jobnet/queue.h"
#include "protocol/fields.hpp"
#include "protocol/messages.hpp"

namespace jobnet::protocol {

// submit, submit_batch specs, schedule_add's job, and the "spec" map of journal records (there
// without "payload", which the journal keeps under its own key).
const Fields<JobSpec>& JobSpecFields();
// A job in job and job_list replies.
const Fields<JobInfo>& JobInfoFields();
// A queue_sync entry, and the first fields of a queue_list row.
const Fields<QueueSettings>& QueueSettingsFields();
// queue_set: each setting it changes.
const Fields<QueueUpdate>& QueueUpdateFields();

// ---- messages that are just their field table (the codec packs and reads them generically) ----
// Describe(T*) gives a message's table; Check(b) the bounds that span fields or need more than
// a type and a length (kInvalidArgument naming the field).
const Fields<StatusRequest>& Describe(const StatusRequest*);
const Fields<WaitRequest>& Describe(const WaitRequest*);
const Fields<CancelRequest>& Describe(const CancelRequest*);
const Fields<RetryRequest>& Describe(const RetryRequest*);
const Fields<StatsRequest>& Describe(const StatsRequest*);
const Fields<TypesRequest>& Describe(const TypesRequest*);
const Fields<WorkersRequest>& Describe(const WorkersRequest*);
const Fields<QueuesRequest>& Describe(const QueuesRequest*);
const Fields<WorkersSetRequest>& Describe(const WorkersSetRequest*);
const Fields<WorkersAutoscaleRequest>& Describe(const WorkersAutoscaleRequest*);
const Fields<ScheduleListRequest>& Describe(const ScheduleListRequest*);
const Fields<BulkReply>& Describe(const BulkReply*);
const Fields<Heartbeat>& Describe(const Heartbeat*);
const Fields<RemoteRun>& Describe(const RemoteRun*);
const Fields<RemoteResult>& Describe(const RemoteResult*);
const Fields<RemoteAck>& Describe(const RemoteAck*);
const Fields<RemoteCancel>& Describe(const RemoteCancel*);
const Fields<ParentWatch>& Describe(const ParentWatch*);
const Fields<ParentDone>& Describe(const ParentDone*);
const Fields<EventsRequest>& Describe(const EventsRequest*);
const Fields<BlobPutRequest>& Describe(const BlobPutRequest*);
const Fields<BlobGetRequest>& Describe(const BlobGetRequest*);
const Fields<PrincipalsRequest>& Describe(const PrincipalsRequest*);
const Fields<BlobStoredReply>& Describe(const BlobStoredReply*);
const Fields<BlobDataReply>& Describe(const BlobDataReply*);
const Fields<WorkerPollRequest>& Describe(const WorkerPollRequest*);
const Fields<WorkerProgressRequest>& Describe(const WorkerProgressRequest*);
const Fields<WorkerCompleteRequest>& Describe(const WorkerCompleteRequest*);
const Fields<WorkerFailRequest>& Describe(const WorkerFailRequest*);
const Fields<WorkerUnregisterRequest>& Describe(const WorkerUnregisterRequest*);
const Fields<WorkerRegisteredReply>& Describe(const WorkerRegisteredReply*);
const Fields<WorkerAckReply>& Describe(const WorkerAckReply*);

// Check: none, but for these.
template <class T>
Status Check(const T&) {
  return Status::OK();
}
Status Check(const WaitRequest& b);
Status Check(const Heartbeat& b);
Status Check(const RemoteRun& b);
Status Check(const ParentWatch& b);
Status Check(const EventsRequest& b);
Status Check(const BlobPutRequest& b);
Status Check(const BlobGetRequest& b);
Status Check(const WorkerPollRequest& b);
Status Check(const WorkerProgressRequest& b);

}  // namespace jobnet::protocol

#endif  // JOBNET_PROTOCOL_DESCRIPTIONS_HPP_
