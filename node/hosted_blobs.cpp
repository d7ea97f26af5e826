// HostedBlobs: a hosted run's blobs, fetched from and pushed to the job's owner.
#include "node/hosted_blobs.hpp"

#include <memory>

#include "jobnet/client.h"
#include "protocol/messages.hpp"

namespace jobnet {

bool PeerEndpoints::Add(const std::string& endpoint) {
  std::lock_guard<std::mutex> l(mu_);
  for (const auto& ep : endpoints_)
    if (ep == endpoint) return true;
  if (endpoints_.size() >= max_) return false;
  endpoints_.push_back(endpoint);
  if (listener_) listener_(static_cast<uint32_t>(endpoints_.size() - 1), endpoint);
  return true;
}

void PeerEndpoints::Listen(size_t known, Listener listener) {
  std::lock_guard<std::mutex> l(mu_);
  listener_ = std::move(listener);
  if (listener_)
    for (size_t i = known; i < endpoints_.size(); ++i)
      listener_(static_cast<uint32_t>(i), endpoints_[i]);
}

size_t PeerEndpoints::size() const {
  std::lock_guard<std::mutex> l(mu_);
  return endpoints_.size();
}

void PeerEndpoints::Set(uint32_t link, const std::string& node) {
  std::lock_guard<std::mutex> l(mu_);
  if (link >= endpoints_.size() || node.empty()) return;
  by_node_[node] = endpoints_[link];
}

ClientOptions PeerEndpoints::ClientFor(const std::string& endpoint, uint32_t timeout_ms) const {
  ClientOptions keys;
  if (principals_) {
    keys.key = key_;
    keys.server_keys[endpoint] = principals_->ServerKeyOf(endpoint);
  }
  return keys.Narrowed(endpoint, timeout_ms);
}

std::string PeerEndpoints::Find(const std::string& node) const {
  std::lock_guard<std::mutex> l(mu_);
  auto it = by_node_.find(node);
  return it == by_node_.end() ? std::string() : it->second;
}

Result<std::string> HostedBlobs::OwnerEndpoint() const {
  auto id = protocol::ParseJobId(job_id_);
  if (!id.ok()) return id.status();
  std::string endpoint = peers_->Find(id.value().node);
  if (endpoint.empty())
    return Status::Unavailable("no endpoint known for node " + id.value().node + ", owner of " +
                               job_id_);
  return endpoint;
}

namespace {
Result<std::unique_ptr<Client>> ConnectTo(const PeerEndpoints& peers, const std::string& endpoint,
                                          uint32_t timeout_ms) {
  std::unique_ptr<Client> c;
  if (Status s = Client::Connect(peers.ClientFor(endpoint, timeout_ms), &c); !s.ok()) return s;
  return c;
}
}  // namespace

Result<std::string> HostedBlobs::ReadBlob(const std::string& hash) {
  auto here = local_->ReadBlob(hash);
  if (here.ok() || !here.status().IsNotFound()) return here;
  auto endpoint = OwnerEndpoint();
  if (!endpoint.ok()) return endpoint.status();
  auto c = ConnectTo(*peers_, endpoint.value(), timeout_ms_);
  if (!c.ok())
    return Status(c.status().code(), "blob " + hash + " from the owner of " + job_id_ + ": " +
                                         c.status().message());
  auto data = c.value()->GetBlob(hash, job_id_);  // the client checks the bytes' hash
  if (!data.ok())
    return Status(data.status().code(), "blob " + hash + " from the owner of " + job_id_ +
                                            ": " + data.status().message());
  // Kept here under this node's blob limit (kTooLarge above it), so a retry reads it locally.
  auto stored = local_->WriteBlob(data.value());
  if (!stored.ok()) return stored.status();
  if (stored.value() != hash)
    return Status::Corruption("blob " + hash + " fetched for " + job_id_ + " stored as " +
                              stored.value());
  return data;
}

Result<uint64_t> HostedBlobs::BlobSize(const std::string& hash) {
  auto here = local_->BlobSize(hash);
  if (here.ok() || !here.status().IsNotFound()) return here;
  auto data = ReadBlob(hash);  // the handler reads it next; fetch it once, now
  if (!data.ok()) return data.status();
  return static_cast<uint64_t>(data.value().size());
}

Result<std::string> HostedBlobs::WriteBlob(const std::string& data) {
  auto hash = local_->WriteBlob(data);  // the node's blob limit applies here first
  if (!hash.ok()) return hash;
  auto endpoint = OwnerEndpoint();
  if (!endpoint.ok()) return endpoint.status();
  auto c = ConnectTo(*peers_, endpoint.value(), timeout_ms_);
  if (!c.ok())
    return Status(c.status().code(), "result blob to the owner of " + job_id_ + ": " +
                                         c.status().message());
  auto put = c.value()->PutBlob(data);
  if (!put.ok())
    return Status(put.status().code(), "result blob to the owner of " + job_id_ + ": " +
                                           put.status().message());
  if (put.value() != hash.value())
    return Status::Corruption("the owner of " + job_id_ + " stored the result blob as " +
                              put.value());
  return hash;
}

}  // namespace jobnet
