// libFuzzer target for the JSON -> msgpack conversion of payloads (the HTTP face's and the CLI's
// `jobnet submit TYPE PAYLOAD`): client/json.cpp JsonToMsgpack, and back with MsgpackToJson.
// Build: cmake -DJOBNET_FUZZ=ON -DCMAKE_CXX_COMPILER=clang++ ... && ./json_fuzz -max_total_time=60
// Invariants: no input crashes or recurses past the stack (nesting is bounded before anything
// recursive runs); what converts is one msgpack value within the nesting bound, its JSON form
// converts again to the same bytes.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "client/json.hpp"
#include "jobnet/limits.h"
#include "protocol/codec.hpp"
#include "protocol/msgpack_bounded.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace jobnet;
  std::string text(reinterpret_cast<const char*>(data), size);
  auto packed = jsonio::JsonToMsgpack(text);
  if (!packed.ok()) {
    if (!packed.status().IsInvalidArgument()) std::abort();
    return 0;
  }
  const std::string& bytes = packed.value();
  if (!protocol::CheckNesting(bytes.data(), bytes.size(), limits::kPayloadDepthMax, "payload").ok())
    std::abort();
  nlohmann::json back = jsonio::MsgpackToJson(bytes);
  // Floats may print differently, and invalid UTF-8 is replaced on the way out: compare the
  // msgpack of what came back with itself, converted once more.
  std::string again = jsonio::JsonValueToMsgpack(back);
  if (jsonio::JsonValueToMsgpack(jsonio::MsgpackToJson(again)) != again) std::abort();
  return 0;
}
