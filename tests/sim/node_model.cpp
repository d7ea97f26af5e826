// One simulated node: its coordination (after node/coordination.cpp and coord/coordinator.cpp),
// its shards as primary (the scheduler core, and a shipper after node/replica_shipper.cpp) and
// its copies as a backup (after node/replica_server.cpp). The replication decisions are the
// real ones: protocol::DecideCopy on the backup, protocol::JudgeAck on the primary, on frames
// encoded and decoded by protocol/replication.
#include <algorithm>

#include "protocol/job_record.hpp"
#include "tests/sim/world.hpp"

namespace jobnet::sim {

using protocol::AckVerdict;
using protocol::ReplAck;
using protocol::ReplCode;
using protocol::ReplFrame;
using protocol::ReplKind;

namespace {

std::string HistoryId(std::mt19937_64& rng) {
  static const char* kHex = "0123456789abcdef";
  std::string h;
  for (int i = 0; i < 32; ++i) h.push_back(kHex[rng() % 16]);
  return h;
}

}  // namespace

// ---- start, crash ----

void World::StartNode(int n) {
  Node& node = *nodes_[n];
  if (node.up) return;
  // (What a process holds in memory is as CrashNode left it, or as a new Node has it.)
  node.up = true;
  node.follows = true;
  node.starting = true;
  node.start_give_up = now_ + kStartWaitMs;
  node.replica_busy_until = now_;
  SimJournal& j = node.journals[node.id];
  if (j.history.empty()) j.history = HistoryId(rng_);
  j.incarnation++;  // the open's synced write
  for (const std::string& shard : node.taken) {
    node.must_hold.insert(shard);
    node.due[shard] = now_;
  }
  Trace(node.id + " starts (incarnation " + std::to_string(j.incarnation) + ")");
  Acquire(n);
  KeepAlive(n);
}

void World::CrashNode(int n, bool wipe) {
  Node& node = *nodes_[n];
  node.up = false;
  node.inc++;
  node.paused = false;
  node.deferred.clear();
  for (auto& [shard, p] : node.primaries) p->alive = false;
  node.primaries.clear();
  for (auto& [shard, c] : node.copies) {
    c.staging.reset();
    c.staging_epoch = 0;
  }
  node.lease_lost = true;
  node.own_lost = false;
  node.lease = 0;
  node.coord_busy = false;
  node.follows = false;
  node.watch_backlog.clear();
  node.due.clear();
  node.must_hold.clear();
  node.adopted.clear();
  if (wipe) {
    node.journals.clear();
    node.copies.clear();
    node.taken.clear();
    report_.wipes++;
  }
}

// ---- coordination ----

bool World::Holds(int n, const std::string& shard) const {
  const Node& node = *nodes_[n];
  if (node.lease_lost || Mono(n) + kFenceMarginMs >= node.valid_until) return false;
  if (shard == node.id) return node.epoch > 0 && !node.own_lost;
  auto a = node.adopted.find(shard);
  return a != node.adopted.end() && !a->second.rewin;
}

int64_t World::FenceEpoch(int n, const std::string& shard) const {
  const Node& node = *nodes_[n];
  if (shard == node.id) return node.epoch;
  auto a = node.adopted.find(shard);
  return a == node.adopted.end() ? 0 : a->second.epoch;
}

void World::KeepAlive(int n) {
  Node& node = *nodes_[n];
  AtNode(n, now_ + kKeepAliveMs, [this, n] { KeepAlive(n); });
  if (node.lease_lost || node.lease == 0) return;
  const uint64_t lease = node.lease;
  const uint64_t sent = Mono(n);
  auto found = std::make_shared<bool>(false);
  CallEtcd(
      n, [this, lease, found] { *found = etcd_.KeepAlive(lease, now_); },
      [this, n, lease, sent, found](bool ok) {
        Node& nd = *nodes_[n];
        if (nd.lease != lease || nd.lease_lost) return;
        if (ok && *found) {
          nd.valid_until = std::max(nd.valid_until, sent + kTtlMs);
          return;
        }
        if ((ok && !*found) || Mono(n) >= nd.valid_until) {
          Trace(nd.id + ": etcd lease lost");
          nd.lease_lost = true;
        }
      });
}

// Coordination::Acquire: a new lease, then the node's own shard. A starting node waits out
// its old lease for up to kStartWaitMs; one whose shard another node won goes on as a backup.
void World::Acquire(int n) {
  Node& node = *nodes_[n];
  node.coord_busy = true;
  const uint64_t asked = Mono(n);
  auto lease = std::make_shared<uint64_t>(0);
  CallEtcd(
      n, [this, lease] { *lease = etcd_.Grant(now_); },
      [this, n, lease, asked](bool ok) {
        Node& nd = *nodes_[n];
        if (!ok) {
          if (nd.starting) {  // etcd cannot be reached at start: exit 8, and be restarted
            Trace(nd.id + " cannot reach etcd at start: exits");
            CrashNode(n, false);
            At(now_ + 1000, [this, n] { StartNode(n); });
            return;
          }
          nd.coord_busy = false;
          AtNode(n, now_ + kRetryMs, [this, n] { CoordLoop(n); });
          return;
        }
        nd.lease = *lease;
        nd.valid_until = asked + kTtlMs;
        CampaignOwn(n, *lease);
      });
}

void World::ReadLastWin(int n, const std::string& shard,
                        std::function<void(bool, FakeEtcd::Holder)> k) {
  auto last = std::make_shared<FakeEtcd::Holder>();
  CallEtcd(
      n, [this, shard, last] { *last = etcd_.LastWin(shard); },
      [last, k = std::move(k)](bool ok) { k(ok, *last); });
}

// Coordination::Acquire's campaign (MayWinBack first): the node's own shard, only if nobody
// else has won it since this node did; at start, a new journal never wins a shard won before.
void World::CampaignOwn(int n, uint64_t lease) {
  const std::string shard = nodes_[n]->id;
  ReadLastWin(n, shard, [this, n, lease, shard](bool ok, FakeEtcd::Holder last) {
    Node& nd = *nodes_[n];
    const std::string history = nd.journals[shard].history;
    if (ok && last.node != -1 && last.node != n)
      return OwnLost(n, "its shard has been taken over by " + nodes_[last.node]->id);
    if (ok && last.node == n && last.history != history)
      return OwnLost(n, "its journal is not the one its shard was last won with");
    if (!ok) return OwnCampaigned(n, lease, false, 0, FakeEtcd::Holder{});
    auto won = std::make_shared<int64_t>(0);
    auto holder = std::make_shared<FakeEtcd::Holder>();
    CallEtcd(
        n,
        [this, n, shard, lease, won, holder, after = last.epoch, history] {
          *won = etcd_.Campaign(shard, n, lease, after, history, holder.get());
          if (*won > 0) ShardWon(shard, n, *won);
        },
        [this, n, lease, won, holder](bool ok2) { OwnCampaigned(n, lease, ok2, *won, *holder); });
  });
}

void World::CheckCopyWon(int n, const std::string& shard) {
  auto held = std::make_shared<bool>(false);
  auto last = std::make_shared<FakeEtcd::Holder>();
  CallEtcd(
      n,
      [this, shard, held, last] {
        *held = etcd_.Find(shard) != nullptr;
        *last = etcd_.LastWin(shard);
      },
      [this, n, shard, held, last](bool ok) {
        Node& nd = *nodes_[n];
        if (!ok)  // (the node's start fails and is tried again)
          return AtNode(n, now_ + kRetryMs, [this, n, shard] { CheckCopyWon(n, shard); });
        // (The node reads these before its coordination runs: nothing can be adopted yet. The
        // retries above are later, so one adopted meanwhile is left as it is.)
        if (nd.adopted.count(shard) || nd.primaries.count(shard)) return;
        if (last->node == n) {
          Trace(nd.id + " won shard " + shard + " last: holding it again");
          nd.must_hold.insert(shard);
          nd.due[shard] = now_;
          return;
        }
        // Follow's first read: a shard that lost its holder while this node was down.
        auto c = nd.copies.find(shard);
        if (*held || shard == nd.id || c == nd.copies.end() || !c->second.pos.complete) return;
        Trace(nd.id + ": shard " + shard + " has no primary at start; taking it over unless held");
        nd.due[shard] = now_ + kStartWaitMs + kGraceMs;
      });
}

void World::OwnLost(int n, const std::string& why) {
  Node& nd = *nodes_[n];
  // Its own shard is gone for good, but it keeps the lease, for the shards it took over, its
  // copies of others and its takeovers: at start too (it starts as a backup).
  if (!nd.own_lost) Trace(nd.id + " does not serve its shard (" + why + "): a backup from now");
  nd.own_lost = true;
  nd.lease_lost = false;
  nd.coord_busy = false;
  if (nd.starting) {
    nd.starting = false;
    for (const auto& [shard, c] : nd.copies) CheckCopyWon(n, shard);
  }
  for (auto& [shard, a] : nd.adopted) a.rewin = true;
  AtNode(n, now_ + kRefreshMs, [this, n] { CoordLoop(n); });
}

void World::OwnCampaigned(int n, uint64_t lease, bool ok, int64_t won,
                          const FakeEtcd::Holder& holder) {
  Node& nd = *nodes_[n];
  if (ok && won > 0) {
    nd.epoch = won;
    nd.lease_lost = false;
    nd.coord_busy = false;
    Trace(nd.id + " holds its shard at epoch " + std::to_string(won));
    if (nd.starting) {
      nd.starting = false;
      ServeShard(n, nd.id, &nd.journals[nd.id], true);
      // A copy of a shard this node won last is its own to serve (a takeover cut short).
      for (const auto& [shard, c] : nd.copies) CheckCopyWon(n, shard);
    } else {
      for (auto& [shard, a] : nd.adopted) a.rewin = true;
    }
    AtNode(n, now_ + kRefreshMs, [this, n] { CoordLoop(n); });
    return;
  }
  if (nd.starting) {
    if (ok && won == 0 && now_ < nd.start_give_up) {  // its old lease may still hold it
      AtNode(n, now_ + kRefreshMs, [this, n, lease] { CampaignOwn(n, lease); });
      return;
    }
    if (ok && ((won == 0 && holder.node != n) || won == -2))
      return OwnLost(n, "its shard is held or has been won by another node");
    Trace(nd.id + " cannot win its shard at start: exits");
    CrashNode(n, false);
    At(now_ + 1000, [this, n] { StartNode(n); });
    return;
  }
  // At runtime: a new lease is tried again at the next turn.
  nd.lease = 0;
  nd.coord_busy = false;
  AtNode(n, now_ + kRetryMs, [this, n] { CoordLoop(n); });
}

void World::CoordLoop(int n) {
  Node& node = *nodes_[n];
  if (node.coord_busy || node.starting) return;
  if (node.lease_lost) return Acquire(n);
  node.coord_busy = true;
  TakeOverDue(n);
}

void World::OnShardDeleted(int n, const std::string& shard) {
  Node& node = *nodes_[n];
  if (node.must_hold.count(shard)) {
    node.due[shard] = now_;
    return;
  }
  if (shard == node.id || node.taken.count(shard)) return;
  auto c = node.copies.find(shard);
  if (c == node.copies.end() || !c->second.pos.complete) return;
  Trace(node.id + ": shard " + shard + " has no primary; taking it over in " +
        std::to_string(kGraceMs) + " ms unless it is held again");
  node.due[shard] = now_ + kGraceMs;
}

void World::TakeOverDue(int n) {
  Node& node = *nodes_[n];
  for (auto it = node.due.begin(); it != node.due.end(); ++it) {
    if (it->second > now_) continue;
    const std::string shard = it->first;
    node.due.erase(it);
    node.coord_busy = true;
    CampaignFor(n, shard, node.must_hold.count(shard) > 0);
    return;  // CampaignFor comes back here when it is done
  }
  HoldAdopted(n);
}

void World::CampaignFor(int n, const std::string& shard, bool must) {
  auto retry = [this, n, shard] {
    nodes_[n]->due[shard] = now_ + kRetryMs;
    TakeOverDue(n);
  };
  auto campaign = [this, n, shard, must, retry](int64_t after) {
    const uint64_t lease = nodes_[n]->lease;
    Node& nd = *nodes_[n];
    if (nd.lease_lost) return retry();  // a lost lease campaigns for nothing
    // Won with the journal it will be served from: the copy's primary's, or (taken over in an
    // earlier run) the one it became.
    auto c = nd.copies.find(shard);
    auto j = nd.journals.find(shard);
    const std::string history = c != nd.copies.end() ? c->second.pos.history
                                : j != nd.journals.end() ? j->second.history
                                                         : std::string();
    auto won = std::make_shared<int64_t>(0);
    auto holder = std::make_shared<FakeEtcd::Holder>();
    CallEtcd(
        n,
        [this, n, shard, lease, after, history, won, holder] {
          *won = etcd_.Campaign(shard, n, lease, after, history, holder.get());
          if (*won > 0) ShardWon(shard, n, *won);
        },
        [this, n, shard, must, retry, won](bool ok) {
          Trace(nodes_[n]->id + " campaign for " + shard + ": " + (ok ? std::to_string(*won) : std::string("no answer")));
          if (!ok || *won == -1 || (*won == 0 && must)) return retry();
          if (*won <= 0) return TakeOverDue(n);
          Adopt(n, shard, *won);
        });
  };
  if (must) {
    // MayWinBack: a shard this node took over is its own again only if nobody won it since.
    return ReadLastWin(n, shard, [this, n, shard, retry, campaign](bool ok, FakeEtcd::Holder last) {
      if (!ok) return retry();
      if (last.node != n) {
        Trace(nodes_[n]->id + " gives " + shard + " up: another node has won it since");
        nodes_[n]->must_hold.erase(shard);
        return TakeOverDue(n);
      }
      campaign(last.epoch);
    });
  }
  // MayTakeOver: in the in-sync set that the shard's last winner wrote (or none written).
  auto set = std::make_shared<std::optional<InSync>>();
  auto last = std::make_shared<FakeEtcd::Holder>();
  CallEtcd(
      n,
      [this, shard, set] {
        auto it = etcd_.insync.find(shard);
        if (it != etcd_.insync.end()) *set = it->second;
      },
      [this, n, shard, set, last, campaign, retry](bool ok) {
        if (!ok) return retry();
        if (set->has_value()) {
          const auto& b = set->value().backups;
          if (std::find(b.begin(), b.end(), n) == b.end()) {
            Trace(nodes_[n]->id + ": not taking " + shard + " over: not in its in-sync set");
            return TakeOverDue(n);
          }
        }
        ReadLastWin(n, shard, [this, n, shard, set, campaign, retry](bool ok2, FakeEtcd::Holder l) {
          if (!ok2) return retry();
          if (!set->has_value() && l.node != -1 && nodes_[l.node]->id != shard && l.node != n) {
            Trace(nodes_[n]->id + ": not taking " + shard + " over: its last winner wrote no set");
            return TakeOverDue(n);
          }
          if (set->has_value() && l.node != n && set->value().primary != l.node) {
            Trace(nodes_[n]->id + ": not taking " + shard +
                  " over: its in-sync set is not its last winner's");
            return TakeOverDue(n);
          }
          campaign(l.epoch);
        });
      });
}

void World::Adopt(int n, const std::string& shard, int64_t epoch) {
  // Served on one copy until its own backups are synced: the in-sync set is empty.
  auto put = std::make_shared<bool>(false);
  CallEtcd(
      n,
      [this, n, shard, epoch, put] {
        *put = etcd_.SetInSync(shard, epoch, n, InSync{epoch, n, {}});
      },
      [this, n, shard, epoch, put](bool ok) {
        Node& nd = *nodes_[n];
        if (!ok || !*put) Trace(nd.id + " took " + shard + " but cannot write its in-sync set yet");
        nd.must_hold.erase(shard);
        nd.adopted[shard] = Node::Adopted{epoch, false};
        Trace(nd.id + " took shard " + shard + " over at epoch " + std::to_string(epoch));
        AtNode(n, now_ + Between(20, 300), [this, n, shard] { TakeOver(n, shard); });
        TakeOverDue(n);
      });
}

void World::HoldAdopted(int n) {
  std::vector<std::string> rewin;
  for (const auto& [shard, a] : nodes_[n]->adopted)
    if (a.rewin) rewin.push_back(shard);
  RewinAdopted(n, std::move(rewin), 0);
}

// Coordination::HoldAdopted: every adopted shard to win again (after a new lease), in turn; one
// that another node has won since is this node's no more.
void World::RewinAdopted(int n, std::vector<std::string> shards, size_t i) {
  Node& node = *nodes_[n];
  if (i >= shards.size() || node.lease_lost) {
    node.coord_busy = false;
    AtNode(n, now_ + kRefreshMs, [this, n] { CoordLoop(n); });
    return;
  }
  const std::string s = shards[i];
  const uint64_t lease = node.lease;
  auto next = [this, n, shards, i] { RewinAdopted(n, shards, i + 1); };
  ReadLastWin(n, s, [this, n, s, lease, next](bool ok, FakeEtcd::Holder last) {
    Node& nd = *nodes_[n];
    if (!ok) return next();
    if (last.node != n) {
      Trace(nd.id + ": taken-over shard " + s + " was won by another node: no longer served");
      nd.adopted.erase(s);
      auto p = nd.primaries.find(s);
      if (p != nd.primaries.end()) {
        p->second->alive = false;  // fenced for good; its requests go to the holder
        nd.primaries.erase(p);
      }
      return next();
    }
    auto won = std::make_shared<int64_t>(0);
    auto holder = std::make_shared<FakeEtcd::Holder>();
    CallEtcd(
        n,
        [this, n, s, lease, won, holder, after = last.epoch, history = last.history] {
          *won = etcd_.Campaign(s, n, lease, after, history, holder.get());
          if (*won > 0) ShardWon(s, n, *won);
        },
        [this, n, s, won, next](bool ok2) {
          Node& nd2 = *nodes_[n];
          auto it = nd2.adopted.find(s);
          if (ok2 && *won > 0 && it != nd2.adopted.end()) {
            it->second.epoch = *won;
            it->second.rewin = false;
            Trace(nd2.id + " holds taken-over shard " + s + " again at epoch " +
                  std::to_string(*won));
          }
          next();
        });
  });
}

void World::TakeOver(int n, const std::string& shard) {
  Node& node = *nodes_[n];
  if (node.adopted.count(shard) == 0) return;
  if (node.primaries.count(shard)) return;  // served already (ShardHost::TakeOver)
  if (node.taken.count(shard) && node.journals.count(shard)) {
    // Taken over in an earlier run: the copy is the shard's journal already.
    SimJournal& j = node.journals[shard];
    j.incarnation++;
    ServeShard(n, shard, &j, false);
    return;
  }
  auto c = node.copies.find(shard);
  if (c == node.copies.end() || !c->second.pos.complete) {
    Trace(node.id + " cannot serve " + shard + ": no complete copy; giving it up");
    const int64_t epoch = node.adopted[shard].epoch;
    node.adopted.erase(shard);
    CallEtcd(
        n,
        [this, n, shard, epoch] {
          if (etcd_.Resign(shard, n, epoch)) ShardDeleted(shard);
        },
        [](bool) {});
    return;
  }
  node.taken.insert(shard);  // the marker, synced
  node.journals[shard] = std::move(c->second.journal);
  node.copies.erase(c);
  SimJournal& j = node.journals[shard];
  j.incarnation++;
  ServeShard(n, shard, &j, false);
}

// ---- a shard served here ----

PrimaryPtr World::ServeShard(int n, const std::string& shard, SimJournal* j, bool own) {
  Node& node = *nodes_[n];
  auto p = std::make_shared<Primary>();
  primaries_made_.push_back(p);
  p->shard = shard;
  p->node = n;
  sched::SchedulerOptions so;
  so.node_id = shard;
  so.workers = 2;
  so.incarnation = j->incarnation;
  so.seed = rng_();
  p->core = std::make_unique<sched::Scheduler>(so);
  const sched::Now now = NowOf(n);
  for (const auto& [seq, rec] : j->records) {
    auto job = protocol::DecodeJobRecord(rec);
    if (!job.ok()) {
      Fail(node.id + ": a journal record of shard " + shard + " does not decode: " +
           job.status().ToString());
      return p;
    }
    auto pl = j->payloads.find(seq);
    if (pl != j->payloads.end()) job.value().spec.payload = pl->second;
    p->core->RecoverJob(std::move(job.value()), now);
  }
  p->core->FinishRecovery(j->next_seq, now);
  const int k = nodes();
  BackupLink link;
  link.node = (n + 1) % k;
  p->backups.push_back(std::move(link));
  node.primaries[shard] = p;
  Trace(node.id + " serves shard " + shard + " (" + std::to_string(j->records.size()) +
        " jobs recovered)");
  Drive(p);
  if (own) {
    p->serving = true;  // its first batch brings the backups up to date
    dirty_.insert(shard);
  } else {
    // ShardHost: the backups are brought up to date before the shard is served.
    p->writing = true;
    SyncNow(p, 0, [this, p](bool ok) {
      p->writing = false;
      if (!ok || !p->alive) return;
      p->serving = true;
      dirty_.insert(p->shard);
      Pump(p);
    });
  }
  AtNode(n, now_ + 20, [this, p] { TickPrimary(p); });
  return p;
}

void World::Drive(const PrimaryPtr& p) {
  sched::Effects fx = p->core->TakeEffects();
  p->pending.fx.Append(std::move(fx));
  Pump(p);
}

void World::TickPrimary(const PrimaryPtr& p) {
  if (!p->alive) return;
  AtNode(p->node, now_ + 50, [this, p] { TickPrimary(p); });
  if (!Holds(p->node, p->shard)) return;
  const sched::Now now = NowOf(p->node);
  auto outcomes = std::move(p->held_outcomes);
  p->held_outcomes.clear();
  for (const auto& o : outcomes) {
    p->core->Complete(o, now);
    p->pending.has_result = p->pending.has_result || o.ok;
  }
  auto dispatches = std::move(p->held_dispatches);
  p->held_dispatches.clear();
  for (const auto& d : dispatches) RunJob(p, d);
  p->core->Tick(now);
  Drive(p);
}

void World::OnClientSubmit(int n, const std::string& shard, const ClientReq& r) {
  Node& node = *nodes_[n];
  auto it = node.primaries.find(shard);
  if (it == node.primaries.end() || !it->second->serving || !Holds(n, shard))
    return ClientAnswer(r, false, "");
  const PrimaryPtr& p = it->second;
  JobSpec spec;
  spec.type = "echo";
  spec.payload = std::string("\x05", 1);
  spec.key = r.key;
  spec.timeout_ms = 3000;
  // Retried at once: a backoff doubles with every attempt, and interrupted runs (every crash
  // and takeover) count, so a job could wait out the whole settle phase in one.
  spec.backoff_ms = 0;
  spec.max_attempts = 100;
  const sched::ReplyToken t = p->next_token++;
  p->tokens[t] = r;
  p->core->Submit(t, std::move(spec), NowOf(n));
  Drive(p);
}

void World::Pump(const PrimaryPtr& p) {
  if (!p->alive || p->writing || !p->serving) return;
  if (p->pending.fx.empty()) return;
  StartBatch(p);
}

void World::StartBatch(const PrimaryPtr& p) {
  auto b = std::make_shared<Batch>(std::move(p->pending));
  p->pending = Batch{};
  p->writing = true;
  if (!b->fx.has_writes()) return Durable(p, b);
  SyncNow(p, 0, [this, p, b](bool ok) {
    if (ok && p->alive) Ship(p, b);
  });
}

std::string World::Frame(const PrimaryPtr& p, ReplKind kind, uint64_t seq,
                         std::string data) const {
  const Node& node = *nodes_[p->node];
  return protocol::EncodeReplFrame(ReplFrame{kind, p->shard, p->epoch, seq,
                                             node.journals.at(p->shard).history, std::move(data)});
}

// ReplicaShipper::SyncNow: a new epoch numbers its batches from 1, on fresh snapshots; each
// backup is synced (or, dropped, asked whether it is back); then the in-sync set is written.
void World::SyncNow(const PrimaryPtr& p, size_t i, std::function<void(bool)> k) {
  if (!p->alive) return;
  if (i == 0) {
    p->after_sync = k;
    const int64_t e = FenceEpoch(p->node, p->shard);
    if (e != p->epoch) {
      p->epoch = e;
      p->seq = 0;
      p->in_sync_dirty = true;
      for (auto& b : p->backups) b.synced = false;
    }
  }
  if (i == p->backups.size()) return WriteInSync(p, std::move(k));
  auto next = [this, p, i, k](bool ok) {
    if (ok) SyncNow(p, i + 1, k);
  };
  BackupLink& b = p->backups[i];
  if (!b.in) return TryRejoin(p, i, next);
  if (!b.synced) return Sync(p, i, next);
  next(true);
}

void World::Sync(const PrimaryPtr& p, size_t i, std::function<void(bool)> k) {
  Ask(p, i, Frame(p, ReplKind::kProbe, p->seq), [this, p, i, k](Reply r) {
    if (r.kind == Reply::kDropped) return k(true);
    if (r.kind == Reply::kMoved) return SyncNow(p, 0, p->after_sync);
    const ReplAck* a = &r.ack;
    const AckVerdict v = protocol::JudgeAck(*a, p->epoch, p->seq);
    if (v == AckVerdict::kDeposed) return Deposed(p, a->message);
    if (v == AckVerdict::kHolds) {
      p->backups[i].synced = true;
      return k(true);
    }
    SendSnapshot(p, i, k);
  });
}

void World::SendSnapshot(const PrimaryPtr& p, size_t i, std::function<void(bool)> k) {
  auto chunks = std::make_shared<std::vector<std::string>>(
      SnapshotOf(nodes_[p->node]->journals.at(p->shard)));
  SendChunks(p, i, chunks, 0, std::move(k));
}

void World::SendChunks(const PrimaryPtr& p, size_t i,
                       std::shared_ptr<std::vector<std::string>> chunks, size_t c,
                       std::function<void(bool)> k) {
  auto again = [this, p, i, k] {
    AtNode(p->node, now_ + kRefusedPauseMs, [this, p, i, k] { SendSnapshot(p, i, k); });
  };
  if (c < chunks->size()) {
    const std::string f = Frame(p, c == 0 ? ReplKind::kSnapshotFirst : ReplKind::kSnapshotChunk, 0,
                                (*chunks)[c]);
    return Ask(p, i, f, [this, p, i, chunks, c, k, again](Reply r) {
      if (r.kind == Reply::kDropped) return k(true);
      if (r.kind == Reply::kMoved) return SyncNow(p, 0, p->after_sync);
      const ReplAck* a = &r.ack;
      if (a->code == ReplCode::kStaleEpoch) return Deposed(p, a->message);
      if (a->code != ReplCode::kApplied) return again();
      SendChunks(p, i, chunks, c + 1, k);
    });
  }
  Ask(p, i, Frame(p, ReplKind::kSnapshotLast, p->seq), [this, p, i, k, again](Reply r) {
    if (r.kind == Reply::kDropped) return k(true);
    if (r.kind == Reply::kMoved) return SyncNow(p, 0, p->after_sync);
    const ReplAck* a = &r.ack;
    const AckVerdict v = protocol::JudgeAck(*a, p->epoch, p->seq);
    if (v == AckVerdict::kDeposed) return Deposed(p, a->message);
    if (v != AckVerdict::kHolds) return again();
    p->backups[i].synced = true;
    k(true);
  });
}

void World::TryRejoin(const PrimaryPtr& p, size_t i, std::function<void(bool)> k) {
  BackupLink& b = p->backups[i];
  if (now_ < b.next_try) return k(true);
  b.next_try = now_ + kRejoinEveryMs;
  b.gen++;
  b.inbox.clear();
  b.on_answer = nullptr;
  SendFrame(p, i, Frame(p, ReplKind::kProbe, p->seq));
  AtNode(p->node, now_ + kRejoinProbeMs, [this, p, i, k] {
    BackupLink& bl = p->backups[i];
    if (!p->alive) return;
    if (bl.inbox.empty()) return k(true);
    bl.inbox.clear();
    bl.in = true;
    SendSnapshot(p, i, [this, p, i, k](bool ok) {
      if (!ok) return;
      if (!p->backups[i].in) return k(true);
      p->in_sync_dirty = true;
      Trace(nodes_[p->node]->id + ": backup " + nodes_[p->backups[i].node]->id +
            " caught up: back in shard " + p->shard + "'s in-sync set");
      WriteInSync(p, k);
    });
  });
}

void World::WriteInSync(const PrimaryPtr& p, std::function<void(bool)> k) {
  if (!p->in_sync_dirty) return k(true);
  InSync set{p->epoch, p->node, {}};
  for (const auto& b : p->backups)
    if (b.in) set.backups.push_back(b.node);
  const int n = p->node;
  auto written = std::make_shared<bool>(false);
  CallEtcd(
      n, [this, p, n, set, written] { *written = etcd_.SetInSync(p->shard, p->epoch, n, set); },
      [this, p, k, written](bool ok) {
        if (!p->alive) return;
        if (ok && !*written) return Deposed(p, "the in-sync set cannot be written at this epoch");
        if (ok) p->in_sync_dirty = false;
        k(true);  // unreachable etcd: written with a later batch
      });
}

void World::Ship(const PrimaryPtr& p, std::shared_ptr<Batch> b) {
  ++p->seq;
  std::vector<Op> ops;
  for (const auto& w : b->fx.writes) {
    if (w.progress || (w.events.empty() && w.callback)) continue;
    const bool first = !w.events.empty() && w.events.front().first == 0;
    ops.push_back(Op{Op::kPut, w.job.seq, protocol::EncodeJobRecord(w.job),
                     first ? w.job.spec.payload : std::string()});
  }
  for (uint64_t seq : b->fx.deletes) ops.push_back(Op{Op::kDelete, seq, {}, {}});
  if (b->fx.next_seq != 0) ops.push_back(Op{Op::kNextSeq, b->fx.next_seq, {}, {}});
  const std::string frame = Frame(p, ReplKind::kBatch, p->seq, EncodeOps(ops));
  for (size_t i = 0; i < p->backups.size(); ++i)
    if (p->backups[i].in) SendFrame(p, i, frame);
  // The local synced write; lost if the node dies first.
  AtNode(p->node, now_ + DiskMs(), [this, p, b, ops, frame] {
    if (!p->alive) return;
    ApplyOps(ops, &nodes_[p->node]->journals[p->shard]);
    AwaitBatch(p, b, frame, 0);
  });
}

void World::AwaitBatch(const PrimaryPtr& p, std::shared_ptr<Batch> b, std::string frame, size_t i) {
  if (!p->alive) return;
  if (i == p->backups.size()) return Durable(p, b);
  if (!p->backups[i].in) return AwaitBatch(p, b, frame, i + 1);
  Await(p, i, frame, now_, [this, p, b, frame, i](Reply r) {
    if (r.kind == Reply::kDropped) return AwaitBatch(p, b, frame, i + 1);  // goes on without it
    if (r.kind == Reply::kMoved)  // every backup gets it in a snapshot of the new epoch
      return SyncNow(p, 0, [this, p, b](bool ok) {
        if (ok) Durable(p, b);
      });
    const ReplAck* a = &r.ack;
    const AckVerdict v = protocol::JudgeAck(*a, p->epoch, p->seq);
    if (v == AckVerdict::kDeposed) return Deposed(p, a->message);
    if (v == AckVerdict::kHolds) return AwaitBatch(p, b, frame, i + 1);
    if (v == AckVerdict::kRefused)
      return AtNode(p->node, now_ + kRefusedPauseMs, [this, p, b, frame, i] {
        SendFrame(p, i, frame);
        AwaitBatch(p, b, frame, i);
      });
    p->backups[i].synced = false;
    SendSnapshot(p, i, [this, p, b, frame, i](bool ok) {
      if (ok) AwaitBatch(p, b, frame, i + 1);
    });
  });
}

void World::SendFrame(const PrimaryPtr& p, size_t i, const std::string& frame) {
  const BackupLink& b = p->backups[i];
  const int from = p->node, to = b.node;
  const uint64_t gen = b.gen;
  const std::string shard = p->shard;
  Send(from, to, [this, to, from, frame, gen, shard] { OnFrame(to, from, frame, gen, shard); });
}

void World::Ask(const PrimaryPtr& p, size_t i, const std::string& frame,
                std::function<void(Reply)> k) {
  SendFrame(p, i, frame);
  Await(p, i, frame, now_, std::move(k));
}

void World::Await(const PrimaryPtr& p, size_t i, std::string frame, uint64_t start,
                  std::function<void(Reply)> k) {
  if (!p->alive) return;
  BackupLink& b = p->backups[i];
  if (!b.inbox.empty()) {
    const std::string bytes = std::move(b.inbox.front());
    b.inbox.pop_front();
    Reply r;
    if (!protocol::DecodeReplAck(bytes.data(), bytes.size(), &r.ack).ok())
      return Fail("a backup's answer does not decode");
    return k(r);
  }
  const uint64_t wait = ++p->wait_id;
  b.on_answer = [this, p, i, frame, start, k] { Await(p, i, frame, start, k); };
  AtNode(p->node, now_ + kAnswerTimeoutMs, [this, p, i, frame, start, k, wait] {
    if (!p->alive || p->wait_id != wait) return;
    BackupLink& bl = p->backups[i];
    bl.on_answer = nullptr;
    auto resend = [this, p, i, frame, start, k] {
      BackupLink& l = p->backups[i];
      l.gen++;  // a new socket: a late answer on the old one is dropped with it
      l.inbox.clear();
      SendFrame(p, i, frame);
      Await(p, i, frame, start, k);
    };
    Trace(nodes_[p->node]->id + ": backup " + nodes_[bl.node]->id + " silent for " +
          std::to_string(now_ - start) + " ms (shard " + p->shard + ", epoch " +
          std::to_string(p->epoch) + ", batch " + std::to_string(p->seq) + ")");
    if (FenceEpoch(p->node, p->shard) != p->epoch) return k(Reply{Reply::kMoved, {}});
    if (now_ - start < kDropAfterMs) return resend();
    // Silent too long: out of the in-sync set, once etcd has it so.
    InSync set{p->epoch, p->node, {}};
    for (size_t j = 0; j < p->backups.size(); ++j)
      if (p->backups[j].in && j != i) set.backups.push_back(p->backups[j].node);
    auto written = std::make_shared<bool>(false);
    const int n = p->node;
    CallEtcd(
        n, [this, p, n, set, written] { *written = etcd_.SetInSync(p->shard, p->epoch, n, set); },
        [this, p, i, k, resend, written](bool ok) {
          if (!p->alive) return;
          if (!ok || !*written) return resend();
          BackupLink& l = p->backups[i];
          l.in = false;
          l.synced = false;
          l.next_try = now_ + kRejoinEveryMs;
          Trace(nodes_[p->node]->id + ": backup " + nodes_[l.node]->id +
                " dropped from shard " + p->shard + "'s in-sync set at epoch " +
                std::to_string(p->epoch));
          k(Reply{Reply::kDropped, {}});
        });
  });
}

void World::OnAnswer(int n, const std::string& shard, int backup, uint64_t gen,
                     const std::string& bytes) {
  Node& node = *nodes_[n];
  auto it = node.primaries.find(shard);
  if (it == node.primaries.end()) return;
  PrimaryPtr p = it->second;
  for (auto& b : p->backups) {
    if (b.node != backup || b.gen != gen) continue;
    b.inbox.push_back(bytes);
    if (b.on_answer) {
      auto fn = std::move(b.on_answer);
      b.on_answer = nullptr;
      p->wait_id++;  // the timer of that wait is void
      fn();
    }
  }
}

// The batch is durable here and on every backup of the set: answers and dispatches go, unless
// the node is fenced by now (then every answer is `unavailable`; the write stays).
void World::Durable(const PrimaryPtr& p, std::shared_ptr<Batch> b) {
  p->writing = false;
  const bool fenced = !Holds(p->node, p->shard);
  if (!fenced) {
    const int64_t epoch = b->fx.has_writes() ? p->epoch : FenceEpoch(p->node, p->shard);
    bool acks = false;
    for (const auto& r : b->fx.replies)
      acks = acks || std::holds_alternative<protocol::AcceptedReply>(r.body);
    if (acks) CheckActs(p->node, p->shard, epoch, "a submit");
    if (b->has_result) CheckActs(p->node, p->shard, epoch, "a run's result");
  }
  Execute(p, b->fx, fenced);
  Pump(p);
}

void World::Execute(const PrimaryPtr& p, sched::Effects& fx, bool fenced) {
  for (auto& r : fx.replies) {
    auto t = p->tokens.find(r.token);
    if (t == p->tokens.end()) continue;
    const ClientReq req = t->second;
    p->tokens.erase(t);
    auto* a = std::get_if<protocol::AcceptedReply>(&r.body);
    if (fenced) report_.fenced_answers++;
    ClientAnswer(req, a != nullptr && !fenced, a ? a->id : "");
  }
  for (const auto& d : fx.dispatches) {
    if (fenced)
      p->held_dispatches.push_back(d);
    else
      RunJob(p, d);
  }
}

void World::RunJob(const PrimaryPtr& p, const sched::Dispatch& d) {
  const bool ok = Chance(0.9);
  AtNode(p->node, now_ + Between(5, 200), [this, p, d, ok] {
    if (!p->alive) return;
    sched::Outcome o{d.slot, d.lease, d.seq, ok, ok ? std::string("\x01", 1) : "", ok ? "" : "boom"};
    if (!Holds(p->node, p->shard)) {
      p->held_outcomes.push_back(o);
      return;
    }
    p->core->Complete(o, NowOf(p->node));
    p->pending.has_result = p->pending.has_result || ok;
    Drive(p);
  });
}

void World::Deposed(const PrimaryPtr& p, const std::string& why) {
  if (!p->alive) return;
  const int n = p->node;
  Trace(nodes_[n]->id + " is deposed from shard " + p->shard + " (" + why + "): it stops");
  report_.deposed++;
  CrashNode(n, false);
  At(now_ + Between(500, 3000), [this, n] {
    if (!nodes_[n]->up) StartNode(n);
  });
}

// ---- a backup's copies (ReplicaServer) ----

void World::OnFrame(int m, int from, const std::string& bytes, uint64_t gen,
                    const std::string& shard) {
  Node& node = *nodes_[m];
  const uint64_t start = std::max(now_, node.replica_busy_until);
  node.replica_busy_until = start + DiskMs();
  AtNode(m, node.replica_busy_until, [this, m, from, bytes, gen, shard] {
    Node& nd = *nodes_[m];
    ReplFrame f;
    ReplAck ack{ReplCode::kRefused, shard, 0, 0, false, ""};
    if (!protocol::DecodeReplFrame(bytes.data(), bytes.size(), &f).ok()) {
      ack.message = "invalid";
    } else {
      CopyState& c = nd.copies[f.shard];
      const protocol::CopyDecision d = protocol::DecideCopy(
          protocol::CopyState{c.pos, c.staging_epoch, nd.taken.count(f.shard) > 0}, f);
      std::vector<Op> ops;
      if (d.step != protocol::CopyStep::kAnswer && !DecodeOps(f.data, &ops))
        return Fail("a frame's data does not decode");
      switch (d.step) {
        case protocol::CopyStep::kAnswer:
          if (d.code == ReplCode::kStaleEpoch) report_.refused_stale++;
          ack = ReplAck{d.code, f.shard, c.pos.epoch, c.pos.seq, c.pos.complete, d.message};
          break;
        case protocol::CopyStep::kApplyBatch:
          ApplyOps(ops, &c.journal);
          c.pos = protocol::ReplicaPosition{f.epoch, f.seq, true, f.history};
          break;
        case protocol::CopyStep::kBeginSnapshot:
          c.staging = SimJournal{};
          c.staging_epoch = f.epoch;
          ApplyOps(ops, &*c.staging);
          break;
        case protocol::CopyStep::kApplyChunk:
          ApplyOps(ops, &*c.staging);
          break;
        case protocol::CopyStep::kFinishSnapshot:
          ApplyOps(ops, &*c.staging);
          c.journal = std::move(*c.staging);
          c.staging.reset();
          c.staging_epoch = 0;
          c.pos = protocol::ReplicaPosition{f.epoch, f.seq, true, f.history};
          report_.snapshots++;
          break;
        case protocol::CopyStep::kApplyBlob:  // blobs and secrets are not modelled
        case protocol::CopyStep::kForgetBlobs:
        case protocol::CopyStep::kKeepSecret:
          return Fail("a frame kind the simulated primaries never send");
      }
      if (d.step != protocol::CopyStep::kAnswer)
        ack = ReplAck{ReplCode::kApplied, f.shard, c.pos.epoch, c.pos.seq, c.pos.complete, ""};
    }
    const std::string out = protocol::EncodeReplAck(ack);
    Send(m, from, [this, from, shard, m, gen, out] { OnAnswer(from, shard, m, gen, out); });
  });
}

}  // namespace jobnet::sim
