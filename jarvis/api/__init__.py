"""HTTP interface: submit work, get work, claims, events, ownership views, health."""

from jarvis.api.app import ApiContext, create_app
from jarvis.api.server import HttpServer

__all__ = ["ApiContext", "HttpServer", "create_app"]
