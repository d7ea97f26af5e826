// A minimal client of beanstalkd's text protocol (put, reserve, delete, use, watch), for
// jobnet_bench to drive a beanstalkd server with the same workload and the same efficiency as a
// jobnet node (bench/bench-vs-beanstalkd). Blocking TCP, one connection per object, no
// threads; puts may be pipelined (send several, then read their replies in order).
#ifndef JOBNET_BENCH_BEANSTALK_CLIENT_HPP_
#define JOBNET_BENCH_BEANSTALK_CLIENT_HPP_

#include <cstdint>
#include <string>

#include "jobnet/status.h"

namespace jobnet::bench {

class BeanstalkClient {
 public:
  BeanstalkClient() = default;
  ~BeanstalkClient();
  BeanstalkClient(const BeanstalkClient&) = delete;
  BeanstalkClient& operator=(const BeanstalkClient&) = delete;

  // Connects to "host:port" (IPv4). kUnavailable if it cannot.
  Status Connect(const std::string& address);
  // Queues a "put" without reading its reply (pipelining); ReadPut reads the oldest reply.
  Status SendPut(uint32_t priority, uint32_t ttr_s, const std::string& body);
  // The id of the job the oldest pending put created; kInternal with the server's words
  // (JOB_TOO_BIG, DRAINING, ...) otherwise.
  Result<uint64_t> ReadPut();
  // Blocks until a job is reserved (or timeout_s passes: kTimeout). Stores its body.
  Result<uint64_t> Reserve(uint32_t timeout_s, std::string* body);
  Status Delete(uint64_t id);

 private:
  Status SendAll(const std::string& bytes);
  Result<std::string> ReadLine();
  Status ReadExact(size_t n, std::string* out);

  int fd_ = -1;
  std::string in_;  // bytes read but not consumed
};

}  // namespace jobnet::bench

#endif  // JOBNET_BENCH_BEANSTALK_CLIENT_HPP_
