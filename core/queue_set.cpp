// Per-queue ready sets and weighted dispatch; see queue_set.hpp.
#include "core/queue_set.hpp"

#include <algorithm>
#include <limits>

#include "base/check.hpp"

namespace jobnet::sched {

bool QueueSet::Order::operator()(const Entry& a, const Entry& b) const {
  if (lifo) {
    // Higher priority first, then the newest.
    if (a.priority != b.priority) return a.priority > b.priority;
    if (a.order != b.order) return a.order > b.order;
    return a.seq < b.seq;
  }
  // Aging: a job's effective priority grows by one level per aging_ms of waiting, so job a goes
  // before job b when a.priority + (now - a.ready_at) / aging > b.priority + (now - b.ready_at) /
  // aging. `now` cancels out: the order is by ready_at - priority * aging, fixed at insertion.
  auto key = [this](const Entry& e) {
    return static_cast<int64_t>(e.ready_at_ms) - static_cast<int64_t>(e.priority * aging_ms);
  };
  int64_t ka = key(a), kb = key(b);
  if (ka != kb) return ka < kb;
  if (a.order != b.order) return a.order < b.order;
  return a.seq < b.seq;
}

QueueSet::QueueSet(uint64_t aging_ms_per_level) : aging_ms_(aging_ms_per_level) {}

QueueSet::Queue& QueueSet::Get(const std::string& name, uint64_t now_ms) {
  now_ms_ = std::max(now_ms_, now_ms);
  auto it = queues_.find(name);
  if (it != queues_.end()) return it->second;
  Queue& q = queues_.emplace(name, Queue{}).first->second;
  q.id = next_id_++;
  q.settings.name = name;
  q.pass = vtime_;
  q.tokens_milli = BucketMilli(q.settings);
  q.tokens_at_ms = now_ms_;
  return q;
}

QueueSet::Queue* QueueSet::Find(const std::string& name) {
  auto it = queues_.find(name);
  return it == queues_.end() ? nullptr : &it->second;
}

const QueueSet::Queue* QueueSet::Find(const std::string& name) const {
  auto it = queues_.find(name);
  return it == queues_.end() ? nullptr : &it->second;
}

void QueueSet::Configure(const QueueSettings& s, uint64_t now_ms) {
  JOBNET_CHECK(!s.name.empty() && s.weight >= 1);
  Queue& q = Get(s.name, now_ms);
  Unplace(q);
  bool reorder = q.settings.order != s.order;
  bool refill = q.settings.rate != s.rate;
  if (!q.configured) configured_++;
  q.configured = true;
  q.settings = s;
  if (reorder) {
    for (auto& [type, ready] : q.ready) {
      Ready sorted(Order{s.order == QueueOrder::kLifo, aging_ms_});
      sorted.merge(ready);  // moves the nodes: no allocation
      JOBNET_CHECK(ready.empty());
      ready.swap(sorted);
    }
  }
  if (refill) {
    q.tokens_milli = BucketMilli(s);
    q.tokens_at_ms = now_ms_;
  }
  Place(q);
}

QueueSettings QueueSet::SettingsOf(const std::string& name) const {
  const Queue* q = Find(name);
  if (q != nullptr) return q->settings;
  QueueSettings s;
  s.name = name;
  return s;
}

bool QueueSet::IsConfigured(const std::string& name) const {
  const Queue* q = Find(name);
  return q != nullptr && q->configured;
}

std::vector<QueueSettings> QueueSet::AllConfigured() const {
  std::vector<QueueSettings> out;
  out.reserve(configured_);
  for (const auto& [name, q] : queues_)
    if (q.configured) out.push_back(q.settings);
  return out;
}

void QueueSet::Add(const std::string& queue, const Entry& e, uint64_t now_ms,
                   const std::string& type) {
  Queue& q = Get(queue, now_ms);
  auto it = q.ready.find(type);
  if (it == q.ready.end())
    it = q.ready.emplace(type, Ready(Order{q.settings.order == QueueOrder::kLifo, aging_ms_})).first;
  bool inserted = it->second.insert(e).second;
  JOBNET_CHECK_MSG(inserted, "a job is ready in its queue once");
  ready_++;
  // Only the first job changes where the queue belongs: one more job changes no limit.
  if (++q.ready_count == 1) Place(q);
}

void QueueSet::Remove(const std::string& queue, const Entry& e, const std::string& type) {
  Queue* q = Find(queue);
  JOBNET_CHECK(q != nullptr);
  auto it = q->ready.find(type);
  JOBNET_CHECK_MSG(it != q->ready.end() && it->second.erase(e) == 1,
                   "a removed job was ready in its queue");
  if (it->second.empty()) q->ready.erase(it);
  ready_--;
  if (--q->ready_count == 0) Place(*q);
}

void QueueSet::RunEnded(const std::string& queue) {
  Queue* q = Find(queue);
  JOBNET_CHECK(q != nullptr && q->running > 0);
  q->running--;
  Place(*q);
}

void QueueSet::Unplace(Queue& q) {
  if (q.where == Where::kActive) {
    size_t n = active_.erase(Slot{q.pass, q.id, &q});
    JOBNET_CHECK(n == 1);
  } else if (q.where == Where::kThrottled) {
    size_t n = throttled_.erase(Slot{q.wake_ms, q.id, &q});
    JOBNET_CHECK(n == 1);
  }
  q.where = Where::kIdle;
}

void QueueSet::Refill(Queue& q) {
  uint64_t cap = BucketMilli(q.settings);
  if (now_ms_ > q.tokens_at_ms) {
    uint64_t elapsed = now_ms_ - q.tokens_at_ms;
    // A second refills any bucket; beyond that the product could only overflow.
    q.tokens_milli = elapsed >= 1000 ? cap : std::min(cap, q.tokens_milli + elapsed * q.settings.rate);
    q.tokens_at_ms = now_ms_;
  }
}

void QueueSet::Place(Queue& q) {
  Unplace(q);
  const QueueSettings& s = q.settings;
  if (q.ready_count == 0 || s.paused || (s.concurrency != 0 && q.running >= s.concurrency)) {
    if (q.ready_count == 0 && q.running == 0 && !q.configured)
      queues_.erase(queues_.find(s.name));  // nothing to remember: q is gone
    return;
  }
  if (s.rate != 0) {
    Refill(q);
    if (q.tokens_milli < 1000) {
      q.wake_ms = now_ms_ + (1000 - q.tokens_milli + s.rate - 1) / s.rate;
      q.where = Where::kThrottled;
      throttled_.emplace(q.wake_ms, q.id, &q);
      return;
    }
  }
  // A queue that was away (idle, limited) does not catch up on the turns it missed.
  q.pass = std::max(q.pass, vtime_);
  q.where = Where::kActive;
  active_.emplace(q.pass, q.id, &q);
}

void QueueSet::Release(uint64_t now_ms) {
  now_ms_ = std::max(now_ms_, now_ms);
  while (!throttled_.empty() && std::get<0>(*throttled_.begin()) <= now_ms_)
    Place(*std::get<2>(*throttled_.begin()));
}

bool QueueSet::HasEligible(uint64_t now_ms) {
  Release(now_ms);
  return !active_.empty();
}

QueueSet::ReadyByType::iterator QueueSet::BestReady(Queue& q, const TypeSet* types) const {
  auto best = q.ready.end();
  for (auto it = q.ready.begin(); it != q.ready.end(); ++it) {
    if (types != nullptr && types->count(it->first) == 0) continue;
    const Ready& r = it->second;
    if (best == q.ready.end() || r.key_comp()(*r.begin(), *best->second.begin())) best = it;
  }
  return best;
}

bool QueueSet::AnyEligibleFor(const TypeSet* types) const {
  if (types == nullptr) return !active_.empty();
  for (const auto& slot : active_)
    for (const auto& [type, ready] : std::get<2>(slot)->ready)
      if (types->count(type) != 0) return true;
  return false;
}

bool QueueSet::Next(uint64_t now_ms, const TypeSet* types, Entry* out) {
  Release(now_ms);
  auto it = active_.begin();
  ReadyByType::iterator ready;
  for (; it != active_.end(); ++it) {
    Queue& candidate = *std::get<2>(*it);
    if ((ready = BestReady(candidate, types)) != candidate.ready.end()) break;
  }
  if (it == active_.end()) return false;
  auto [pass, id, qp] = *it;
  Queue& q = *qp;
  *out = *ready->second.begin();
  ready->second.erase(ready->second.begin());
  if (ready->second.empty()) q.ready.erase(ready);
  ready_--;
  q.ready_count--;
  q.running++;
  if (q.settings.rate != 0) {
    Refill(q);
    JOBNET_CHECK(q.tokens_milli >= 1000);
    q.tokens_milli -= 1000;
  }
  Unplace(q);
  vtime_ = pass;
  q.pass = pass + limits::kQueueStrideOne / q.settings.weight;
  Place(q);
  return true;
}

bool QueueSet::Peek(uint64_t now_ms, const TypeSet* types, Entry* out) {
  Release(now_ms);
  for (const auto& slot : active_) {
    Queue& candidate = *std::get<2>(slot);
    auto ready = BestReady(candidate, types);
    if (ready == candidate.ready.end()) continue;
    *out = *ready->second.begin();
    return true;
  }
  return false;
}

uint64_t QueueSet::NextWakeMs() const {
  return throttled_.empty() ? std::numeric_limits<uint64_t>::max()
                            : std::get<0>(*throttled_.begin());
}

uint32_t QueueSet::running(const std::string& queue) const {
  const Queue* q = Find(queue);
  return q == nullptr ? 0 : q->running;
}

uint64_t QueueSet::OldestWaitMs(const std::string& queue, uint64_t now_ms) const {
  const Queue* q = Find(queue);
  if (q == nullptr || q->ready_count == 0) return 0;
  uint64_t oldest = std::numeric_limits<uint64_t>::max();
  for (const auto& [type, ready] : q->ready)
    for (const Entry& e : ready) oldest = std::min(oldest, e.ready_at_ms);
  return now_ms > oldest ? now_ms - oldest : 0;
}

}  // namespace jobnet::sched
