"""Process-wide settings that entry points apply explicitly, never an import.

Importing a geocrobim module changes no environment variable, logger or thread count
(tests/test_import_side_effects.py checks every module). The entry points that want a
process-wide setting call it here: ``geocrobim`` (the CLI group, before any command can
import torch) and ``geocrobim batch`` call :func:`passive_omp_wait`; the batch pool passes
the same policy to its worker processes. A library user who wants it calls it before
importing torch.
"""

from __future__ import annotations

import os

#: OpenMP's wait policy for geocrobim's processes (see :func:`passive_omp_wait`).
OMP_WAIT_POLICY = "PASSIVE"


def passive_omp_wait() -> None:
    """Let idle OpenMP threads sleep instead of spinning; call before torch is imported.

    torch's CPU thread pool spins while it waits for work by default. On a CPU shared
    with other processes (a busy server, several workers) the spinning threads take
    the cores the working ones need: on the 2-core development machine at load 3-4 a
    scene took 6.0 s with 2 spinning threads and 0.19-0.28 s with passive waiting, and a
    tiny scene 6 s instead of 0.4 s (docs/performance.md, batch section). A value the
    user set is kept. No effect once torch (its OpenMP runtime) is loaded.
    """
    os.environ.setdefault("OMP_WAIT_POLICY", OMP_WAIT_POLICY)
