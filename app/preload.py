"""Imported once by the fork server the worker processes are forked from (see app.lanes), so
that every worker starts with the engine imported and the parser's tables built, and a little
behind the server's event loop when they compete for a core (nice 5)."""

import os

os.environ["CHAINRULE_IN_WORKER"] = "1"  # app.lanes starts no workers of its own in a worker

from app.routers import api, labs  # noqa: E402, F401  (the jobs workers run)
from engine.circuit import compile_text  # noqa: E402

compile_text("0")
os.nice(5)
