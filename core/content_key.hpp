// The content key of a job for result reuse: which submits ask for the same work.
#ifndef JOBNET_CORE_CONTENT_KEY_HPP_
#define JOBNET_CORE_CONTENT_KEY_HPP_

#include <string>

namespace jobnet::sched {

// SHA-256 (32 raw bytes) of the type, a 0 byte, and the payload bytes as submitted. A type
// never holds a 0 byte ([A-Za-z0-9_.-]), so no two (type, payload) pairs share the input. An
// input blob is named in a payload by its SHA-256, so equal payload bytes also mean equal blob
// contents: the blobs need not be hashed again.
std::string ContentKey(const std::string& type, const std::string& payload);

}  // namespace jobnet::sched

#endif  // JOBNET_CORE_CONTENT_KEY_HPP_
