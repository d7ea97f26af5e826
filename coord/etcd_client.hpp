// A small etcd v3 client over etcd's JSON gateway (HTTP/1.1 with libcurl): KV, transactions,
// leases and watches, as jobnet's failover needs them (docs/failover.md). No exception leaves
// it: every failure is a jobnet::Status, every call is bounded in time and in response bytes.
#ifndef JOBNET_COORD_ETCD_CLIENT_HPP_
#define JOBNET_COORD_ETCD_CLIENT_HPP_

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "jobnet/status.h"

namespace jobnet::coord {

// A reply of etcd's holds a few keys of a few hundred bytes for what jobnet asks (a shard key, a
// member list of at most some hundred nodes); 4 MiB is far above that and still refuses a
// runaway or hostile answer before it costs real memory.
constexpr uint32_t kEtcdResponseBytesMax = 4u << 20;
// A watch sends one JSON line per batch of events; jobnet's values are small, so a line past
// 1 MiB is not etcd speaking to us.
constexpr uint32_t kEtcdWatchLineBytesMax = 1u << 20;
// etcd's replies nest four or five levels (txn → responses → range → kvs → kv); 16 leaves room
// and stops a deeply nested answer before the parser builds it.
constexpr int kEtcdJsonDepthMax = 16;
static_assert(kEtcdWatchLineBytesMax <= kEtcdResponseBytesMax, "a watch line is one response");

struct EtcdOptions {
  // Client URLs of the etcd members, "http://host:port". Tried in order from the one that last
  // answered; a member that cannot be reached or has no leader is skipped for the next.
  std::vector<std::string> endpoints;
  // Whole budget of one call across all endpoints. A lease of 2 s must be renewed well inside
  // its TTL, so the default is a fraction of it.
  uint32_t request_timeout_ms = 1000;
  // Time to open a TCP connection to one endpoint before moving to the next, so one dead
  // member does not spend the whole request budget.
  uint32_t connect_timeout_ms = 250;
  // Bytes of one response body; more is refused with kTooLarge.
  uint32_t response_bytes_max = kEtcdResponseBytesMax;
};

// One key as etcd stores it. Revisions are etcd's store revisions (they only grow).
struct KeyValue {
  std::string key;
  std::string value;
  int64_t create_revision = 0;  // revision that created the key (0: absent)
  int64_t mod_revision = 0;     // revision of its last write
  int64_t version = 0;          // writes since creation
  int64_t lease = 0;            // lease the key is attached to (0: none)
};

struct RangeResult {
  std::vector<KeyValue> kvs;
  int64_t revision = 0;  // store revision the range was read at
};

// One comparison of a transaction: key's target <op> the number (or value, for kValue).
struct Compare {
  enum class Target { kVersion, kCreate, kMod, kValue, kLease };
  enum class Op { kEqual, kGreater, kLess, kNotEqual };
  std::string key;
  Target target = Target::kVersion;
  Op op = Op::kEqual;
  int64_t number = 0;  // for kVersion, kCreate, kMod, kLease
  std::string value;   // for kValue
};

// One operation of a transaction branch.
struct TxnOp {
  enum class Kind { kPut, kRange, kDelete };
  Kind kind = Kind::kRange;
  std::string key;
  std::string value;      // kPut
  int64_t lease = 0;      // kPut: attach to this lease (0: none)
  std::string range_end;  // kRange, kDelete: "" for the key alone (PrefixEnd for a prefix)
};

struct TxnRequest {
  std::vector<Compare> compare;  // all must hold for `success` to run
  std::vector<TxnOp> success;
  std::vector<TxnOp> failure;
};

struct TxnResult {
  bool succeeded = false;  // the compares held and the success branch ran
  int64_t revision = 0;    // store revision after the transaction (its writes' mod_revision)
  // One entry per operation of the branch that ran: the keys a kRange found, empty otherwise.
  std::vector<std::vector<KeyValue>> ranges;
};

struct WatchEvent {
  enum class Type { kPut, kDelete };
  Type type = Type::kPut;
  KeyValue kv;  // for kDelete only key and mod_revision are set
};

// What a watch hands its callback: events in revision order, or (once, last) why it ended.
struct WatchBatch {
  Status status;  // not OK: the watch has stopped (compacted past its revision, bad reply)
  std::vector<WatchEvent> events;
};

// The end of the range of keys that start with `prefix` (etcd's range_end convention).
std::string PrefixEnd(const std::string& prefix);

class EtcdWatch;

// Thread-safe: any thread may call any method at once; each call blocks its caller for at most
// options.request_timeout_ms (plus a few ms). Failures:
//   kUnavailable  no endpoint could be reached, or none has a leader (message says which)
//   kTimeout      an endpoint took the request and did not answer in time: the request may or
//                 may not have been applied
//   kTooLarge     a response over response_bytes_max
//   kCorruption   a response that is not the JSON etcd sends
//   kNotFound     a lease that does not exist (expired or revoked)
//   kInvalidArgument, kConflict, kOverloaded, kInternal: etcd's own error, its message kept
class EtcdClient {
 public:
  // Checks the options (at least one http:// endpoint, timeouts above zero); does not contact
  // etcd, so a node may start before its etcd does. On success stores the client in *client.
  static Status Open(const EtcdOptions& options, std::unique_ptr<EtcdClient>* client);
  ~EtcdClient();
  EtcdClient(const EtcdClient&) = delete;
  EtcdClient& operator=(const EtcdClient&) = delete;

  // Writes key = value (attached to `lease` unless 0); returns the write's revision.
  Result<int64_t> Put(const std::string& key, const std::string& value, int64_t lease = 0);
  // Keys in [key, range_end), or the key alone when range_end is empty; at most `limit` (0: all).
  Result<RangeResult> Range(const std::string& key, const std::string& range_end = "",
                            int64_t limit = 0);
  // Deletes keys in [key, range_end) (or the key alone); returns how many were deleted.
  Result<int64_t> DeleteRange(const std::string& key, const std::string& range_end = "");
  Result<TxnResult> Txn(const TxnRequest& txn);

  // A new lease of ttl_s seconds (etcd may grant a longer one); returns its id.
  Result<int64_t> LeaseGrant(int64_t ttl_s);
  // Renews the lease for its full TTL; returns that TTL. kNotFound once it has expired.
  Result<int64_t> LeaseKeepAlive(int64_t lease);
  // Ends the lease now and deletes its keys. A lease that is already gone is kNotFound.
  Status LeaseRevoke(int64_t lease);

  // Follows changes of [key, range_end) from start_revision (0: from now). `on_batch` runs on
  // the watch's own thread, one call at a time, and must not block for long. A broken stream is
  // reopened on the next endpoint from the revision after the last one delivered, so nothing is
  // missed or repeated; if etcd has compacted that revision away, the watch ends with a
  // kNotFound batch. Destroying the returned object stops the watch (within a few ms) and joins
  // its thread. Limitation: a member that is partitioned but keeps the TCP connection open is
  // not noticed (etcd sends no heartbeats on an idle watch).
  std::unique_ptr<EtcdWatch> Watch(const std::string& key, const std::string& range_end,
                                   int64_t start_revision,
                                   std::function<void(const WatchBatch&)> on_batch);

  const EtcdOptions& options() const { return options_; }

  // POSTs `body` to `path` on the endpoints in turn and returns the reply's body, checked to be
  // a 200 with a bounded size. For calls without a method here (/v3/kv/compaction in a test).
  Result<std::string> Post(const std::string& path, const std::string& body);

 private:
  explicit EtcdClient(EtcdOptions options);
  struct Attempt;
  Attempt PostOnce(const std::string& endpoint, const std::string& path, const std::string& body,
                   long timeout_ms);
  void* TakeHandle();
  void GiveBack(void* handle);

  EtcdOptions options_;  // set once in the constructor
  std::atomic<size_t> preferred_{0};  // endpoint that answered last
  std::mutex pool_mu_;
  std::vector<void*> idle_handles_;  // curl easy handles: reused for their open connections
};

// A running watch (see EtcdClient::Watch). Destroy it to stop.
class EtcdWatch {
 public:
  ~EtcdWatch();
  EtcdWatch(const EtcdWatch&) = delete;
  EtcdWatch& operator=(const EtcdWatch&) = delete;

 private:
  friend class EtcdClient;
  struct Stream;
  EtcdWatch() = default;
  void Run();
  bool RunStream(size_t endpoint_index);

  EtcdOptions options_;
  std::string key_, range_end_;
  int64_t next_revision_ = 0;  // first revision not yet delivered (0: from now)
  std::function<void(const WatchBatch&)> on_batch_;
  std::atomic<bool> stop_{false};
  std::mutex wake_mu_;
  std::condition_variable wake_;  // wakes the pause between two streams on stop
  void* multi_ = nullptr;         // the curl multi handle of the open stream, woken on stop
  std::thread thread_;
};

}  // namespace jobnet::coord

#endif  // JOBNET_COORD_ETCD_CLIENT_HPP_
