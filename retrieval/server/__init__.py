"""``aer serve``: a collection behind an HTTP API and a search page (FastAPI, served by uvicorn).

>>> from retrieval.server import create_app
>>> app = create_app("news.aer", token=None)   # an ASGI app: uvicorn.run(app), or mount it elsewhere
"""

from .app import create_app
from .auth import TOKEN_ENV, read_token
from .state import Busy, Served

__all__ = ["TOKEN_ENV", "Busy", "Served", "create_app", "read_token"]
