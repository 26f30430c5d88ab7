"""How the C allocator keeps freed memory, for long runs of same-sized chunks (glibc only; elsewhere nothing).

By default glibc hands the top of its heap back to the operating system whenever 128 kB or more lie free there, and
maps arrays of 128 kB or more afresh (its threshold rising only as such arrays are freed). A PSA frees and
re-allocates the same ≈ 10 MB of arrays every chunk, so each chunk page-faulted them in again: measured ≈ 3,200 page
faults a chunk of 4,096 iterations and ≈ 16% more CPU per iteration on one thread than with the memory kept. After
:func:`keep_freed_memory`, arrays below 32 MB come from the heap and freed memory stays for the next chunk; a run's
peak memory is what it holds at once, as before (its resident memory no longer falls between chunks).
"""
from __future__ import annotations

M_TRIM_THRESHOLD, M_TOP_PAD, M_MMAP_THRESHOLD = -1, -2, -3  # glibc's mallopt parameters (malloc.h)
SETTINGS = ((M_MMAP_THRESHOLD, 32 * 2**20),  # glibc's largest: arrays below it come from the heap
            (M_TRIM_THRESHOLD, 2**30),  # give memory back only when a GiB lies free at the heap's top
            (M_TOP_PAD, 64 * 2**20))  # grow the heap 64 MiB at a time
_DONE: list[bool] = []


def keep_freed_memory() -> bool:
    """Set glibc's allocator to keep freed memory for reuse (once per process); False where there is no glibc."""
    if _DONE:
        return _DONE[0]
    import ctypes.util  # here, not at import: the engine's start-up stays as it was
    import platform

    ok = False
    if platform.system() == "Linux" and platform.libc_ver()[0] == "glibc":
        try:
            mallopt = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").mallopt
            ok = all(mallopt(option, value) == 1 for option, value in SETTINGS)
        except (OSError, AttributeError):
            ok = False
    _DONE.append(ok)
    return ok
