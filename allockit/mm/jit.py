"""The two decorators every simulated-kernel function uses.

``mm_jit``: ``@njit(cache=True)`` compiled without numba's reference-counting runtime
(``_nrt=False``). The machine state is a tuple of arrays passed to every function; with NRT
on, each call increfs and decrefs every array with atomic instructions, which measured as
3-10x the cost of the allocator step itself. The kernels here never create arrays (they only
read and write the state they are given), so they do not need the runtime; numba refuses to
compile one that tries. ``_nrt`` is a documented-in-source but underscore option of numba's
CPU target (numba itself uses it for allocation-free helpers).

``mm_jit_inline``: the same, inlined into the caller at numba IR level, for one-line helpers
(list operations, pageblock lookups) on the hottest paths.

Functions that allocate (the invariant checker, boot helpers) use plain ``njit(cache=True)``.
"""

from numba import njit

mm_jit = njit(cache=True, _nrt=False)
mm_jit_inline = njit(cache=True, _nrt=False, inline="always")
