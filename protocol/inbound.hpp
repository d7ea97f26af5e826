// A decoded request as a node's transport hands it to its actors. Apart from the messages
// (protocol/messages.hpp) because only the transport and the actors use it.
#ifndef JOBNET_PROTOCOL_INBOUND_HPP_
#define JOBNET_PROTOCOL_INBOUND_HPP_

#include <cstdint>

#include "protocol/messages.hpp"

namespace jobnet::protocol {

// Requests travel in groups, one per round of the transport's loop, so a burst of them costs
// the actors one hand-off, not one each.
struct Inbound {
  uint64_t route = 0;    // names the reply slot; 0 for a one-way node-to-node message
  Envelope env;
  uint64_t read_us = 0;  // when its frame was read (base::SteadyUs), for the ack stage timings
};

}  // namespace jobnet::protocol

#endif  // JOBNET_PROTOCOL_INBOUND_HPP_
