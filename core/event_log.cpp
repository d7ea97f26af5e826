// The event stream in memory; see event_log.hpp.
#include "core/event_log.hpp"

#include <algorithm>

#include "base/check.hpp"

namespace jobnet {

EventLog::EventLog(uint64_t next_seq, Reader reader, OldestFn oldest, Options options)
    : reader_(std::move(reader)), oldest_(std::move(oldest)), options_(options) {
  JOBNET_CHECK(next_seq >= 1 && options_.scan_max >= 1);
  last_seq_ = next_seq - 1;
}

uint64_t EventLog::OldestKept() const {
  // The journal may trim past what it has told us about; it never holds less than that.
  return std::clamp<uint64_t>(oldest_ ? oldest_() : 1, 1, last_seq_ + 1);
}

Status EventLog::Query(uint64_t token, const protocol::EventQuery& q, uint64_t now_ms,
                       protocol::EventPage* page, bool* held) {
  *held = false;
  *page = protocol::EventPage{};
  const uint64_t oldest = OldestKept();
  page->oldest = oldest;
  if (q.since > last_seq_) {
    // A resume point this node never reached: its data dir was replaced, or the id came from
    // another node. Start over from what there is.
    page->gap = true;
    page->next = last_seq_;
    return Status::OK();
  }
  uint64_t from = q.since + 1;
  if (from < oldest) {
    page->gap = true;
    from = oldest;
  }
  uint64_t covered = from - 1;
  uint32_t budget = options_.scan_max;
  const uint32_t max = std::clamp<uint32_t>(q.max, 1, limits::kEventsPerReplyMax);
  const uint64_t mem_first = recent_.empty() ? last_seq_ + 1 : recent_.front().seq;
  if (from < mem_first) {  // older than memory: the journal
    uint32_t read = 0;
    Status s = reader_(from, mem_first - 1, budget,
                       [&](protocol::StateEvent&& e) {
                         ++read;
                         if (Matches(q, e)) page->events.push_back(std::move(e));
                         return page->events.size() < max;
                       },
                       &covered);
    if (!s.ok()) return s;
    budget -= std::min(budget, read);
  }
  if (covered + 1 >= mem_first && page->events.size() < max && budget > 0) {
    for (size_t i = covered + 1 - mem_first; i < recent_.size(); ++i) {
      const protocol::StateEvent& e = recent_[i];
      covered = e.seq;
      if (Matches(q, e)) page->events.push_back(e);
      if (page->events.size() >= max || --budget == 0) break;
    }
  }
  page->next = covered;
  if (!page->events.empty() || page->gap || covered < last_seq_ || q.wait_ms == 0)
    return Status::OK();
  if (waiters_.size() >= options_.waiters_max)
    return Status::Overloaded("the node holds " + std::to_string(options_.waiters_max) +
                              " events requests, its limit: retry later");
  waiters_.push_back(Waiter{token, q, covered, now_ms + q.wait_ms});
  *held = true;
  return Status::OK();
}

void EventLog::Publish(std::vector<protocol::StateEvent> events, Answers* answers) {
  if (events.empty()) return;
  JOBNET_CHECK(events.front().seq == last_seq_ + 1);
  const uint64_t newest = events.back().seq;
  JOBNET_CHECK(newest - events.front().seq + 1 == events.size());
  if (!waiters_.empty()) {
    const uint64_t oldest = OldestKept();
    for (auto it = waiters_.begin(); it != waiters_.end();) {
      protocol::EventPage page;
      page.oldest = oldest;
      page.next = newest;
      const uint32_t max = std::clamp<uint32_t>(it->query.max, 1, limits::kEventsPerReplyMax);
      for (const auto& e : events) {
        if (e.seq <= it->covered || !Matches(it->query, e)) continue;
        page.events.push_back(e);
        if (page.events.size() >= max) {
          page.next = e.seq;
          break;
        }
      }
      if (page.events.empty()) {
        it->covered = newest;
        ++it;
        continue;
      }
      answers->emplace_back(it->token, std::move(page));
      it = waiters_.erase(it);
    }
  }
  last_seq_ = newest;
  for (auto& e : events) recent_.push_back(std::move(e));
  while (recent_.size() > options_.memory_max) recent_.pop_front();
}

void EventLog::Expire(uint64_t now_ms, Answers* answers) {
  if (waiters_.empty()) return;
  const uint64_t oldest = OldestKept();
  for (auto it = waiters_.begin(); it != waiters_.end();) {
    if (it->deadline_ms > now_ms) {
      ++it;
      continue;
    }
    protocol::EventPage page;
    page.oldest = oldest;
    page.next = it->covered;
    answers->emplace_back(it->token, std::move(page));
    it = waiters_.erase(it);
  }
}

}  // namespace jobnet
