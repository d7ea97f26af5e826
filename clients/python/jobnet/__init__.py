"""jobnet: a Python client and worker for jobnet clusters (docs/protocol.md).

    import jobnet
    c = jobnet.Client(["tcp://127.0.0.1:7701"])
    job_id = c.submit("echo", {"hello": "world"})
    print(c.wait(job_id, timeout=10)["result"])

    w = jobnet.Worker(["tcp://127.0.0.1:7701"], types=["upper"], capacity=4)
    w.run(lambda job: job.payload.upper())

Needs only pyzmq and msgpack (Debian: python3-zmq, python3-msgpack).
"""

from .client import Client, default_endpoints
from .errors import (CODES, Conflict, Corruption, Draining, Internal, InvalidArgument,
                     JobnetError, Locked, NotFound, Overloaded, PermissionDenied, Storage,
                     StorageFull, Timeout, TooLarge, Unavailable, UnsupportedVersion)
from .worker import Job, Worker
from ._wire import PAYLOAD_DEPTH_MAX

__version__ = "0.1.0"

# Final job states (docs/protocol.md §6.2).
FINAL_STATES = ("succeeded", "failed", "dead", "cancelled")

__all__ = ["Client", "Worker", "Job", "JobnetError", "NotFound", "Corruption", "InvalidArgument",
           "UnsupportedVersion", "TooLarge", "Overloaded", "Unavailable", "Timeout", "Conflict",
           "Draining", "Storage", "Locked", "Internal", "StorageFull",
           "PermissionDenied", "CODES", "FINAL_STATES",
           "default_endpoints", "PAYLOAD_DEPTH_MAX"]
