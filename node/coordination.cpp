// Holding this node's shard in etcd, and the fence that follows the lease (coordination.hpp).
#include "node/coordination.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>

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
// The member list is read again this often: a node that joins is linked by every other node
// within this (it links them itself at start).
constexpr std::chrono::milliseconds kMembersEvery{1000};

// What a node is told when another node has won its shard (or one it took over) since.
std::string TakenOverMessage(const std::string& shard, const std::string& by, int64_t epoch) {
  return "shard " + shard + " has been taken over by node " + by + " (epoch " +
         std::to_string(epoch) + "), which serves its jobs from its copy; this node's journal " +
         "of it is no longer the shard's (every job it acknowledged is on " + by +
         "): start this node under a new id, with an empty data directory";
}

}  // namespace

Status Coordination::Start(CoordinationOptions options, std::unique_ptr<Coordination>* out) {
  std::unique_ptr<Coordination> c(new Coordination(std::move(options)));
  coord::EtcdOptions eo;
  eo.endpoints = c->options_.etcd;
  JOBNET_TRY(coord::EtcdClient::Open(eo, &c->client_));
  if (Status s = c->Acquire(kStartWaitMs); !s.ok()) {
    if (!c->own_lost_) return s;
    spdlog::error(
        "{}. This node does not serve its shard: it runs as a backup of other shards and "
        "serves the shards it took over; submits to it are refused",
        s.message());
  } else {
    spdlog::info("holding shard {} at epoch {} (etcd lease {:x}, cluster {})",
                 c->options_.node_id, c->epoch_, c->coordinator_->lease(), c->options_.cluster);
  }
  if (c->options_.on_holder || c->options_.has_copy) c->Follow();
  c->ReadMembers(true);
  std::set<std::string> mine(c->options_.taken.begin(), c->options_.taken.end());
  for (const auto& shard : c->options_.copies) {
    // Won here last, but perhaps never served: the node stopped between the campaign and the
    // takeover, which nobody else can do now (the last win is this node's).
    auto last = c->coordinator_->LastWinOf(shard);
    if (!last.ok()) return last.status();
    // (Its own shard only if it was won with the copy: else its own journal holds it.)
    if (last.value().primary == c->options_.node_id &&
        (shard != c->options_.node_id || last.value().from_copy))
      mine.insert(shard);
  }
  for (const auto& shard : mine) {
    spdlog::warn("shard {} was taken over by this node before it stopped: holding it again", shard);
    c->must_hold_.insert(shard);
    c->due_[shard] = Clock::now();
  }
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
  for (auto& t : takeovers_) t.join();
  watch_.reset();
  fence_->Drop();
  for (auto& [shard, a] : adopted_) a.fence->Drop();
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
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& [shard, a] : adopted_) a.fence->Drop();
    wake_.notify_all();
  };
  std::unique_ptr<coord::Coordinator> c;
  JOBNET_TRY(coord::Coordinator::Start(client_.get(), co, &c));
  JOBNET_TRY(c->Register(options_.endpoint, options_.replication_endpoint));
  const auto give_up = Clock::now() + std::chrono::milliseconds(wait_ms);
  for (;;) {
    coord::LastWin last;
    if (Status may = MayWinBack(c.get(), options_.node_id, options_.history, &last,
                                /*own_journal=*/true);
        !may.ok()) {
      if (!may.IsConflict()) return may;
      // Another live process with this id (its lease holds the shard key) is not this case:
      // waited out as below, then refused.
      auto holder = c->Holder(options_.node_id);
      const bool other_process = holder.ok() && holder.value().primary == options_.node_id &&
                                 holder.value().lease != c->lease();
      if (!other_process || Clock::now() >= give_up) {
        if (other_process)
          return Status::Conflict("shard " + options_.node_id +
                                  " is held by another live node: is another `jobnet node --id " +
                                  options_.node_id + "` using this etcd and cluster name?");
        // Its own shard has gone to another node for good (or its journal was replaced): the
        // lease still serves the shards this node took over, its copies of others and its
        // takeovers (it goes on as a backup). Its own shard stays fenced.
        own_lost_ = true;
        fence_->Lose();
        coordinator_ = std::move(c);
        return may;
      }
      std::unique_lock<std::mutex> lock(mu_);
      if (wake_.wait_for(lock, kRefresh, [this] { return stop_; }))
        return Status::Unavailable("stopping");
      continue;
    }
    auto won = c->Campaign(options_.node_id, last, options_.history);
    if (won.ok()) {
      epoch_ = won.value();
      break;
    }
    if (!won.status().IsConflict()) return won.status();
    // Won by another node since it was read: read again (MayWinBack says what follows).
    if (won.status().message().find("has been won by") != std::string::npos) continue;
    if (Clock::now() >= give_up) {
      auto holder = c->Holder(options_.node_id);
      if (holder.ok() && holder.value().primary != options_.node_id)
        return Status::Conflict(
            TakenOverMessage(options_.node_id, holder.value().primary, holder.value().epoch));
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

Status Coordination::MayWinBack(coord::Coordinator* c, const std::string& shard,
                                const std::string& history, coord::LastWin* last,
                                bool own_journal) {
  auto l = c->LastWinOf(shard);
  if (!l.ok()) return l.status();
  *last = l.value();
  if (last->primary.empty()) return Status::OK();
  if (last->primary != options_.node_id)
    return Status::Conflict(TakenOverMessage(shard, last->primary, last->revision));
  if (own_journal && last->from_copy)
    return Status::Conflict("shard " + shard +
                            " was last won by this node with its copy of it (epoch " +
                            std::to_string(last->revision) +
                            "), taken over after this node had been deposed: the copy is the "
                            "shard's journal, this node's own journal of it is stale");
  if (!history.empty() && !last->history.empty() && history != last->history)
    return Status::Conflict(
        "shard " + shard + " was last won (epoch " + std::to_string(last->revision) +
        ") with journal " + last->history + ", but this node's journal is " + history +
        ": its data directory was lost or replaced, and the jobs it acknowledged are on the "
        "shard's backups (which take it over) or gone; start this node under a new id, with "
        "an empty data directory");
  return Status::OK();
}

Status Coordination::MayTakeOver(const std::string& shard, coord::LastWin* last,
                                 std::string* history) {
  if (!options_.has_copy || !options_.has_copy(shard, history))
    return Status::Conflict("this node holds no complete copy of it");
  // Only a backup that holds every acknowledged batch may take the shard: one its primary
  // dropped from the in-sync set (silent too long) has a copy that may lack some.
  auto set = coord::GetInSync(client_.get(), options_.cluster, shard);
  if (!set.ok() && !set.status().IsNotFound()) return set.status();
  if (set.ok() && std::find(set.value().backups.begin(), set.value().backups.end(),
                            options_.replication_endpoint) == set.value().backups.end())
    return Status::Conflict("this node (" + options_.replication_endpoint +
                            ") is not in its in-sync set of epoch " +
                            std::to_string(set.value().epoch) +
                            ", so its copy may lack acknowledged batches");
  auto l = coordinator_->LastWinOf(shard);
  if (!l.ok()) return l.status();
  *last = l.value();
  // The set must be the last winner's: one written by an earlier holder says nothing of what a
  // later one acknowledged. (The campaign compares the last win read here, so nobody can win
  // in between.) This node may be the last winner itself: a campaign whose answer was lost.
  // No set at all: its own node never wrote one, so all its backups hold every batch; but a
  // node that took it over wrote none either, and what it acknowledged is not on them.
  if (!set.ok() && !last->primary.empty() && last->primary != shard &&
      last->primary != options_.node_id)
    return Status::Conflict("its last winner, " + last->primary + ", wrote no in-sync set");
  const bool set_of_another =
      set.ok() && (set.value().primary.empty() ? set.value().epoch != last->revision
                                               : set.value().primary != last->primary);
  if (set_of_another && last->primary != options_.node_id)
    return Status::Conflict("its in-sync set was written by " + set.value().primary +
                            " (epoch " + std::to_string(set.value().epoch) + "), but " +
                            last->primary + " won it last (epoch " +
                            std::to_string(last->revision) + ")");
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
      if (!own_lost_) fence_->Hold(coordinator_->LeaseValidUntil(), epoch_);
    } else {
      if (!lost_logged)
        spdlog::error("etcd lease of shard {} lost: no acknowledgements until it is held again",
                      options_.node_id);
      lost_logged = true;
      Status s = Acquire(0);
      if (s.ok() || own_lost_) {
        if (s.ok())
          spdlog::warn("holding shard {} again at epoch {}", options_.node_id, epoch_);
        else
          spdlog::error(
              "{}. This node no longer serves it: it goes on as a backup of other shards and "
              "serves the shards it took over",
              s.message());
        lost_logged = false;
        std::lock_guard<std::mutex> relock(mu_);
        for (auto& [shard, a] : adopted_) a.rewin = true;
      } else {
        spdlog::debug("shard {} not held yet: {}", options_.node_id, s.ToString());
      }
    }
    bool refollow = false;
    {
      std::lock_guard<std::mutex> relock(mu_);
      std::swap(refollow, refollow_);
    }
    if (refollow) Follow();
    ReadMembers(false);
    TakeOverDue();
    HoldAdopted();
    lock.lock();
  }
}

void Coordination::ReadMembers(bool force) {
  if (!options_.on_member || !coordinator_) return;
  const auto now = Clock::now();
  if (!force && now < members_due_) return;
  members_due_ = now + kMembersEvery;
  auto members = coordinator_->Members();
  if (!members.ok()) {
    spdlog::debug("cannot list the members: {}", members.status().ToString());
    return;
  }
  for (const auto& m : members.value())
    if (m.id != options_.node_id && !m.endpoint.empty())
      options_.on_member(m.id, m.endpoint, m.replication);
}

void Coordination::Follow() {
  watch_.reset();
  auto retry = [this] {
    std::lock_guard<std::mutex> lock(mu_);
    refollow_ = true;
  };
  if (!coordinator_) return retry();
  auto table = coordinator_->Shards();
  if (!table.ok()) {
    spdlog::warn("cannot read the shards' holders from etcd: {}", table.status().ToString());
    return retry();
  }
  if (options_.on_holder)
    for (const auto& [shard, h] : table.value().shards) options_.on_holder(shard, h.primary, h.epoch);
  // A watch that ended (etcd unreachable for a while) goes on from the last event handled, so
  // a holder lost meanwhile is still seen to go; from the table's revision if etcd has
  // compacted that history away.
  int64_t from = 0;
  bool first = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    from = seen_revision_ > 0 ? seen_revision_ + 1 : table.value().revision + 1;
    std::swap(first, first_follow_);
  }
  // At start, a shard this node keeps a copy of that has no holder lost it while this node was
  // down (which no watch will say again): it is taken over unless its own node holds it within
  // the start wait (a whole cluster starting again gives a slow node that long).
  if (first && options_.has_copy && options_.take_over) {
    std::set<std::string> held;
    for (const auto& [shard, h] : table.value().shards) held.insert(shard);
    for (const auto& shard : options_.copies) {
      std::string history;
      if (held.count(shard) || (shard == options_.node_id && !own_lost_) ||
          !options_.has_copy(shard, &history))
        continue;
      std::lock_guard<std::mutex> lock(mu_);
      if (must_hold_.count(shard)) continue;
      spdlog::warn("shard {} has no primary: this node holds a copy and takes it over unless it "
                   "is held within {} ms",
                   shard, kStartWaitMs + options_.takeover_grace_ms);
      due_[shard] =
          Clock::now() + std::chrono::milliseconds(kStartWaitMs + options_.takeover_grace_ms);
    }
  }
  watch_ = coordinator_->WatchShards(from,
                                     [this](const coord::WatchBatch& b) { OnShardEvents(b); });
}

void Coordination::OnShardEvents(const coord::WatchBatch& batch) {
  const std::string prefix = "/jobnet/" + options_.cluster + "/shard/";
  if (!batch.status.ok()) {
    spdlog::warn("watch of the shards' holders ended: {}; reading them again",
                 batch.status.ToString());
    std::lock_guard<std::mutex> lock(mu_);
    refollow_ = true;
    if (batch.status.IsNotFound()) seen_revision_ = 0;  // compacted: its events are gone
    return;
  }
  // has_copy may open a copy or wait for a frame being applied: never under mu_, which the
  // loop needs to keep the fences fresh.
  std::vector<std::string> gone;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& e : batch.events) {
      seen_revision_ = std::max(seen_revision_, e.kv.mod_revision);
      if (e.kv.key.compare(0, prefix.size(), prefix) != 0) continue;
      const std::string shard = e.kv.key.substr(prefix.size());
      if (e.type == coord::WatchEvent::Type::kPut) {
        if (options_.on_holder) {
          const coord::ShardHolder h = coord::Coordinator::HolderOfKey(e.kv);
          options_.on_holder(shard, h.primary, h.epoch);
        }
        due_.erase(shard);
        continue;
      }
      if (options_.on_holder) options_.on_holder(shard, "", 0);
      if (must_hold_.count(shard))
        due_[shard] = Clock::now();
      else if ((shard != options_.node_id || own_lost_) && options_.has_copy &&
               options_.take_over)
        gone.push_back(shard);
    }
  }
  for (const auto& shard : gone) {
    std::string history;
    if (!options_.has_copy(shard, &history)) continue;
    spdlog::warn(
        "shard {} has no primary: this node holds a copy and takes it over unless it "
        "is held again within {} ms",
        shard, options_.takeover_grace_ms);
    std::lock_guard<std::mutex> lock(mu_);
    due_[shard] = Clock::now() + std::chrono::milliseconds(options_.takeover_grace_ms);
  }
}

void Coordination::TakeOverDue() {
  std::vector<std::string> ready;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto it = due_.begin(); it != due_.end();) {
      if (it->second > Clock::now()) {
        ++it;
        continue;
      }
      ready.push_back(it->first);
      it = due_.erase(it);
    }
  }
  for (const auto& shard : ready) {
    if (!coordinator_ || coordinator_->LeaseLost()) {
      std::lock_guard<std::mutex> lock(mu_);
      due_[shard] = Clock::now() + kRetry;  // once this node holds a lease again
      continue;
    }
    bool must = false;
    {
      std::lock_guard<std::mutex> lock(mu_);
      must = must_hold_.count(shard) > 0;
    }
    coord::LastWin last;
    std::string history;  // the copy's
    Status may = must ? MayWinBack(coordinator_.get(), shard, {}, &last)
                      : MayTakeOver(shard, &last, &history);
    // Held again with the copy it was won with: the same history goes on.
    if (must && may.ok()) history = last.history;
    if (!may.ok()) {
      std::lock_guard<std::mutex> lock(mu_);
      if (!may.IsConflict()) {
        due_[shard] = Clock::now() + kRetry;  // etcd did not answer
      } else if (must) {
        spdlog::error("{}", may.message());
        must_hold_.erase(shard);
      } else {
        spdlog::warn("not taking shard {} over: {}", shard, may.message());
      }
      continue;
    }
    auto won = coordinator_->Campaign(shard, last, history, /*from_copy=*/true);
    if (!won.ok()) {
      std::lock_guard<std::mutex> lock(mu_);
      // A shard this node took over is its own: held by another node only until that node is
      // deposed (its batches are refused here) or its old lease ends.
      if (must || !won.status().IsConflict())
        due_[shard] = Clock::now() + kRetry;
      else
        spdlog::info("not taking shard {} over: {}", shard, won.status().ToString());
      continue;
    }
    // The shard is served here on one copy (no backups of its own yet), as etcd is told. Best
    // effort: the old primary's set no longer lets anyone take the shard over (it is not its
    // last winner's), and giving the shard up here would leave nobody who may take it.
    if (Status s = coord::PutInSync(client_.get(), options_.cluster, shard, won.value(),
                                    options_.node_id, {});
        !s.ok())
      spdlog::warn("took shard {} at epoch {} but cannot write its in-sync set yet ({})", shard,
                   won.value(), s.ToString());
    {
      std::lock_guard<std::mutex> lock(mu_);
      must_hold_.erase(shard);
    }
    auto fence = std::make_shared<coord::Fence>();
    fence->Hold(coordinator_->LeaseValidUntil(), won.value());
    spdlog::warn("took shard {} over at epoch {}: serving it from this node's copy", shard,
                 won.value());
    {
      std::lock_guard<std::mutex> lock(mu_);
      adopted_[shard] = AdoptedShard{won.value(), fence, false, false};
    }
    // Opening and recovering the copy may take seconds: not on this thread, which keeps the
    // fences fresh.
    takeovers_.emplace_back([this, shard, fence] {
      Status s = options_.take_over(shard, fence);
      if (s.ok()) return;
      spdlog::error("cannot serve shard {}: {}; giving it up", shard, s.ToString());
      std::lock_guard<std::mutex> lock(mu_);
      adopted_[shard].failed = true;
      wake_.notify_all();
    });
  }
}

void Coordination::HoldAdopted() {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto it = adopted_.begin(); it != adopted_.end();) {
    AdoptedShard& a = it->second;
    if (a.failed) {
      a.fence->Drop();
      if (coordinator_) (void)coordinator_->Resign(it->first, a.epoch);
      it = adopted_.erase(it);
      continue;
    }
    if (!coordinator_ || coordinator_->LeaseLost()) {
      a.fence->Drop();
      ++it;
      continue;
    }
    if (a.rewin) {
      coord::LastWin last;
      Status may = MayWinBack(coordinator_.get(), it->first, {}, &last);
      if (may.IsConflict()) {
        // Another node has won it since: never this node's again. It stays fenced here, and
        // its requests go to its holder.
        spdlog::error("shard {} was taken over while this node had no lease ({}): this node "
                      "no longer serves it",
                      it->first, may.message());
        it = adopted_.erase(it);
        continue;
      }
      auto won = may.ok() ? coordinator_->Campaign(it->first, last, last.history,
                                                   /*from_copy=*/true)
                          : Result<int64_t>(may);
      if (!won.ok()) {  // etcd did not answer, or the old lease still holds it: next turn
        ++it;
        continue;
      }
      a.epoch = won.value();
      a.rewin = false;
      spdlog::warn("holding taken-over shard {} again at epoch {}", it->first, a.epoch);
    }
    a.fence->Hold(coordinator_->LeaseValidUntil(), a.epoch);
    ++it;
  }
}

}  // namespace jobnet
