"""The decorators every simulated-kernel function uses, and where their compiled code lives.

``mm_jit``: ``@njit(cache=True)`` compiled without numba's reference-counting runtime
(``_nrt=False``). The machine state is a tuple of arrays passed to every function; with NRT
on, each call increfs and decrefs every array with atomic instructions, which measured as
3-10x the cost of the allocator step itself. The kernels here never create arrays (they only
read and write the state they are given), so they do not need the runtime; numba refuses to
compile one that tries. ``_nrt`` is an underscore option of numba's CPU target, which numba
itself uses for allocation-free helpers.

Literal arguments: numba types a constant argument of a call between compiled functions as
its value (``Literal[int](4)``, ``Literal[bool](True)``) and compiles the callee once for each
value, and again for every callee the value reaches (``migrate_pages`` was compiled four
times, ``sched.advance`` ten). These functions never need a value at compile time, so
:class:`PlainArgsDispatcher` types such calls by the plain type (``int64``, ``bool``): one
compilation per function and argument kinds, about half the compile time.

``mm_jit_inline``: the same, inlined into the caller at numba IR level, for small helpers on
the hottest paths. ``mm_njit``: the same with numba's runtime, for functions that allocate
arrays (the invariant checker).

Cache: numba invalidates a cached function only when *its own* source file changes, not when
a constant or callee in another module does. So the cache directory is keyed by a hash of
every source file of ``allockit/mm`` and the numba version: any change compiles afresh, and
identical sources (other processes, papermill kernels, Dask workers) share one cache. Set
``NUMBA_CACHE_DIR`` to take over the location (and the invalidation) yourself.
"""

import contextlib
import hashlib
import os
import time
from collections.abc import Iterator
from pathlib import Path

import numba
from numba.core import event, types
from numba.core.registry import CPUDispatcher


def _source_hash() -> str:
    h = hashlib.sha256(numba.__version__.encode())
    for path in sorted(Path(__file__).parent.glob("*.py")):
        h.update(path.name.encode())
        h.update(path.read_bytes())
    return h.hexdigest()[:16]


if not os.environ.get("NUMBA_CACHE_DIR"):
    _base = os.environ.get("ALLOCKIT_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "allockit"
    )
    numba.config.CACHE_DIR = os.path.join(_base, "numba-" + _source_hash())


class PlainArgsDispatcher(CPUDispatcher):
    """numba's CPU dispatcher, typing a call from compiled code by its arguments' plain types
    (a literal ``4`` as ``int64``), so that constants do not each compile a specialization."""

    def get_call_template(self, args, kws):
        args = tuple(types.unliteral(a) for a in args)
        kws = {k: types.unliteral(v) for k, v in kws.items()}
        return super().get_call_template(args, kws)


def _plain_args_jit(**options):
    """``njit(cache=True, **options)`` with a :class:`PlainArgsDispatcher`."""

    def wrap(func):
        disp = PlainArgsDispatcher(
            py_func=func, locals={}, targetoptions=dict(nopython=True, **options)
        )
        disp.enable_caching()
        return disp

    return wrap


mm_jit = _plain_args_jit(_nrt=False)
mm_jit_inline = _plain_args_jit(_nrt=False, inline="always")
mm_njit = _plain_args_jit()


class _EntryPointTimer(event.Listener):
    """Wall time of each compilation started from Python (an entry point), including the
    compiled functions it reaches that were neither compiled nor in the cache yet."""

    def __init__(self, times: dict[str, float]):
        self.times, self.depth, self.t0 = times, 0, 0.0

    def on_start(self, ev: event.Event) -> None:
        if self.depth == 0:
            self.t0 = time.perf_counter()
        self.depth += 1

    def on_end(self, ev: event.Event) -> None:
        self.depth -= 1
        if self.depth == 0:
            f = ev.data["dispatcher"].py_func
            name = f"{f.__module__.removeprefix('allockit.')}.{f.__qualname__}"
            self.times[name] = self.times.get(name, 0.0) + time.perf_counter() - self.t0


@contextlib.contextmanager
def entry_point_compile_times() -> Iterator[dict[str, float]]:
    """Collect ``{entry point: seconds}`` for what numba compiles inside the block (nothing
    when everything loads from the cache)."""
    times: dict[str, float] = {}
    listener = _EntryPointTimer(times)
    event.register("numba:compile", listener)
    try:
        yield times
    finally:
        event.unregister("numba:compile", listener)
