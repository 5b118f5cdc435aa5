"""HTTP interface: submit work, get work, claims, events, ownership views, health; served
by a member (:class:`HttpServer`) or by ``jarvis api`` (:class:`WorkerPool` of
:func:`standalone_app`)."""

from jarvis.api.app import ApiContext, create_app
from jarvis.api.schemas import ReadyOut
from jarvis.api.security import HttpPolicy
from jarvis.api.server import HttpServer
from jarvis.api.standalone import standalone_app
from jarvis.api.workers import WorkerPool

__all__ = [
    "ApiContext",
    "HttpPolicy",
    "HttpServer",
    "ReadyOut",
    "WorkerPool",
    "create_app",
    "standalone_app",
]
