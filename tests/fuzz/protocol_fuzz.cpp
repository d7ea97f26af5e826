// libFuzzer target for everything that decodes untrusted bytes: wire frames, journal records.
// Build: cmake -DJOBNET_FUZZ=ON -DCMAKE_CXX_COMPILER=clang++ ... && ./protocol_fuzz -max_total_time=60
// Invariants: decoding never crashes; whatever decodes re-encodes to a frame that decodes to the
// same bytes again.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "protocol/codec.hpp"
#include "protocol/job_record.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace jobnet::protocol;
  uint64_t corr = 0;
  auto env = Decode(reinterpret_cast<const char*>(data), size, &corr,
                    jobnet::limits::kReplyFrameBytesMax);
  if (env.ok()) {
    std::string again = Encode(env.value());
    uint64_t corr2 = 0;
    auto env2 = Decode(again.data(), again.size(), &corr2, jobnet::limits::kReplyFrameBytesMax);
    if (!env2.ok() || Encode(env2.value()) != again || corr2 != corr) std::abort();
  }
  std::string bytes(reinterpret_cast<const char*>(data), size);
  auto job = DecodeJobRecord(bytes);
  if (job.ok()) {
    auto job2 = DecodeJobRecord(EncodeJobRecord(job.value()));
    if (!job2.ok() || EncodeJobRecord(job2.value()) != EncodeJobRecord(job.value())) std::abort();
  }
  (void)DecodeEventRecord(bytes);
  return 0;
}
