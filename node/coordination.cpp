// Holding this node's shard in etcd, and the fence that follows the lease (coordination.hpp).
#include "node/coordination.hpp"

#include <spdlog/spdlog.h>

#include "protocol/try.hpp"

namespace jobnet {
namespace {

using Clock = std::chrono::steady_clock;

// At start, how long a shard key under this id may still be held before the start gives up: a
// process killed just before held it under a lease that lives up to its TTL (2 s) after the
// last renewal, and etcd may take a moment more to expire it.
constexpr uint32_t kStartWaitMs = 5000;
// The fence is refreshed from the lease this often, so it lags the lease by at most this.
constexpr std::chrono::milliseconds kRefresh{100};
// After a lost lease, a new one is tried this often (each try grants, registers, campaigns).
constexpr std::chrono::milliseconds kRetry{500};

}  // namespace

Status Coordination::Start(CoordinationOptions options, std::unique_ptr<Coordination>* out) {
  std::unique_ptr<Coordination> c(new Coordination(std::move(options)));
  coord::EtcdOptions eo;
  eo.endpoints = c->options_.etcd;
  JOBNET_TRY(coord::EtcdClient::Open(eo, &c->client_));
  JOBNET_TRY(c->Acquire(kStartWaitMs));
  spdlog::info("holding shard {} at epoch {} (etcd lease {:x}, cluster {})", c->options_.node_id,
               c->epoch_, c->coordinator_->lease(), c->options_.cluster);
  c->thread_ = std::thread([p = c.get()] { p->Loop(); });
  *out = std::move(c);
  return Status::OK();
}

Coordination::~Coordination() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
  fence_->Drop();
  coordinator_.reset();  // revokes the lease: member and shard keys go at once
}

Status Coordination::Acquire(uint32_t wait_ms) {
  fence_->Drop();
  coordinator_.reset();
  coord::CoordinatorOptions co;
  co.cluster = options_.cluster;
  co.node_id = options_.node_id;
  co.on_lease_lost = [this] {
    fence_->Drop();  // at once: the loop would see it only at its next turn
    wake_.notify_all();
  };
  std::unique_ptr<coord::Coordinator> c;
  JOBNET_TRY(coord::Coordinator::Start(client_.get(), co, &c));
  JOBNET_TRY(c->Register(options_.endpoint));
  const auto give_up = Clock::now() + std::chrono::milliseconds(wait_ms);
  for (;;) {
    auto won = c->Campaign(options_.node_id);
    if (won.ok()) {
      epoch_ = won.value();
      break;
    }
    if (!won.status().IsConflict()) return won.status();
    if (Clock::now() >= give_up) {
      return Status::Conflict("shard " + options_.node_id + " is held by another live node (" +
                              won.status().message() + "): is another `jobnet node --id " +
                              options_.node_id + "` using this etcd and cluster name?");
    }
    std::unique_lock<std::mutex> lock(mu_);
    if (wake_.wait_for(lock, kRefresh, [this] { return stop_; }))
      return Status::Unavailable("stopping");
  }
  fence_->Hold(c->LeaseValidUntil(), epoch_);
  coordinator_ = std::move(c);
  return Status::OK();
}

void Coordination::Loop() {
  bool lost_logged = false;
  std::unique_lock<std::mutex> lock(mu_);
  while (!stop_) {
    wake_.wait_for(lock, lost_logged ? kRetry : kRefresh);
    if (stop_) break;
    lock.unlock();
    if (coordinator_ && !coordinator_->LeaseLost()) {
      fence_->Hold(coordinator_->LeaseValidUntil(), epoch_);
    } else {
      if (!lost_logged)
        spdlog::error("etcd lease of shard {} lost: no acknowledgements until it is held again",
                      options_.node_id);
      lost_logged = true;
      Status s = Acquire(0);
      if (s.ok()) {
        spdlog::warn("holding shard {} again at epoch {}", options_.node_id, epoch_);
        lost_logged = false;
      } else {
        spdlog::debug("shard {} not held yet: {}", options_.node_id, s.ToString());
      }
    }
    lock.lock();
  }
}

}  // namespace jobnet
