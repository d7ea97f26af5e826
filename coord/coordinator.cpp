// Membership, shard campaigns and the lease that ties them to a live node (docs/failover.md).
#include "coord/coordinator.hpp"

#include <algorithm>
#include <nlohmann/json.hpp>

namespace jobnet::coord {

using Clock = std::chrono::steady_clock;

namespace {

// Node ids are at most 32 bytes (limits::kNodeIdBytesMax) and shard ids are node ids; 128
// leaves room for cluster names and later shard schemes while keeping keys small.
constexpr size_t kKeySegmentBytesMax = 128;

// An id becomes one path segment of an etcd key.
bool GoodSegment(const std::string& s) {
  return !s.empty() && s.size() <= kKeySegmentBytesMax && s.find('/') == std::string::npos;
}

// The "primary" of a shard value; "" when the value is not ours.
std::string PrimaryOf(const std::string& value) {
  auto j = nlohmann::json::parse(value, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return "";
  auto p = j.find("primary");
  return p != j.end() && p->is_string() ? p->get<std::string>() : "";
}

LastWin LastWinOfKey(const KeyValue& kv) {
  LastWin w{PrimaryOf(kv.value), kv.mod_revision, {}};
  auto j = nlohmann::json::parse(kv.value, nullptr, /*allow_exceptions=*/false);
  if (j.is_object() && j.contains("history") && j["history"].is_string())
    w.history = j["history"].get<std::string>();
  if (j.is_object() && j.contains("copy") && j["copy"].is_boolean())
    w.from_copy = j["copy"].get<bool>();
  return w;
}

ShardHolder HolderOf(const KeyValue& kv) {
  return ShardHolder{PrimaryOf(kv.value), kv.mod_revision, kv.lease};
}

}  // namespace

Status Coordinator::Start(EtcdClient* client, CoordinatorOptions options,
                          std::unique_ptr<Coordinator>* out) {
  if (!GoodSegment(options.node_id) || !GoodSegment(options.cluster)) {
    return Status::InvalidArgument(
        "coordinator: node id and cluster must be 1-128 bytes without '/'");
  }
  if (options.lease_ttl_s < 1) return Status::InvalidArgument("coordinator: lease TTL below 1 s");
  const auto asked = Clock::now();
  auto lease = client->LeaseGrant(options.lease_ttl_s);
  if (!lease.ok()) return lease.status();
  out->reset(new Coordinator(client, std::move(options), lease.value(),
                             asked + std::chrono::seconds(options.lease_ttl_s)));
  return Status::OK();
}

Coordinator::Coordinator(EtcdClient* client, CoordinatorOptions options, int64_t lease,
                         Clock::time_point valid_until)
    : client_(client), options_(std::move(options)), lease_(lease), valid_until_(valid_until) {
  keepalive_ = std::thread([this] { KeepAliveLoop(); });
}

Coordinator::~Coordinator() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  wake_.notify_all();
  keepalive_.join();
  if (!lost_) client_->LeaseRevoke(lease_);  // best effort: the TTL ends it otherwise
}

Clock::time_point Coordinator::LeaseValidUntil() const {
  std::lock_guard<std::mutex> lock(mu_);
  return valid_until_;
}

void Coordinator::MarkLost() {
  if (lost_.exchange(true)) return;
  if (options_.on_lease_lost) options_.on_lease_lost();
}

void Coordinator::KeepAliveLoop() {
  const auto interval = std::chrono::milliseconds(
      options_.keepalive_interval_ms > 0 ? options_.keepalive_interval_ms
                                         : static_cast<uint32_t>(options_.lease_ttl_s * 1000 / 3));
  std::unique_lock<std::mutex> lock(mu_);
  while (!stop_) {
    wake_.wait_for(lock, interval, [this] { return stop_; });
    if (stop_) return;
    lock.unlock();
    // The send time, not the answer's: etcd starts the new TTL when it receives the request,
    // which is after this, so valid_until never overstates the lease.
    const auto sent = Clock::now();
    auto ttl = client_->LeaseKeepAlive(lease_);
    lock.lock();
    if (ttl.ok()) {
      valid_until_ = std::max(valid_until_, sent + std::chrono::seconds(ttl.value()));
      continue;
    }
    // A failed renewal is retried at the next interval while the lease may still live; the
    // lease is lost once etcd says so or its TTL has passed without a renewal.
    if (ttl.status().IsNotFound() || Clock::now() >= valid_until_) {
      lock.unlock();
      MarkLost();
      return;
    }
  }
}

Status Coordinator::Register(const std::string& endpoint, const std::string& replication) {
  if (lost_) return Status::Conflict("coordinator: lease lost; register with a new one");
  nlohmann::json value{{"endpoint", endpoint}};
  if (!replication.empty()) value["replication"] = replication;
  auto put = client_->Put(MemberKey(options_.node_id), value.dump(), lease_);
  return put.ok() ? Status::OK() : put.status();
}

Result<std::vector<Member>> Coordinator::Members() {
  const std::string prefix = MembersPrefix();
  auto range = client_->Range(prefix, PrefixEnd(prefix));
  if (!range.ok()) return range.status();
  std::vector<Member> members;
  for (const auto& kv : range.value().kvs) {
    Member m;
    m.id = kv.key.substr(prefix.size());
    m.lease = kv.lease;
    auto j = nlohmann::json::parse(kv.value, nullptr, /*allow_exceptions=*/false);
    if (j.is_object() && j.contains("endpoint") && j["endpoint"].is_string())
      m.endpoint = j["endpoint"].get<std::string>();
    if (j.is_object() && j.contains("replication") && j["replication"].is_string())
      m.replication = j["replication"].get<std::string>();
    members.push_back(std::move(m));
  }
  return members;  // etcd returns a range in key order, so by id
}

Result<LastWin> Coordinator::LastWinOf(const std::string& shard) {
  if (!GoodSegment(shard))
    return Status::InvalidArgument("coordinator: bad shard id '" + shard + "'");
  auto range = client_->Range(LastKey(shard));
  if (!range.ok()) return range.status();
  if (range.value().kvs.empty()) return LastWin{};
  return LastWinOfKey(range.value().kvs[0]);
}

Result<int64_t> Coordinator::Campaign(const std::string& shard) {
  auto last = LastWinOf(shard);
  if (!last.ok()) return last.status();
  return Campaign(shard, last.value());
}

Result<int64_t> Coordinator::Campaign(const std::string& shard, const LastWin& after,
                                      const std::string& history, bool from_copy) {
  if (!GoodSegment(shard))
    return Status::InvalidArgument("coordinator: bad shard id '" + shard + "'");
  if (lost_) return Status::Conflict("coordinator: lease lost; campaign with a new one");
  const std::string key = ShardKey(shard);
  const std::string last = LastKey(shard);
  TxnRequest txn;
  // create_revision 0: the key does not exist. A holder's key goes with its lease, so this one
  // compare covers both "never held" and "taken over after the holder's lease ended".
  txn.compare.push_back({key, Compare::Target::kCreate, Compare::Op::kEqual, 0, ""});
  // Nobody has won the shard since `after` was read.
  if (after.revision == 0)
    txn.compare.push_back({last, Compare::Target::kCreate, Compare::Op::kEqual, 0, ""});
  else
    txn.compare.push_back({last, Compare::Target::kMod, Compare::Op::kEqual, after.revision, ""});
  const std::string value = nlohmann::json{{"primary", options_.node_id}}.dump();
  TxnOp put;
  put.kind = TxnOp::Kind::kPut;
  put.key = key;
  put.value = value;
  put.lease = lease_;
  txn.success.push_back(put);
  TxnOp put_last;
  put_last.kind = TxnOp::Kind::kPut;
  put_last.key = last;
  nlohmann::json last_value{{"primary", options_.node_id}, {"history", history}};
  if (from_copy) last_value["copy"] = true;
  put_last.value = last_value.dump();
  txn.success.push_back(put_last);
  TxnOp get;
  get.key = key;
  txn.failure.push_back(get);
  TxnOp get_last;
  get_last.key = last;
  txn.failure.push_back(get_last);
  auto r = client_->Txn(txn);
  if (!r.ok()) return r.status();
  if (r.value().succeeded) return r.value().revision;
  const auto& ranges = r.value().ranges;
  if (ranges.size() != 2)
    return Status::Internal("etcd txn on " + key + " failed its compare and answered " +
                            std::to_string(ranges.size()) + " ranges instead of 2");
  if (!ranges[0].empty()) {
    const ShardHolder holder = HolderOf(ranges[0][0]);
    // An earlier attempt of ours may have won and its answer been lost (a timeout): the key
    // with our id under our lease is ours.
    if (holder.primary == options_.node_id && holder.lease == lease_) return holder.epoch;
    return Status::Conflict("shard " + shard + " is held by '" + holder.primary +
                            "' at epoch " + std::to_string(holder.epoch));
  }
  const LastWin now = ranges[1].empty() ? LastWin{} : LastWinOfKey(ranges[1][0]);
  return Status::Conflict("shard " + shard + " has been won by '" + now.primary +
                          "' at epoch " + std::to_string(now.revision) + " since epoch " +
                          std::to_string(after.revision));
}

Result<ShardHolder> Coordinator::Holder(const std::string& shard) {
  auto range = client_->Range(ShardKey(shard));
  if (!range.ok()) return range.status();
  if (range.value().kvs.empty()) return Status::NotFound("shard " + shard + " has no primary");
  return HolderOf(range.value().kvs[0]);
}

Status PutInSync(EtcdClient* client, const std::string& cluster, const std::string& shard,
                 int64_t epoch, const std::string& primary,
                 const std::vector<std::string>& backups) {
  if (!GoodSegment(shard) || !GoodSegment(cluster))
    return Status::InvalidArgument("in-sync set: bad shard or cluster name");
  const std::string base = "/jobnet/" + cluster;
  TxnRequest txn;
  txn.compare.push_back(
      {base + "/shard/" + shard, Compare::Target::kMod, Compare::Op::kEqual, epoch, ""});
  TxnOp put;
  put.kind = TxnOp::Kind::kPut;
  put.key = base + "/insync/" + shard;
  put.value =
      nlohmann::json{{"epoch", epoch}, {"primary", primary}, {"backups", backups}}.dump();
  txn.success.push_back(put);
  auto r = client->Txn(txn);
  if (!r.ok()) return r.status();
  if (!r.value().succeeded)
    return Status::Conflict("shard " + shard + " is no longer held at epoch " +
                            std::to_string(epoch));
  return Status::OK();
}

Result<InSyncSet> GetInSync(EtcdClient* client, const std::string& cluster,
                            const std::string& shard) {
  auto r = client->Range("/jobnet/" + cluster + "/insync/" + shard);
  if (!r.ok()) return r.status();
  if (r.value().kvs.empty()) return Status::NotFound("no in-sync set for shard " + shard);
  auto j = nlohmann::json::parse(r.value().kvs[0].value, nullptr, /*allow_exceptions=*/false);
  InSyncSet set;
  if (!j.is_object() || !j.contains("epoch") || !j["epoch"].is_number_integer() ||
      !j.contains("backups") || !j["backups"].is_array())
    return Status::Corruption("the in-sync set of shard " + shard + " is not ours");
  set.epoch = j["epoch"].get<int64_t>();
  if (j.contains("primary") && j["primary"].is_string())
    set.primary = j["primary"].get<std::string>();
  for (const auto& b : j["backups"])
    if (b.is_string()) set.backups.push_back(b.get<std::string>());
  return set;
}

Result<Coordinator::ShardTable> Coordinator::Shards() {
  const std::string prefix = ShardsPrefix();
  auto range = client_->Range(prefix, PrefixEnd(prefix));
  if (!range.ok()) return range.status();
  ShardTable t;
  t.revision = range.value().revision;
  for (const auto& kv : range.value().kvs)
    t.shards.emplace_back(kv.key.substr(prefix.size()), HolderOf(kv));
  return t;
}

ShardHolder Coordinator::HolderOfKey(const KeyValue& kv) { return HolderOf(kv); }

Status Coordinator::Resign(const std::string& shard, int64_t epoch) {
  const std::string key = ShardKey(shard);
  TxnRequest txn;
  txn.compare.push_back({key, Compare::Target::kMod, Compare::Op::kEqual, epoch, ""});
  TxnOp del;
  del.kind = TxnOp::Kind::kDelete;
  del.key = key;
  txn.success.push_back(del);
  auto r = client_->Txn(txn);
  if (!r.ok()) return r.status();
  if (!r.value().succeeded) {
    return Status::Conflict("shard " + shard + " is no longer at epoch " + std::to_string(epoch));
  }
  return Status::OK();
}

std::unique_ptr<EtcdWatch> Coordinator::WatchMembers(
    int64_t start_revision, std::function<void(const WatchBatch&)> on_batch) {
  const std::string prefix = MembersPrefix();
  return client_->Watch(prefix, PrefixEnd(prefix), start_revision, std::move(on_batch));
}

std::unique_ptr<EtcdWatch> Coordinator::WatchShards(
    int64_t start_revision, std::function<void(const WatchBatch&)> on_batch) {
  const std::string prefix = ShardsPrefix();
  return client_->Watch(prefix, PrefixEnd(prefix), start_revision, std::move(on_batch));
}

}  // namespace jobnet::coord
