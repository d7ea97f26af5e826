// systemd's readiness protocol (sd_notify(3)), without libsystemd: when the service manager set
// NOTIFY_SOCKET (a unit with Type=notify), one datagram per state change to that socket. Without
// it, nothing is sent. deploy/jobnet.service uses it: `systemctl start` returns once the node
// serves, and `systemctl status` shows what it is doing.
#ifndef JOBNET_NODE_SD_NOTIFY_HPP_
#define JOBNET_NODE_SD_NOTIFY_HPP_

#include <string>

namespace jobnet {

// Sends `state` ("READY=1\nSTATUS=...", "STOPPING=1") to $NOTIFY_SOCKET. False when the variable
// is unset or the datagram could not be sent (the node goes on either way).
bool NotifyServiceManager(const std::string& state);

}  // namespace jobnet

#endif  // JOBNET_NODE_SD_NOTIFY_HPP_
