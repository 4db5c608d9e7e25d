"""Keep freed host memory in the process, so large per-batch tensors do not page-fault afresh every batch.

glibc serves every allocation above its mmap threshold (at most 32 MB by default) with a fresh
mmap and unmaps it when freed, and it returns freed heap tops to the system. A compiled training
step that allocates the same large buffers every batch — a 1000-step window's per-step records
are tens of MB each — then touches new pages every batch: one page fault per 4 KB, a few µs each.
On the 2-core benchmark machine that is 0.13 of the 0.39 CPU-s of a FeedbackNetwork batch; an NRF-LV
sampler step on the thesis model page-faults 1,654 times at batch 8 (10.5 ms of system CPU time per
step) and 2,867 times at batch 32 (15.0 ms), 558 (5.2 ms) and 116 (7.2 ms) with this.
Raising the mmap threshold and the trim threshold lets the freed blocks be reused. Family-neutral:
`FeedbackNetwork.train_step` and the energy samplers (`ndnx.energy.Sampler.run`) ask for it.
"""

import ctypes
import ctypes.util

import tensorflow as tf

__all__ = ["retain_freed_memory"]

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_applied = None


@tf.autograph.experimental.do_not_convert  # host-side: called while a train_step is traced
def retain_freed_memory(block_bytes=1 << 30):
    """Ask glibc to serve blocks up to `block_bytes` from its heap and to keep freed memory.

    Process-wide and idempotent; the peak resident memory is then kept rather than returned to
    the system. Returns True when applied, False where the C library is not glibc (nothing changes).

    Example:
        >>> from ndnx.host_memory import retain_freed_memory
        >>> retain_freed_memory() in (True, False)
        True
    """
    global _applied
    if _applied is not None:
        return _applied
    _applied = False
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc (musl, macOS): leave the allocator alone
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    block = int(min(block_bytes, (1 << 31) - 1))
    _applied = bool(mallopt(_M_MMAP_THRESHOLD, block)) and bool(mallopt(_M_TRIM_THRESHOLD, (1 << 31) - 1))
    return _applied
