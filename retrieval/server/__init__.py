"""``aer serve``: collections behind an HTTP API and a search page (FastAPI, served by uvicorn).

>>> from retrieval.server import create_app, create_server_app
>>> app = create_app("news.aer", token=None)   # an ASGI app: uvicorn.run(app), or mount it elsewhere
>>> app = create_server_app(["news.aer", "photos.aer"])   # each under /c/{name}/, with GET /collections
"""

from .app import create_app
from .auth import READ_TOKEN_ENV, TOKEN_ENV, read_token, token_from
from .multi import create_server_app
from .state import Busy, Served

__all__ = ["READ_TOKEN_ENV", "TOKEN_ENV", "Busy", "Served", "create_app", "create_server_app", "read_token",
           "token_from"]  # fmt: skip
