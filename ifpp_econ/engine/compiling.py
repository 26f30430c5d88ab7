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


def jit(tag: str = "", **options):
    """``njit(cache=True, **options)``; when no cache location is writable (read-only install and
    no writable user cache directory) compile in memory instead, with one warning. ``tag``: appended to the
    function's name (and so to its cache entry), e.g. :func:`source_tag` of the modules whose functions it inlines."""
    def wrap(func):
        if tag:
            func = _renamed(func, f"{func.__name__}_{tag}")
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


def _renamed(func, name: str, **extra_globals):
    """A copy of ``func`` named ``name`` (its cache files are its own), with ``extra_globals`` added to its globals."""
    copy = types.FunctionType(func.__code__, {**func.__globals__, **extra_globals} if extra_globals else func.__globals__,
                              name, func.__defaults__, func.__closure__)
    copy.__qualname__ = name
    copy.__doc__ = func.__doc__
    return copy


def shared(func, **compiled):
    """A plain-Python function of the model's arithmetic (one the numpy reference also calls), compiled to be inlined
    into the loops; ``compiled``: the compiled versions of the plain functions it calls, by name."""
    return jit(inline="always")(_renamed(func, func.__name__, **compiled))


def source_tag(*modules) -> str:
    """A short hash of the modules' source: the loops inlining their functions carry it in their names, so that a
    change to those functions compiles the loops anew (numba's cache checks only the loop's own file)."""
    import hashlib
    import inspect

    digest = hashlib.sha1()
    for module in modules:
        digest.update(inspect.getsource(module).encode())
    return digest.hexdigest()[:10]


def serial_twin(kernel):
    """The same loop compiled without numba's thread pool (``prange`` is then ``range``, so every
    number is the same), for one thread: ``--workers 1``, or a chunk running in a thread of its own.
    A renamed copy of the Python function, so its cache files do not collide with the parallel one's."""
    func = kernel.py_func
    return jit(nogil=True)(_renamed(func, func.__name__ + "_serial"))




def plain_arrays(args) -> list:
    """The arguments as writable C-contiguous arrays (a copy only where one is read-only or strided, e.g. from
    ``np.broadcast_to``), so that every caller of a compiled loop uses one signature: no second compile."""
    import numpy as np

    return [np.require(a, requirements=("C", "W")) if isinstance(a, np.ndarray) else a for a in args]


def prepare(jobs, announce=None) -> list[str]:
    """Compile (or load from the cache) every dispatcher of ``jobs`` — ``(dispatchers, args)`` pairs, e.g. a parallel
    loop and its serial twin with the arguments they are called with — for the signature of its ``args``, so that
    whichever a later command runs is already in the cache: a first run compiles all of them at once instead of one
    now and another by surprise later. ``announce(message)`` is told once, before compiling, when something is not
    in the cache. Returns the names compiled now."""
    from numba import typeof

    work = [(d, tuple(typeof(a) for a in args)) for dispatchers, args in jobs for d in dispatchers]
    missing = [(d, sig) for d, sig in work if sig not in d.overloads and not _in_cache(d, sig)]
    if missing and announce is not None:
        announce("preparing the compiled model, once per install (15–40 s; later runs load it in a second)")
    for dispatcher, signature in work:
        if signature not in dispatcher.overloads:
            dispatcher.compile(signature)
    return [d.__name__ for d, _ in missing]


def _in_cache(dispatcher, signature) -> bool:
    """Whether numba's cache holds ``dispatcher`` compiled for ``signature`` (numba's own cache lookup, the one a call
    makes; False when it cannot be asked)."""
    try:
        return dispatcher._cache.load_overload(signature, dispatcher.targetctx) is not None
    except Exception:  # noqa: BLE001 - a private numba interface: if it changes, say "not cached" (we only announce)
        return False


_WARNED: list[bool] = []  # the in-memory warning is given once
