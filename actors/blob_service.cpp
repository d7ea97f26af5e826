// Blob service behavior: one request at a time, in arrival order (a client's chunks arrive in
// the order it sent them), and a periodic sweep.
#include "actors/blob_service.hpp"

#include <caf/typed_event_based_actor.hpp>
#include <spdlog/spdlog.h>

#include "protocol/codec.hpp"

namespace jobnet::actors {
namespace {

struct BlobServiceState {
  std::shared_ptr<BlobStore> store;
  std::shared_ptr<sched::BlobRefs> refs;
  BlobReplySink sink;
  uint64_t sweep_ms = 0;
  static inline const char* name = "jobnet.blobs";
};

protocol::Body Serve(BlobStore& store, protocol::Body& body) {
  if (auto* put = std::get_if<protocol::BlobPutRequest>(&body)) {
    auto r = store.PutChunk(*put);
    if (!r.ok()) return protocol::ErrorReply{r.status().code(), r.status().message()};
    return std::move(r.value());
  }
  if (auto* get = std::get_if<protocol::BlobGetRequest>(&body)) {
    auto r = store.GetChunk(*get);
    if (!r.ok()) return protocol::ErrorReply{r.status().code(), r.status().message()};
    return std::move(r.value());
  }
  return protocol::ErrorReply{Code::kInvalidArgument, "not a blob request"};
}

blob_actor::behavior_type BlobService(blob_actor::stateful_pointer<BlobServiceState> self,
                                      std::shared_ptr<BlobStore> store,
                                      std::shared_ptr<sched::BlobRefs> refs, BlobReplySink sink,
                                      uint64_t sweep_ms) {
  auto& st = self->state;
  st.store = std::move(store);
  st.refs = std::move(refs);
  st.sink = std::move(sink);
  st.sweep_ms = sweep_ms;
  if (sweep_ms != 0) self->delayed_send(self, std::chrono::milliseconds(sweep_ms), tick_atom_v);
  return {
      [=](inbound_atom, uint64_t route, protocol::Envelope& env) {
        if (route == 0) return;  // blob messages are requests; nothing one-way comes here
        protocol::Envelope reply{limits::kProtocolVersion, env.corr_id,
                                 Serve(*self->state.store, env.body)};
        std::vector<std::pair<uint64_t, std::string>> frames;
        frames.emplace_back(route, protocol::Encode(reply));
        self->state.sink(std::move(frames));
      },
      [=](tick_atom) {
        auto& s = self->state;
        auto removed = s.store->Sweep([&s](const std::string& hash) { return s.refs->Referenced(hash); });
        if (!removed.ok()) {
          spdlog::warn("blob sweep failed: {}", removed.status().ToString());
        } else if (removed.value() > 0) {
          spdlog::info("blob sweep removed {} blob(s) no job refers to", removed.value());
        }
        self->delayed_send(self, std::chrono::milliseconds(s.sweep_ms), tick_atom_v);
      },
  };
}

}  // namespace

blob_actor SpawnBlobService(caf::actor_system& sys, std::shared_ptr<BlobStore> store,
                            std::shared_ptr<sched::BlobRefs> refs, BlobReplySink sink,
                            uint64_t sweep_ms) {
  return sys.spawn<caf::detached>(BlobService, std::move(store), std::move(refs), std::move(sink),
                                  sweep_ms);
}

}  // namespace jobnet::actors
