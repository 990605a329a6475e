"""stockraft from Python: the stubs generated from proto/ with grpcio-tools, and two helpers.

- ``refusal(error)`` reads the rich error of a failed call (gRPC's standard model, read with
  ``grpc_status.rpc_status.from_call``): the reason (``OUT_OF_STOCK``), the figures, the full
  ``stockraft.v1.ErrorDetail`` and the server's retry delay, if any.
- ``Cluster`` sends a call to a cluster and retries it when its outcome is open (UNAVAILABLE,
  a deadline, a connection cut), always with the *same* request, so the same request id: the
  ledger answers a retried id with its first outcome, so nothing is applied twice. NOT_LEADER
  sends the next attempt to the leader it names.

The stubs live in ``clients/python/generated`` (``scripts/python-client.sh`` generates them;
nothing generated is checked in) as the modules ``stockraft.v1.*_pb2``.
"""

import os
import sys
import time
import uuid
from dataclasses import dataclass, field
from typing import Optional

import grpc
from google.rpc import error_details_pb2
from grpc_status import rpc_status

_GENERATED = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "generated")
if _GENERATED not in sys.path:
    sys.path.insert(0, _GENERATED)

from stockraft.v1 import (  # noqa: E402  (the generated modules need the path above)
    catalog_pb2,
    catalog_pb2_grpc,
    cluster_pb2,
    cluster_pb2_grpc,
    inventory_pb2,
    inventory_pb2_grpc,
    types_pb2,
)

__all__ = [
    "Cluster",
    "Refusal",
    "catalog_pb2",
    "catalog_pb2_grpc",
    "cluster_pb2",
    "cluster_pb2_grpc",
    "inventory_pb2",
    "inventory_pb2_grpc",
    "new_request_id",
    "refusal",
    "types_pb2",
]

# Codes whose outcome is open: the call may or may not have been applied.
_OPEN = {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.CANCELLED,
         grpc.StatusCode.ABORTED}
# Codes that are open only when the server did not decide anything (no reason).
_OPEN_WITHOUT_REASON = {grpc.StatusCode.UNKNOWN, grpc.StatusCode.INTERNAL, grpc.StatusCode.RESOURCE_EXHAUSTED}


def new_request_id() -> str:
    """A fresh request id: mint one per logical operation, never per attempt."""
    return uuid.uuid4().hex


@dataclass
class Refusal:
    """What a failed call's rich status says."""

    code: grpc.StatusCode
    message: str
    # google.rpc.ErrorInfo: the reason by name ("OUT_OF_STOCK"), domain "stockraft", figures.
    reason: str = "REASON_UNSPECIFIED"
    domain: str = ""
    metadata: dict = field(default_factory=dict)
    # The full stockraft.v1.ErrorDetail.
    detail: Optional[types_pb2.ErrorDetail] = None
    # google.rpc.RetryInfo, in seconds, when the same call may be sent again as it is.
    retry_delay: Optional[float] = None


def refusal(error: grpc.RpcError) -> Refusal:
    """The rich status of a failed call. A status without details (a connection cut before the
    server answered) gives a Refusal with only its code and message."""
    found = Refusal(code=error.code(), message=error.details() or "")
    try:
        status = rpc_status.from_call(error)
    except ValueError:
        # Details that are not a google.rpc.Status matching the call (a server before the
        # rich model sent a bare ErrorDetail): only the code and message are known.
        return found
    if status is None:
        return found
    for packed in status.details:
        if packed.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            packed.Unpack(info)
            found.reason, found.domain, found.metadata = info.reason, info.domain, dict(info.metadata)
        elif packed.Is(types_pb2.ErrorDetail.DESCRIPTOR):
            found.detail = types_pb2.ErrorDetail()
            packed.Unpack(found.detail)
        elif packed.Is(error_details_pb2.RetryInfo.DESCRIPTOR):
            retry = error_details_pb2.RetryInfo()
            packed.Unpack(retry)
            found.retry_delay = retry.retry_delay.ToTimedelta().total_seconds()
    return found


class Cluster:
    """Calls to a stockraft cluster, retried with the same request while their outcome is open."""

    def __init__(self, endpoints, attempt_timeout=5.0, deadline=15.0):
        self.endpoints = list(endpoints)
        self.attempt_timeout = attempt_timeout
        self.deadline = deadline
        self._channels = {}
        self._preferred = 0
        # Attempts sent again because the previous one's outcome was open.
        self.retries = 0

    def channel(self, endpoint: str) -> grpc.Channel:
        if endpoint not in self._channels:
            self._channels[endpoint] = grpc.insecure_channel(endpoint)
        return self._channels[endpoint]

    def close(self):
        for channel in self._channels.values():
            channel.close()
        self._channels.clear()

    def call(self, stub_class, method: str, request):
        """``stub_class(channel).method(request)`` on the cluster: the node that answered last
        first; an open outcome is retried (with a backoff) until ``deadline`` seconds have
        passed; a refusal is raised as the grpc.RpcError it is."""
        give_up_at = time.monotonic() + self.deadline
        backoff = 0.02
        while True:
            endpoint = self.endpoints[self._preferred % len(self.endpoints)]
            try:
                stub = stub_class(self.channel(endpoint))
                answer = getattr(stub, method)(request, timeout=self.attempt_timeout)
                return answer
            except grpc.RpcError as error:
                seen = refusal(error)
                if not _open(seen) or time.monotonic() + backoff > give_up_at:
                    raise
                self.retries += 1
                leader = seen.detail.leader_address if seen.detail is not None else ""
                # Straight to a leader that another node names; if the named node is the one
                # that just answered, it is not leading any more: back off like any retry.
                if leader and leader != endpoint:
                    if leader not in self.endpoints:
                        self.endpoints.append(leader)
                    self._preferred = self.endpoints.index(leader)
                    continue
                self._preferred += 1
                time.sleep(max(backoff, seen.retry_delay or 0.0))
                backoff = min(backoff * 2, 1.0)


def _open(seen: Refusal) -> bool:
    if seen.code in _OPEN:
        return True
    return seen.code in _OPEN_WITHOUT_REASON and seen.reason == "REASON_UNSPECIFIED"
