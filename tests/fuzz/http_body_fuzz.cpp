// libFuzzer target for the HTTP face's request bodies: a job spec (POST /api/jobs, and each line
// of `jobnet submit --batch`) and a batch (POST /api/jobs/batch), through client/json.cpp
// JobSpecFromJsonText and BatchFromJsonText, as the face reads them before any node is asked.
// Build: cmake -DJOBNET_FUZZ=ON -DCMAKE_CXX_COMPILER=clang++ ... && ./http_body_fuzz -max_total_time=60
// Invariants: no input crashes; every answer is a spec that passes protocol::Validate or a
// typed error (invalid_argument, too_large); an accepted spec encodes into a submit frame that
// decodes back to the same spec.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "client/json.hpp"
#include "jobnet/limits.h"
#include "protocol/codec.hpp"

namespace {

void CheckSpec(const jobnet::Result<jobnet::JobSpec>& spec) {
  using namespace jobnet;
  if (!spec.ok()) {
    if (!spec.status().IsInvalidArgument() && !spec.status().IsTooLarge()) std::abort();
    return;
  }
  if (!protocol::Validate(spec.value()).ok()) std::abort();
  std::string frame = protocol::Encode({limits::kProtocolVersion, 7, protocol::SubmitRequest{spec.value()}});
  uint64_t corr = 0;
  auto env = protocol::Decode(frame.data(), frame.size(), &corr);
  if (!env.ok() || corr != 7) std::abort();
  const auto& back = std::get<protocol::SubmitRequest>(env.value().body).spec;
  if (back.type != spec.value().type || back.queue != spec.value().queue ||
      back.key != spec.value().key)
    std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace jobnet;
  std::string text(reinterpret_cast<const char*>(data), size);
  CheckSpec(jsonio::JobSpecFromJsonText(text));
  auto batch = jsonio::BatchFromJsonText(text);
  if (!batch.ok()) {
    if (!batch.status().IsInvalidArgument() && !batch.status().IsTooLarge()) std::abort();
    return 0;
  }
  if (batch.value().empty() || batch.value().size() > limits::kBatchSpecsMax) std::abort();
  for (const auto& spec : batch.value()) CheckSpec(spec);
  return 0;
}
