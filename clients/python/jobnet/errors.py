"""Errors of the jobnet client: one exception class per stable protocol code.

Every error a node answers with (and every failure of the client itself to get an answer) is
raised as a JobnetError carrying the protocol's code number (``code``) and its stable name
(``code_name``), as listed in docs/protocol.md §7. Catch a subclass (``NotFound``,
``Conflict``...) or test ``code_name``.
"""

# Stable code numbers (include/jobnet/status.h); never renumbered.
CODES = {
    1: "not_found",
    2: "corruption",
    3: "invalid_argument",
    4: "unsupported_version",
    5: "too_large",
    6: "overloaded",
    7: "unavailable",
    8: "timeout",
    9: "conflict",
    10: "draining",
    11: "storage",
    12: "locked",
    13: "internal",
    14: "storage_full",
    15: "permission_denied",
}
INTERNAL = 13


class JobnetError(Exception):
    """An error answer from a node, or the client's own failure to get one."""

    code = INTERNAL

    def __init__(self, message, code=None):
        super().__init__(message)
        if code is not None:
            self.code = code
        self.message = message

    @property
    def code_name(self):
        return CODES.get(self.code, "internal")

    def __str__(self):
        return "%s: %s" % (self.code_name, self.message)


class NotFound(JobnetError):
    code = 1


class Corruption(JobnetError):
    code = 2


class InvalidArgument(JobnetError):
    code = 3


class UnsupportedVersion(JobnetError):
    code = 4


class TooLarge(JobnetError):
    code = 5


class Overloaded(JobnetError):
    code = 6


class Unavailable(JobnetError):
    code = 7


class Timeout(JobnetError):
    code = 8


class Conflict(JobnetError):
    """The job's state forbids the operation. For a worker: its lease is no longer the job's
    current run (it expired, was cancelled, or the job was leased again), so its result, failure
    or progress was refused (fencing)."""

    code = 9


class Draining(JobnetError):
    code = 10


class Storage(JobnetError):
    code = 11


class Locked(JobnetError):
    code = 12


class Internal(JobnetError):
    code = 13


class StorageFull(JobnetError):
    code = 14


class PermissionDenied(JobnetError):
    code = 15


_BY_CODE = {c.code: c for c in (NotFound, Corruption, InvalidArgument, UnsupportedVersion,
                                 TooLarge, Overloaded, Unavailable, Timeout, Conflict, Draining,
                                 Storage, Locked, Internal, StorageFull,
                                 PermissionDenied)}


def error_for(code, message):
    """The exception for an error reply. Code 0 or a code this client does not know is kept as
    a number but raised as Internal: an error is never mistaken for success."""
    cls = _BY_CODE.get(code)
    if cls is None:
        return Internal(message, code=code if isinstance(code, int) and code != 0 else INTERNAL)
    return cls(message)
