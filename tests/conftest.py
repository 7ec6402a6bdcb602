"""Shared test settings: single-threaded BLAS keeps tests fast and deterministic on 2 cores.

SIGINT gets Python's default handler here, so the processes the Ctrl-C tests start see Ctrl-C as a terminal user's
run does, also when the test run itself was started with SIGINT ignored (a background job of a shell without job
control, e.g. `(cmd &)`): an ignored signal stays ignored across exec, a handled one does not.
"""

import os
import signal

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")
signal.signal(signal.SIGINT, signal.default_int_handler)
