// Queues as clients see them: the settings of one queue (order, limits, weight, pause) and what a
// node reports about it. Plain structs of standard types, shared by the client library
// (jobnet/client.h) and the wire protocol (protocol/messages.hpp). docs/protocol.md §15.
#ifndef JOBNET_QUEUE_H_
#define JOBNET_QUEUE_H_

#include <cstdint>
#include <optional>
#include <string>

namespace jobnet {

// Which ready job of equal priority a queue hands out first. Stored in the journal: never
// renumber.
enum class QueueOrder : uint8_t {
  kFifo = 0,  // the oldest (with priority aging, docs/architecture.md §14)
  kLifo = 1,  // the newest
};
// "fifo" or "lifo", as on the wire and in the CLI.
const char* QueueOrderName(QueueOrder o);
std::optional<QueueOrder> ParseQueueOrder(const std::string& name);

// The settings of one queue on one node. A queue nobody configured has these defaults.
struct QueueSettings {
  std::string name;
  QueueOrder order = QueueOrder::kFifo;
  uint32_t concurrency = 0;  // runs of this queue at once on this node (local + leased); 0 = no limit
  uint32_t rate = 0;         // runs started per second on this node; 0 = no limit
  uint32_t weight = 1;       // share of dispatches against other queues with ready jobs
  bool paused = false;       // accepts submits, starts nothing
  // Last change: Unix ms on the node that made it, and that node's id. In a cluster the newest
  // (updated_at_ms, then origin) wins on every node. 0 / empty: never configured.
  uint64_t updated_at_ms = 0;
  std::string origin;
};

// A change to some settings of one queue; the fields left empty keep their value.
struct QueueUpdate {
  std::string name;
  std::optional<QueueOrder> order;
  std::optional<uint32_t> concurrency;
  std::optional<uint32_t> rate;
  std::optional<uint32_t> weight;
  std::optional<bool> paused;
};

// One queue as one node sees it (`jobnet queues`).
struct QueueInfo {
  std::string node;  // the node that answered
  QueueSettings settings;
  uint64_t queued = 0;   // ready to run (including those a pause or limit holds back)
  uint64_t delayed = 0;
  uint64_t running = 0;  // this node's runs of the queue, here and on peers
  uint64_t dead = 0;
  uint64_t oldest_wait_ms = 0;  // how long its longest-waiting ready job has waited; 0 = none
};

}  // namespace jobnet

#endif  // JOBNET_QUEUE_H_
