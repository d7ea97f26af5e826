// msgpack encoding of the wire protocol. Grammar (docs/protocol.md mirrors it):
//
//   frame    := array(4) [ version: uint, kind: uint, corr_id: uint64, body: map ]
//   body     := map of string keys to values; unknown keys are ignored, missing ones take defaults
//   payload  := any msgpack value (kept as raw bytes)
//
// Decode() takes untrusted bytes: it never throws, never reads past `len`, and bounds what it
// allocates (limits.hpp: frame bytes, depth, container items).
#ifndef JOBNET_PROTOCOL_CODEC_HPP_
#define JOBNET_PROTOCOL_CODEC_HPP_

#include <cstddef>
#include <cstdint>
#include <string>

#include "jobnet/status.h"
#include "protocol/messages.hpp"

namespace jobnet::protocol {

// Encodes one envelope as one frame.
std::string Encode(const Envelope& env);

// Decodes one frame of at most `frame_bytes_max` bytes. On failure returns kCorruption (not
// msgpack / wrong shape / wrong types), kTooLarge, kUnsupportedVersion or kInvalidArgument, and
// still stores the correlation id in *corr_id when the frame got that far (else 0), so the
// error reply can be matched by the client.
Result<Envelope> Decode(const char* data, std::size_t len, uint64_t* corr_id,
                        std::size_t frame_bytes_max = limits::kFrameBytesMax);

// Checks that `bytes` hold exactly one msgpack value within the decoder limits.
Status ValidateMsgpackValue(const std::string& bytes, std::size_t bytes_max);

}  // namespace jobnet::protocol

#endif  // JOBNET_PROTOCOL_CODEC_HPP_
