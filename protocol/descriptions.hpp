// The field tables of the structs that grow most often: a job spec (the wire and the journal use
// this one encoding), a job as status shows it, and a queue's settings. Adding an optional job
// field or queue setting is one member in jobnet/job.h or jobnet/queue.h and one row here
// (docs/protocol.md "Adding a field").
#ifndef JOBNET_PROTOCOL_DESCRIPTIONS_HPP_
#define JOBNET_PROTOCOL_DESCRIPTIONS_HPP_

#include "jobnet/job.h"
#include "jobnet/queue.h"
#include "protocol/fields.hpp"

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

}  // namespace jobnet::protocol

#endif  // JOBNET_PROTOCOL_DESCRIPTIONS_HPP_
