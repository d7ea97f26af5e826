// The simulated cluster's time, network, etcd, disks, faults, clients and checks; see world.hpp.
#include "tests/sim/world.hpp"

#include <algorithm>
#include <cstdio>

#include "protocol/job_record.hpp"

namespace jobnet::sim {

// ---- journal changes as shipped bytes ----

namespace {

void PutU64(std::string* out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out->push_back(static_cast<char>(v >> (8 * i)));
}
void PutBytes(std::string* out, const std::string& s) {
  PutU64(out, s.size());
  out->append(s);
}
bool GetU64(const std::string& in, size_t* at, uint64_t* v) {
  if (in.size() - *at < 8) return false;
  *v = 0;
  for (int i = 0; i < 8; ++i) *v |= static_cast<uint64_t>(static_cast<uint8_t>(in[*at + i])) << (8 * i);
  *at += 8;
  return true;
}
bool GetBytes(const std::string& in, size_t* at, std::string* s) {
  uint64_t n = 0;
  if (!GetU64(in, at, &n) || in.size() - *at < n) return false;
  s->assign(in, *at, n);
  *at += n;
  return true;
}

}  // namespace

std::string EncodeOps(const std::vector<Op>& ops) {
  std::string out;
  for (const Op& op : ops) {
    out.push_back(static_cast<char>(op.kind));
    PutU64(&out, op.seq);
    PutBytes(&out, op.record);
    PutBytes(&out, op.payload);
  }
  return out;
}

bool DecodeOps(const std::string& data, std::vector<Op>* ops) {
  size_t at = 0;
  while (at < data.size()) {
    Op op;
    op.kind = static_cast<uint8_t>(data[at++]);
    if (op.kind < Op::kPut || op.kind > Op::kHistory) return false;
    if (!GetU64(data, &at, &op.seq) || !GetBytes(data, &at, &op.record) ||
        !GetBytes(data, &at, &op.payload))
      return false;
    ops->push_back(std::move(op));
  }
  return true;
}

void ApplyOps(const std::vector<Op>& ops, SimJournal* j) {
  for (const Op& op : ops) {
    switch (op.kind) {
      case Op::kPut:
        j->records[op.seq] = op.record;
        if (!op.payload.empty()) j->payloads[op.seq] = op.payload;
        break;
      case Op::kDelete:
        j->records.erase(op.seq);
        j->payloads.erase(op.seq);
        break;
      case Op::kNextSeq:
        j->next_seq = std::max(j->next_seq, op.seq);
        break;
      case Op::kIncarnation:
        j->incarnation = op.seq;
        break;
      case Op::kHistory:
        j->history = op.record;
        break;
    }
  }
}

std::vector<std::string> SnapshotOf(const SimJournal& j) {
  std::vector<std::string> chunks;
  std::vector<Op> ops;
  ops.push_back(Op{Op::kHistory, 0, j.history, {}});
  ops.push_back(Op{Op::kIncarnation, j.incarnation, {}, {}});
  ops.push_back(Op{Op::kNextSeq, j.next_seq, {}, {}});
  size_t in_chunk = 0;
  for (const auto& [seq, rec] : j.records) {
    auto p = j.payloads.find(seq);
    ops.push_back(Op{Op::kPut, seq, rec, p == j.payloads.end() ? std::string() : p->second});
    if (++in_chunk == kChunkJobs) {
      chunks.push_back(EncodeOps(ops));
      ops.clear();
      in_chunk = 0;
    }
  }
  chunks.push_back(EncodeOps(ops));
  return chunks;
}

// ---- the fake etcd ----

uint64_t FakeEtcd::Grant(uint64_t now) {
  const uint64_t id = next_lease_++;
  leases_[id] = now + kTtlMs;
  return id;
}

bool FakeEtcd::KeepAlive(uint64_t lease, uint64_t now) {
  auto it = leases_.find(lease);
  if (it == leases_.end()) return false;
  it->second = now + kTtlMs;
  return true;
}

void FakeEtcd::Revoke(uint64_t lease) {
  leases_.erase(lease);
  for (auto it = shards.begin(); it != shards.end();)
    if (it->second.lease == lease) {
      ++rev;
      it = shards.erase(it);
    } else {
      ++it;
    }
}

std::vector<std::string> FakeEtcd::Expire(uint64_t now) {
  std::vector<std::string> gone;
  for (auto it = leases_.begin(); it != leases_.end();) {
    if (it->second > now) {
      ++it;
      continue;
    }
    const uint64_t lease = it->first;
    it = leases_.erase(it);
    for (auto s = shards.begin(); s != shards.end();)
      if (s->second.lease == lease) {
        ++rev;
        gone.push_back(s->first);
        s = shards.erase(s);
      } else {
        ++s;
      }
  }
  return gone;
}

void FakeEtcd::Restarted(uint64_t now) {
  // etcd gives every lease a full TTL again when it comes back (a new leader does the same).
  for (auto& [id, expiry] : leases_) expiry = std::max(expiry, now + kTtlMs);
}

int64_t FakeEtcd::Campaign(const std::string& shard, int node, uint64_t lease, int64_t after,
                           const std::string& history, Holder* holder) {
  if (!LeaseAlive(lease)) return -1;
  auto it = shards.find(shard);
  if (it != shards.end()) {
    // An earlier attempt of this node's won, and its answer was lost: the key is its own.
    if (it->second.node == node && it->second.lease == lease) return it->second.epoch;
    *holder = it->second;
    return 0;
  }
  if (LastWin(shard).epoch != after) return -2;
  ++rev;
  shards[shard] = Holder{node, rev, lease, {}};
  last[shard] = Holder{node, rev, 0, history};
  wins[shard].push_back(Holder{node, rev, lease, history});
  return rev;
}

FakeEtcd::Holder FakeEtcd::LastWin(const std::string& shard) const {
  auto it = last.find(shard);
  return it == last.end() ? Holder{} : it->second;
}

bool FakeEtcd::SetInSync(const std::string& shard, int64_t epoch, int node, const InSync& set) {
  auto it = shards.find(shard);
  if (it == shards.end() || it->second.node != node || it->second.epoch != epoch) return false;
  ++rev;
  insync[shard] = set;
  return true;
}

bool FakeEtcd::Resign(const std::string& shard, int node, int64_t epoch) {
  auto it = shards.find(shard);
  if (it == shards.end() || it->second.node != node || it->second.epoch != epoch) return false;
  ++rev;
  shards.erase(it);
  return true;
}

const FakeEtcd::Holder* FakeEtcd::Find(const std::string& shard) const {
  auto it = shards.find(shard);
  return it == shards.end() ? nullptr : &it->second;
}

// ---- time, events, network ----

World::World(const SimOptions& o) : o_(o), rng_(o.seed) {
  const int k = o.nodes > 0 ? o.nodes : static_cast<int>(3 + rng_() % 3);
  for (int i = 0; i < k; ++i) {
    auto n = std::make_unique<Node>();
    n->index = i;
    n->id = "n" + std::to_string(i + 1);
    n->up = false;
    n->drift_ppm = static_cast<int64_t>(rng_() % 40001) - 20000;  // +-2%
    n->wall_offset_ms = static_cast<int64_t>(rng_() % 2000);
    nodes_.push_back(std::move(n));
  }
  report_.nodes = k;
}

void World::At(uint64_t t, std::function<void()> fn) {
  events_.emplace(std::make_pair(std::max(t, now_), next_event_++), std::move(fn));
}

void World::AtNode(int n, uint64_t t, std::function<void()> fn) {
  const uint64_t inc = nodes_[n]->inc;
  At(t, [this, n, inc, fn = std::move(fn)]() mutable {
    Node& node = *nodes_[n];
    if (!node.up || node.inc != inc) return;
    if (node.paused) {
      node.deferred.push_back(std::move(fn));
      return;
    }
    fn();
  });
}

uint64_t World::Mono(int n) const {
  const Node& node = *nodes_[n];
  return 1'000'000 + now_ + static_cast<uint64_t>(static_cast<int64_t>(now_) * node.drift_ppm / 1'000'000);
}

sched::Now World::NowOf(int n) const {
  const int64_t wall = 1'700'000'000'000 + static_cast<int64_t>(now_) + nodes_[n]->wall_offset_ms;
  return sched::Now(static_cast<uint64_t>(wall), Mono(n));
}

uint64_t World::Between(uint64_t lo, uint64_t hi) { return lo + rng_() % (hi - lo + 1); }
bool World::Chance(double p) { return static_cast<double>(rng_() % 1'000'000) < p * 1e6; }

uint64_t World::DiskMs() { return Chance(0.02) ? Between(20, 60) : Between(1, 3); }

void World::Trace(const std::string& line) {
  char head[32];
  std::snprintf(head, sizeof head, "%8.3f ", static_cast<double>(now_) / 1000.0);
  trace_.push_back(head + line);
  if (!o_.trace && trace_.size() > 400) trace_.pop_front();
}

void World::Fail(const std::string& what) {
  if (!report_.ok) return;
  report_.ok = false;
  char head[48];
  std::snprintf(head, sizeof head, "at %.3f s: ", static_cast<double>(now_) / 1000.0);
  report_.failure = head + what;
  Trace("FAILED: " + what);
}

void World::Send(int a, int b, std::function<void()> fn) {
  if (cut_.count({std::min(a, b), std::max(a, b)}) || Chance(0.01)) return;
  const uint64_t delay = Chance(0.03) ? Between(50, 400) : Between(1, 3);
  uint64_t& last = link_last_[{a, b}];
  last = std::max(last, now_ + delay);
  AtNode(b, last, std::move(fn));
}

void World::CallEtcd(int n, std::function<void()> op, std::function<void(bool)> done) {
  auto settled = std::make_shared<bool>(false);
  auto cb = std::make_shared<std::function<void(bool)>>(std::move(done));
  AtNode(n, now_ + kEtcdTimeoutMs, [settled, cb] {
    if (*settled) return;
    *settled = true;
    (*cb)(false);
  });
  if (Chance(0.005)) return;  // lost on the way
  After(Between(1, 3), [this, n, settled, cb, op = std::move(op)] {
    if (!etcd_.up || etcd_cut_.count(n)) return;
    op();
    if (Chance(0.005) || etcd_cut_.count(n)) return;  // the answer is lost
    AtNode(n, now_ + Between(1, 3), [settled, cb] {
      if (*settled) return;
      *settled = true;
      (*cb)(true);
    });
  });
}

// ---- clients and the ledger ----

void World::StartClients() {
  for (int j = 0; j < o_.jobs; ++j) {
    const std::string key = "k" + std::to_string(j + 1);
    Ledger& l = ledger_[key];
    l.shard = nodes_[rng_() % nodes_.size()]->id;
    l.client = static_cast<int>(rng_() % 4);
    At(Between(100, o_.fault_ms), [this, key] { ClientSend(ledger_[key].client, key, ledger_[key].shard, 1); });
  }
}

void World::ClientSend(int client, const std::string& key, const std::string& shard,
                       uint64_t req) {
  Ledger& l = ledger_[key];
  if (!l.id.empty() || now_ > o_.fault_ms + o_.settle_ms) return;
  l.req = req;
  // A client reaches the shard's holder (any node forwards there; the forwarding is not
  // modelled), or, with none, some node that will answer `unavailable`.
  const FakeEtcd::Holder* h = etcd_.Find(shard);
  const int n = h != nullptr ? h->node : static_cast<int>(rng_() % nodes_.size());
  ClientReq r{client, req, key};
  // Lost, delayed, duplicated, reordered: a client's request is its own connection.
  const int copies = Chance(0.01) ? 0 : Chance(0.02) ? 2 : 1;
  for (int i = 0; i < copies; ++i)
    AtNode(n, now_ + (Chance(0.03) ? Between(50, 400) : Between(1, 3)),
           [this, n, shard, r] { OnClientSubmit(n, shard, r); });
  // No answer within 1.5 s: try again.
  At(now_ + 1500, [this, client, key, shard, req] {
    if (ledger_[key].id.empty() && ledger_[key].req == req) ClientSend(client, key, shard, req + 1);
  });
}

void World::ClientAnswer(const ClientReq& r, bool accepted, const std::string& id) {
  if (Chance(0.01)) return;  // the answer is lost
  At(now_ + Between(1, 3), [this, r, accepted, id] {
    Ledger& l = ledger_[r.key];
    if (!accepted) {
      if (l.id.empty() && l.req == r.req)
        At(now_ + 200, [this, r] { ClientSend(r.client, r.key, ledger_[r.key].shard, r.req + 1); });
      return;
    }
    if (l.id.empty()) {
      l.id = id;
      report_.acked++;
      dirty_.insert(l.shard);
      Trace("client: " + r.key + " acknowledged as " + id);
    } else if (l.id != id) {
      // Keys are per shard, and every try of this key went to its one shard: a second id means
      // the shard's holder had lost the first job's key.
      report_.duplicates++;
      Fail("key " + r.key + " acknowledged as " + id + " after " + l.id);
    }
  });
}

// ---- checks ----

void World::CheckActs(int n, const std::string& shard, int64_t epoch, const char* what) {
  const FakeEtcd::Holder* h = etcd_.Find(shard);
  if (h == nullptr || h->node != n || h->epoch < epoch) {
    Fail(nodes_[n]->id + " acknowledged " + what + " of shard " + shard + " at epoch " +
         std::to_string(epoch) + " while etcd's holder is " +
         (h ? nodes_[h->node]->id + " at epoch " + std::to_string(h->epoch) : "nobody"));
    return;
  }
  // Every epoch won since `epoch` must be this node's too: nobody else acted in between.
  for (const auto& w : etcd_.wins[shard])
    if (w.epoch > epoch && w.node != n)
      return Fail(nodes_[n]->id + " acknowledged " + what + " of shard " + shard + " at epoch " +
                  std::to_string(epoch) + " after " + nodes_[w.node]->id + " won epoch " +
                  std::to_string(w.epoch));
}

void World::CheckShard(const std::string& shard) {
  const FakeEtcd::Holder* h = etcd_.Find(shard);
  if (h == nullptr) return;
  const Node& node = *nodes_[h->node];
  auto p = node.primaries.find(shard);
  if (!node.up || p == node.primaries.end() || !p->second->serving ||
      FenceEpoch(h->node, shard) != h->epoch)
    return;
  auto j = node.journals.find(shard);
  for (const auto& [key, l] : ledger_) {
    if (l.shard != shard || l.id.empty()) continue;
    const uint64_t seq = std::stoull(l.id.substr(l.id.rfind('-') + 1));
    if (j == node.journals.end() || j->second.records.count(seq) == 0)
      return Fail("acknowledged job " + l.id + " (" + key + ") is missing from shard " + shard +
                  "'s primary " + node.id + " at epoch " + std::to_string(h->epoch));
  }
}

bool World::AllEnded(std::string* why) {
  for (const auto& [key, l] : ledger_) {
    if (l.id.empty()) {
      if (why) *why = "the submit of " + key + " (shard " + l.shard + ") was never acknowledged";
      return false;
    }
    const FakeEtcd::Holder* h = etcd_.Find(l.shard);
    const Node* node = h ? nodes_[h->node].get() : nullptr;
    auto p = node ? node->primaries.find(l.shard) : decltype(node->primaries.end()){};
    const uint64_t seq = std::stoull(l.id.substr(l.id.rfind('-') + 1));
    if (node == nullptr || !node->up || p == node->primaries.end() || !p->second->serving) {
      if (why) *why = "shard " + l.shard + " has no serving primary (job " + l.id + ")";
      return false;
    }
    const protocol::Job* job = p->second->core->Find(seq);
    if (job == nullptr || (job->state != protocol::JobState::kSucceeded &&
                           job->state != protocol::JobState::kDead)) {
      if (why)
        *why = "job " + l.id + " is " +
               (job ? protocol::JobStateName(job->state) : std::string("missing")) + " on " +
               node->id;
      return false;
    }
  }
  return true;
}

// ---- faults ----

void World::ScheduleFaults() {
  uint64_t t = Between(300, 1500);
  while (t < o_.fault_ms) {
    At(t, [this] { Fault(); });
    t += Between(300, 2000);
  }
  At(o_.fault_ms, [this] { Heal(); });
}

void World::Fault() {
  const int k = nodes();
  const int n = static_cast<int>(rng_() % k);
  Node& node = *nodes_[n];
  const uint64_t kind = rng_() % 100;
  if (kind < 30) {
    if (!node.up) return;
    // A disk is lost only where a live backup holds every acknowledged batch (R=2 survives
    // one lost disk).
    const FakeEtcd::Holder* h = etcd_.Find(node.id);
    auto set = etcd_.insync.find(node.id);
    bool covered = h != nullptr && h->node == n && set != etcd_.insync.end() &&
                   set->second.epoch == h->epoch && !set->second.backups.empty();
    if (covered)
      for (int b : set->second.backups) {
        const FakeEtcd::Holder* own = etcd_.Find(nodes_[b]->id);
        covered = covered && nodes_[b]->up && !nodes_[b]->paused && own != nullptr &&
                  own->node == b;
      }
    // Nor a disk that holds a shard this node won from another (its copy became the shard).
    for (const auto& [shard, last] : etcd_.last) covered = covered && (last.node != n || shard == node.id);
    const bool wipe = wipes_left_ > 0 && covered && node.adopted.empty() && node.taken.empty() &&
                      Chance(0.25);
    if (wipe) --wipes_left_;
    Trace("fault: SIGKILL " + node.id + (wipe ? " and its disk lost" : ""));
    report_.crashes++;
    CrashNode(n, wipe);
    At(now_ + Between(300, 5000), [this, n] {
      if (!nodes_[n]->up && !healed_) StartNode(n);
    });
  } else if (kind < 50) {
    if (!node.up || node.paused) return;
    Trace("fault: SIGSTOP " + node.id);
    report_.pauses++;
    node.paused = true;
    const uint64_t inc = node.inc;
    At(now_ + Between(300, 5000), [this, n, inc] { Resume(n, inc); });
  } else if (kind < 70) {
    const int m = static_cast<int>((n + 1 + rng_() % (k - 1)) % k);
    const auto pair = std::make_pair(std::min(n, m), std::max(n, m));
    Trace("fault: partition " + nodes_[pair.first]->id + " | " + nodes_[pair.second]->id);
    report_.partitions++;
    cut_.insert(pair);
    At(now_ + Between(500, 6000), [this, pair] { cut_.erase(pair); });
  } else if (kind < 80) {
    Trace("fault: " + node.id + " cut off from etcd");
    report_.partitions++;
    etcd_cut_.insert(n);
    At(now_ + Between(500, 5000), [this, n] { EtcdReachable(n); });
  } else if (kind < 90) {
    if (!etcd_.up) return;
    Trace("fault: etcd stopped");
    report_.etcd_outages++;
    etcd_.up = false;
    At(now_ + Between(300, 4000), [this] {
      if (etcd_.up) return;
      etcd_.up = true;
      etcd_.Restarted(now_);
      Trace("etcd back");
    });
  } else {
    const int64_t step = static_cast<int64_t>(Between(60'000, 3'600'000)) * (Chance(0.5) ? 1 : -1);
    node.wall_offset_ms += step;
    report_.clock_steps++;
    Trace("fault: " + node.id + "'s wall clock stepped by " + std::to_string(step) + " ms");
  }
}

void World::Resume(int n, uint64_t inc) {
  Node& node = *nodes_[n];
  if (node.inc != inc || !node.paused) return;
  Trace("SIGCONT " + node.id);
  node.paused = false;
  auto work = std::move(node.deferred);
  node.deferred.clear();
  for (auto& fn : work) {
    if (!node.up || node.inc != inc) break;
    fn();
  }
}

void World::Heal() {
  Trace("every fault heals");
  healed_ = true;
  cut_.clear();
  for (int n = 0; n < nodes(); ++n) EtcdReachable(n);
  if (!etcd_.up) {
    etcd_.up = true;
    etcd_.Restarted(now_);
  }
  for (int n = 0; n < nodes(); ++n) {
    Node& node = *nodes_[n];
    if (node.up && node.paused) Resume(n, node.inc);
    if (!node.up) StartNode(n);
  }
}

// ---- the run ----

SimReport World::Run() {
  for (int n = 0; n < nodes(); ++n) At(Between(0, 50), [this, n] { StartNode(n); });
  StartClients();
  ScheduleFaults();
  const uint64_t end = o_.fault_ms + o_.settle_ms;
  while (!events_.empty() && report_.ok) {
    auto it = events_.begin();
    if (it->first.first > end) break;
    now_ = it->first.first;
    if (etcd_.up)
      for (const std::string& shard : etcd_.Expire(now_)) ShardDeleted(shard);
    auto fn = std::move(it->second);
    events_.erase(it);
    fn();
    report_.events++;
    for (const std::string& shard : dirty_) CheckShard(shard);
    dirty_.clear();
    if (healed_ && report_.events % 512 == 0 && AllEnded(nullptr)) break;
  }
  report_.sim_ms = now_;
  if (report_.ok) {
    for (const auto& n : nodes_) CheckShard(n->id);
    std::string why;
    if (report_.ok && !AllEnded(&why)) {
      Fail("not every acknowledged job ended " + std::to_string(o_.settle_ms) +
           " ms after the faults healed: " + why);
      TraceState();
    }
  }
  for (const auto& [key, l] : ledger_) {
    if (l.id.empty()) continue;
    const FakeEtcd::Holder* h = etcd_.Find(l.shard);
    if (h == nullptr) continue;
    auto p = nodes_[h->node]->primaries.find(l.shard);
    if (p == nodes_[h->node]->primaries.end()) continue;
    const protocol::Job* job =
        p->second->core->Find(std::stoull(l.id.substr(l.id.rfind('-') + 1)));
    if (job && job->state == protocol::JobState::kSucceeded) report_.ended++;
  }
  report_.trace.assign(trace_.begin(), trace_.end());
  return report_;
}

void World::TraceState() {
  for (int n = 0; n < nodes(); ++n) {
    const Node& node = *nodes_[n];
    std::string line = "state " + node.id + (node.up ? " up" : " down") +
                       (node.lease_lost ? " no-lease" : "") +
                       (node.own_lost ? " own-lost" : "") + (node.coord_busy ? " coord-busy" : "");
    for (const auto& [shard, p] : node.primaries) {
      line += "; " + shard + (p->serving ? " serving" : "") + (p->writing ? " writing" : "") +
              (Holds(n, shard) ? " holds" : " fenced") + " epoch " + std::to_string(p->epoch) +
              " seq " + std::to_string(p->seq) + " pending " +
              std::to_string(p->pending.fx.replies.size() + p->pending.fx.writes.size());
      for (const auto& b : p->backups)
        line += " [" + nodes_[b.node]->id + (b.in ? " in" : " out") +
                (b.synced ? " synced" : "") + (b.on_answer ? " waited" : "") + "]";
    }
    Trace(line);
  }
}

void World::ShardDeleted(const std::string& shard) {
  Trace("etcd: shard " + shard + "'s key is gone");
  for (int m = 0; m < nodes(); ++m) Watch(m, [this, m, shard] { OnShardDeleted(m, shard); });
}

void World::ShardWon(const std::string& shard, int node, int64_t epoch) {
  Trace("etcd: " + nodes_[node]->id + " holds shard " + shard + " at epoch " +
        std::to_string(epoch));
  const auto& wins = etcd_.wins[shard];
  if (wins.size() >= 2 && wins[wins.size() - 2].node != node) report_.takeovers++;
  dirty_.insert(shard);
  for (int m = 0; m < nodes(); ++m) Watch(m, [this, m, shard] { nodes_[m]->due.erase(shard); });
}

void World::Watch(int m, std::function<void()> event) {
  Node& node = *nodes_[m];
  if (!node.up || !node.follows) return;
  if (etcd_cut_.count(m)) {
    node.watch_backlog.push_back(std::move(event));
    return;
  }
  AtNode(m, now_ + Between(1, 3), std::move(event));
}

void World::EtcdReachable(int m) {
  etcd_cut_.erase(m);
  Node& node = *nodes_[m];
  auto backlog = std::move(node.watch_backlog);
  node.watch_backlog.clear();
  uint64_t t = now_ + Between(1, 3);
  for (auto& e : backlog) AtNode(m, t++, std::move(e));
}

World::~World() {
  for (const auto& weak : primaries_made_) {
    if (auto p = weak.lock()) {
      p->after_sync = nullptr;
      for (auto& b : p->backups) b.on_answer = nullptr;
    }
  }
}

SimReport RunSimulation(const SimOptions& options) {
  World w(options);
  return w.Run();
}

}  // namespace jobnet::sim
