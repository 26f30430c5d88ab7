"""numba compilation shared by every compiled loop of the package (imported only when compiled code runs).

:func:`jit` is ``njit(cache=True)``: compiled once per install into ``__pycache__`` (or numba's user cache
directory when the package folder is read-only), then loaded in a fraction of a second; when no cache
location is writable it compiles in memory, with one warning. No fast-math: every iteration is computed by
the same IEEE operations whatever thread or block it falls in. :func:`serial_twin` compiles a parallel loop
again without numba's thread pool, for one thread (the same numbers).
"""
import types
import warnings

from numba import njit


def jit(**options):
    """``njit(cache=True, **options)``; when no cache location is writable (read-only install and
    no writable user cache directory) compile in memory instead, with one warning."""
    def wrap(func):
        try:
            return njit(cache=True, **options)(func)
        except RuntimeError as exc:  # numba: "cannot cache function ...: no locator available"
            if "cannot cache" not in str(exc):
                raise
            if not _WARNED:
                warnings.warn("numba cannot cache compiled code here (no writable cache directory; set NUMBA_CACHE_DIR): "
                              "compiling in memory, which adds 10-20 s to each run", RuntimeWarning, stacklevel=2)
                _WARNED.append(True)
            return njit(cache=False, **options)(func)
    return wrap


def serial_twin(kernel):
    """The same loop compiled without numba's thread pool (``prange`` is then ``range``, so every
    number is the same), for one thread: ``--workers 1``, or a chunk running in a thread of its own.
    A renamed copy of the Python function, so its cache files do not collide with the parallel one's."""
    func = kernel.py_func
    twin = types.FunctionType(func.__code__, func.__globals__, func.__name__ + "_serial", func.__defaults__, func.__closure__)
    twin.__qualname__ = twin.__name__
    twin.__doc__ = func.__doc__
    return jit(nogil=True)(twin)




_WARNED: list[bool] = []  # the in-memory warning is given once
