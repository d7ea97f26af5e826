// Ingress behavior: route bookkeeping and reply encoding.
#include "actors/ingress.hpp"

#include <unordered_map>

#include <caf/typed_event_based_actor.hpp>
#include <spdlog/spdlog.h>

#include "protocol/codec.hpp"

namespace jobnet::actors {
namespace {

struct IngressState {
  scheduler_actor scheduler;
  events_actor events;
  ReplySink sink;
  blob_actor blobs;
  std::unordered_map<uint64_t, uint64_t> corr_ids;  // route -> client's correlation id
  static inline const char* name = "jobnet.ingress";
};

// Encodes the answer to the request behind `route` and forgets the route.
void EncodeReply(IngressState& st, uint64_t route, protocol::Body body,
                 std::vector<std::pair<uint64_t, std::string>>* frames) {
  auto it = st.corr_ids.find(route);
  if (it == st.corr_ids.end()) {
    spdlog::error("reply for unknown route {}", route);
    return;
  }
  protocol::Envelope env{limits::kProtocolVersion, it->second, std::move(body)};
  st.corr_ids.erase(it);
  std::string frame = protocol::Encode(env);
  if (frame.size() > limits::kReplyFrameBytesMax) {
    frame = protocol::Encode(protocol::MakeError(
        env.corr_id, Status::TooLarge("reply would be " + std::to_string(frame.size()) +
                                      " bytes; ask for fewer jobs")));
  }
  frames->emplace_back(route, std::move(frame));
}

ingress_actor::behavior_type Ingress(ingress_actor::stateful_pointer<IngressState> self,
                                     scheduler_actor scheduler, events_actor events,
                                     ReplySink sink, blob_actor blobs) {
  self->state.scheduler = scheduler;
  self->state.events = std::move(events);
  self->state.sink = std::move(sink);
  self->state.blobs = std::move(blobs);
  return {
      [=](inbound_atom, std::vector<protocol::Inbound>& requests) {
        // The scheduler's share goes on as one message, in the order read (kept in place).
        size_t kept = 0;
        for (auto& in : requests) {
          protocol::Envelope& env = in.env;
          if (in.route != 0) {  // a one-way node-to-node message has no reply, no bookkeeping
            if (self->state.blobs &&
                (std::holds_alternative<protocol::BlobPutRequest>(env.body) ||
                 std::holds_alternative<protocol::BlobGetRequest>(env.body))) {
              // Answered by the blob service, with the correlation id it carries along.
              self->send(self->state.blobs, inbound_atom_v, in.route, std::move(env));
              continue;
            }
            // The transport caps requests in flight (limits::kPendingRequestsMax), so this map
            // is bounded by the same number.
            self->state.corr_ids[in.route] = env.corr_id;
            if (std::holds_alternative<protocol::EventsRequest>(env.body)) {
              self->send(self->state.events, request_atom_v, in.route, std::move(env.body));
              continue;
            }
          }
          if (&requests[kept] != &in) requests[kept] = std::move(in);
          ++kept;
        }
        requests.resize(kept);
        if (!requests.empty())
          self->send(self->state.scheduler, request_atom_v, std::move(requests));
      },
      [=](reply_atom, uint64_t route, protocol::Body& body) {
        std::vector<std::pair<uint64_t, std::string>> frames;
        EncodeReply(self->state, route, std::move(body), &frames);
        self->state.sink(std::move(frames));
      },
      [=](reply_atom, std::vector<sched::Reply>& replies) {
        std::vector<std::pair<uint64_t, std::string>> frames;
        frames.reserve(replies.size());
        for (auto& r : replies) EncodeReply(self->state, r.token, std::move(r.body), &frames);
        self->state.sink(std::move(frames));
      },
  };
}

}  // namespace

ingress_actor SpawnIngress(caf::actor_system& sys, scheduler_actor scheduler, events_actor events,
                           ReplySink sink, blob_actor blobs) {
  return sys.spawn(Ingress, std::move(scheduler), std::move(events), std::move(sink),
                   std::move(blobs));
}

}  // namespace jobnet::actors
