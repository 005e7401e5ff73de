"""Imported once by the fork server the worker processes are forked from (see app.lanes), so
that every worker starts with the engine imported, the parser's tables built and the digits
read, computes on one thread (the pool is the parallelism), and yields a shared core to the
server's event loop (nice 10): the loop answers small requests and /healthz while the workers
compute."""

import os

os.environ["CHAINRULE_IN_WORKER"] = "1"  # app.lanes starts no workers of its own in a worker
for _threads in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_threads] = "1"  # read when numpy loads its BLAS, below

from app.routers import api, labs  # noqa: E402, F401  (the jobs workers run)
from engine.circuit import compile_text  # noqa: E402
from engine.labs.datasets import digit_images  # noqa: E402

compile_text("0")
digit_images()
os.nice(10)
