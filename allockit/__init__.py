"""allockit: a page-granular, numba-compiled simulation of the Linux page allocator."""

__version__ = "0.1.0"
