// The node runtime: journal recovery, the actor system, the transport, and orderly shutdown.
#ifndef JOBNET_NODE_NODE_HPP_
#define JOBNET_NODE_NODE_HPP_

#include "node/config.hpp"

namespace jobnet {

// Runs a node until SIGTERM/SIGINT. Returns the process exit code (0 on a clean shutdown).
int RunNode(const NodeConfig& config);

}  // namespace jobnet

#endif  // JOBNET_NODE_NODE_HPP_
