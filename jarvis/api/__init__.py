"""HTTP interface: submit work, get work, claims, events, ownership views, health."""

from jarvis.api.app import ApiContext, create_app
from jarvis.api.schemas import ReadyOut
from jarvis.api.security import HttpPolicy
from jarvis.api.server import HttpServer

__all__ = ["ApiContext", "HttpPolicy", "HttpServer", "ReadyOut", "create_app"]
