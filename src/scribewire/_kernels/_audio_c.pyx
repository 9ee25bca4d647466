"""Native twin of the PCM kernels (csrc/g711.c, csrc/pcm.c); pure twin: ``_audio_py``.

Same names, signatures, results and errors as ``_audio_py`` (see its docstring for the
conventions). Buffers are taken through the buffer protocol directly (``bytes`` without
even that), checked once, and the C loop runs with the GIL released for inputs of
``GIL_RELEASE_NBYTES`` or more.
"""

from cpython.buffer cimport (
    PyBUF_C_CONTIGUOUS,
    PyBUF_RECORDS_RO,
    PyBuffer_IsContiguous,
    PyBuffer_Release,
    PyObject_GetBuffer,
)
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from cpython.mem cimport PyMem_Free, PyMem_Malloc
from libc.stdint cimport int16_t, uint8_t, uint64_t
from libc.string cimport memcpy, memset

import os
import sys
from collections.abc import Sequence

from scribewire._kernels import _audio_py
from scribewire.errors import AudioFormatError, AudioTypeError


cdef extern from "g711.h" nogil:
    void sw_g711_init()
    int16_t sw_ulaw_table[256]
    int16_t sw_alaw_table[256]
    void sw_ulaw_encode(const uint8_t *inp, uint8_t *out, size_t n)
    void sw_alaw_encode(const uint8_t *inp, uint8_t *out, size_t n)
    void sw_ulaw_decode(const uint8_t *inp, uint8_t *out, size_t n)
    void sw_alaw_decode(const uint8_t *inp, uint8_t *out, size_t n)
    void sw_g711_decode_interleave(const int16_t *table, const uint8_t *const *chans,
                                   size_t nch, size_t n, uint8_t *out)

cdef extern from "pcm.h" nogil:
    void sw_pcm_init()
    int sw_pcm_set_simd(int enable)
    int sw_use_avx512
    void sw_i16_to_f32(const uint8_t *inp, uint8_t *out, size_t n)
    void sw_f32_to_i16(const uint8_t *inp, uint8_t *out, size_t n)
    void sw_interleave(const uint8_t *const *chans, size_t nch, size_t n, size_t width,
                       uint8_t *out)
    void sw_deinterleave(const uint8_t *inp, size_t nch, size_t n, size_t width,
                         uint8_t *const *outs)
    void sw_downmix_i16(const uint8_t *inp, size_t nch, size_t n, uint8_t *out)
    uint64_t sw_sum_squares_i16(const uint8_t *inp, size_t n)

cdef extern from "soxr_dl.h" nogil:
    enum:
        SW_SOXR_FLOAT32_I
        SW_SOXR_QQ
        SW_SOXR_LQ
        SW_SOXR_MQ
        SW_SOXR_HQ
        SW_SOXR_VHQ
    ctypedef struct sw_soxr:
        pass
    ctypedef sw_soxr *sw_soxr_t
    ctypedef const char *sw_soxr_error_t
    ctypedef struct sw_soxr_io_spec:
        pass
    ctypedef struct sw_soxr_quality_spec:
        pass
    ctypedef struct sw_soxr_api:
        void *handle
        sw_soxr_t (*create)(double, double, unsigned, sw_soxr_error_t *,
                            const sw_soxr_io_spec *, const sw_soxr_quality_spec *,
                            const void *)
        sw_soxr_error_t (*process)(sw_soxr_t, const void *, size_t, size_t *, void *, size_t,
                                   size_t *) noexcept nogil
        void (*destroy)(sw_soxr_t)
        sw_soxr_error_t (*clear)(sw_soxr_t)
        double (*delay)(sw_soxr_t)
        sw_soxr_io_spec (*io_spec)(int, int)
        sw_soxr_quality_spec (*quality_spec)(unsigned long, unsigned long)
        const char *(*version)()
    const char *sw_soxr_load(const char *path, sw_soxr_api *api)


__all__ = [  # GIL_RELEASE_NBYTES: a native-only extra
    "SoxrStream",
    "alaw_decode",
    "alaw_encode",
    "deinterleave",
    "downmix",
    "float32_to_int16",
    "int16_to_float32",
    "interleave",
    "soxr_stream",
    "sum_squares",
    "telephony_to_pcm",
    "ulaw_decode",
    "ulaw_encode",
]

sw_pcm_init()
sw_g711_init()


def _simd(enable=None):
    """The vector kernels in use: ``"avx512"`` or ``"auto"`` (compiler-vectorised C).

    Private, for tests and benchmarks: ``enable=False`` switches to the portable kernels,
    ``enable=True`` back to AVX-512 when the CPU has it. Not thread-safe; returns the
    setting in force after the call.
    """
    if enable is not None:
        sw_pcm_set_simd(1 if enable else 0)
    return "avx512" if sw_use_avx512 else "auto"

#: Kernels whose input has at least this many bytes run with the GIL released (64 KiB).
GIL_RELEASE_NBYTES = 65536
cdef Py_ssize_t _GIL_NBYTES = 65536

ctypedef void (*unary_fn)(const uint8_t *inp, uint8_t *out, size_t n) noexcept nogil

cdef enum:
    K_BYTES = 0
    K_I16 = 104  # 'h'
    K_F32 = 102  # 'f'
    MAX_STACK_CHANNELS = 16

_MULAW = frozenset({"mulaw", "ulaw", "pcm_mulaw"})
_ALAW = frozenset({"alaw", "pcm_alaw"})
_WHAT = {K_BYTES: "8-bit G.711 codes", K_I16: "int16 PCM", K_F32: "float32 samples"}


cdef inline bint _fmt_ok(const char *fmt, int code) noexcept:
    """Item format is bytes ('B', 'b', 'c') or ``code`` with an optional native/LE prefix."""
    if fmt == NULL:
        return True
    cdef char c0 = fmt[0]
    if (c0 == b'B' or c0 == b'b' or c0 == b'c') and fmt[1] == 0:
        return True
    if code == K_BYTES:
        return False
    if c0 == b'<' or c0 == b'=' or c0 == b'@':
        fmt += 1
    return fmt[0] == code and fmt[1] == 0


cdef str _label(str name, Py_ssize_t index):
    return name if index < 0 else f"{name}[{index}]"


cdef int _acquire(object data, Py_buffer *view, int code, int width, str name,
                  Py_ssize_t index=-1) except -1:
    """Get a C-contiguous buffer; check its items (``code``, or ``width`` bytes if code < 0).

    Checked in the pure twin's order (``_buffers.byte_view``): a buffer, its items, then
    C-contiguous. Errors name the argument ``name`` (``name[index]`` for index >= 0).
    """
    try:
        PyObject_GetBuffer(data, view, PyBUF_RECORDS_RO)
    except TypeError:
        name = _label(name, index)
        what = _WHAT.get(code, "bytes-like")
        raise AudioTypeError(
            f"{name} must be a bytes-like object ({what}), not {type(data).__name__}"
        ) from None
    except (BufferError, ValueError):
        name = _label(name, index)
        raise AudioFormatError(f"{name} must be C-contiguous") from None
    if code >= 0:
        if not _fmt_ok(view.format, code):
            name = _label(name, index)
            fmt = (<bytes>view.format).decode("ascii", "replace")
            PyBuffer_Release(view)
            raise AudioTypeError(
                f"{name} has item format {fmt!r}; expected {_WHAT[code]} or bytes"
            )
    elif view.itemsize != 1 and view.itemsize != width:
        name = _label(name, index)
        itemsize = view.itemsize
        PyBuffer_Release(view)
        raise AudioTypeError(
            f"{name} has {itemsize}-byte items; expected bytes or {width}-byte samples"
        )
    if not PyBuffer_IsContiguous(view, b'C'):
        PyBuffer_Release(view)
        raise AudioFormatError(f"{_label(name, index)} must be C-contiguous")
    return 0


cdef int _acquire_out(object out, Py_buffer *view, Py_ssize_t nbytes) except -1:
    try:
        PyObject_GetBuffer(out, view, PyBUF_C_CONTIGUOUS)
    except TypeError:
        raise AudioTypeError(f"out must be a writable buffer, not {type(out).__name__}") from None
    except (BufferError, ValueError):
        raise AudioFormatError("out must be C-contiguous") from None
    if view.readonly:
        PyBuffer_Release(view)
        raise AudioTypeError("out must be writable")
    if view.len < nbytes:
        have = view.len
        PyBuffer_Release(view)
        raise AudioFormatError(f"out holds {have} bytes; {nbytes} bytes are needed")
    return 0


cdef object _dest(object out, Py_buffer *oview, Py_ssize_t nbytes, uint8_t **dst):
    """Where a kernel writes ``nbytes``: a new ``bytes`` or ``out`` (then acquired into
    ``oview``: release it when done). Returns the object to hand back; sets ``*dst``."""
    if out is None:
        res = PyBytes_FromStringAndSize(NULL, nbytes)
        dst[0] = <uint8_t *>PyBytes_AS_STRING(res)
        return res
    _acquire_out(out, oview, nbytes)
    dst[0] = <uint8_t *>oview.buf
    return out


cdef inline void _run(unary_fn fn, const uint8_t *src, uint8_t *dst, size_t n,
                      Py_ssize_t nbytes) noexcept:
    if nbytes >= _GIL_NBYTES:
        with nogil:
            fn(src, dst, n)
    else:
        fn(src, dst, n)


cdef object _unary(object data, object out, unary_fn fn, int code, Py_ssize_t in_item,
                   Py_ssize_t out_item, Py_ssize_t frame=1):
    """Run a sample-wise kernel: ``in_item`` bytes in, ``out_item`` bytes out per sample."""
    cdef Py_buffer view
    cdef Py_buffer oview
    cdef const uint8_t *src
    cdef uint8_t *dst
    cdef Py_ssize_t nbytes, n
    cdef bint held = False
    if type(data) is bytes:
        src = <const uint8_t *>PyBytes_AS_STRING(data)
        nbytes = PyBytes_GET_SIZE(data)
    else:
        _acquire(data, &view, code, 0, "data")
        held = True
        src = <const uint8_t *>view.buf
        nbytes = view.len
    try:
        if frame > 1 and nbytes % (in_item * frame):
            raise AudioFormatError(
                f"data holds {nbytes // in_item} codes: "
                f"not a whole number of {frame}-channel frames"
            )
        if nbytes % in_item:
            if in_item == 2:
                raise AudioFormatError(
                    f"data holds {nbytes} bytes: int16 PCM needs an even byte count"
                )
            raise AudioFormatError(f"data holds {nbytes} bytes: float32 needs a multiple of 4")
        n = nbytes // in_item
        res = _dest(out, &oview, n * out_item, &dst)
        _run(fn, src, dst, <size_t>n, nbytes)
        if out is not None:
            PyBuffer_Release(&oview)
        return res
    finally:
        if held:
            PyBuffer_Release(&view)


def ulaw_encode(data, out=None):
    """Encode int16 LE PCM to G.711 μ-law (bit-exact with ``audioop.lin2ulaw``).

    See ``_audio_py.ulaw_encode`` for the contract; returns ``len(data) // 2`` bytes or ``out``.
    """
    return _unary(data, out, sw_ulaw_encode, K_I16, 2, 1)


def alaw_encode(data, out=None):
    """Encode int16 LE PCM to G.711 A-law (bit-exact with ``audioop.lin2alaw``).

    See ``_audio_py.alaw_encode``; returns ``len(data) // 2`` bytes or ``out``.
    """
    return _unary(data, out, sw_alaw_encode, K_I16, 2, 1)


def ulaw_decode(data, out=None):
    """Decode G.711 μ-law codes to int16 LE PCM (bit-exact with ``audioop.ulaw2lin``).

    See ``_audio_py.ulaw_decode``; returns ``2 * len(data)`` bytes or ``out``.
    """
    return _unary(data, out, sw_ulaw_decode, K_BYTES, 1, 2)


def alaw_decode(data, out=None):
    """Decode G.711 A-law codes to int16 LE PCM (bit-exact with ``audioop.alaw2lin``).

    See ``_audio_py.alaw_decode``; returns ``2 * len(data)`` bytes or ``out``.
    """
    return _unary(data, out, sw_alaw_decode, K_BYTES, 1, 2)


def int16_to_float32(data, out=None):
    """int16 LE PCM to native float32, ``x / 32768`` (see ``_audio_py.int16_to_float32``)."""
    return _unary(data, out, sw_i16_to_f32, K_I16, 2, 4)


def float32_to_int16(data, out=None):
    """float32 to int16 LE: ``x * 32768``, NaN -> 0, clipped, rounded half to even.

    See ``_audio_py.float32_to_int16``.
    """
    return _unary(data, out, sw_f32_to_i16, K_F32, 4, 2)


cdef int _check_channels(object channels) except -1:
    if isinstance(channels, bool) or not isinstance(channels, int):
        raise AudioTypeError(f"channels must be an int, not {type(channels).__name__}")
    if channels < 1:
        raise AudioFormatError(f"channels must be >= 1, not {channels}")
    return channels


cdef Py_ssize_t _check_width(object sample_width) except -1:
    if isinstance(sample_width, bool) or sample_width not in (1, 2, 4):
        raise AudioFormatError(f"sample_width must be 1, 2 or 4 bytes, not {sample_width!r}")
    return sample_width


cdef struct _Chans:
    # Py_buffers of N channel buffers: inline up to MAX_STACK_CHANNELS, else on the heap
    Py_buffer small[MAX_STACK_CHANNELS]
    const uint8_t *small_ptrs[MAX_STACK_CHANNELS]
    Py_buffer *views
    const uint8_t **ptrs
    Py_ssize_t held


cdef Py_ssize_t _chans_take(_Chans *c, object seq, Py_ssize_t n, int code, int width,
                            str what) except -1:
    """Acquire every buffer of ``seq`` into ``c`` (set ``c.held = 0`` and call
    ``_chans_release`` in a ``finally``); returns their common length in bytes."""
    cdef Py_ssize_t i, nb = 0
    if n <= MAX_STACK_CHANNELS:
        c.views = c.small
        c.ptrs = c.small_ptrs
    else:
        c.views = <Py_buffer *>PyMem_Malloc(n * sizeof(Py_buffer))
        c.ptrs = <const uint8_t **>PyMem_Malloc(n * sizeof(uint8_t *))
        if c.views == NULL or c.ptrs == NULL:
            raise MemoryError()
    for i in range(n):
        _acquire(seq[i], &c.views[i], code, width, what, i)
        c.held = i + 1
        c.ptrs[i] = <const uint8_t *>c.views[i].buf
        if i == 0:
            nb = c.views[0].len
        elif c.views[i].len != nb:
            raise AudioFormatError(
                f"{what}[{i}] holds {c.views[i].len} bytes; {what}[0] holds {nb}: "
                f"lengths must match"
            )
    return nb


cdef void _chans_release(_Chans *c) noexcept:
    cdef Py_ssize_t i
    for i in range(c.held):
        PyBuffer_Release(&c.views[i])
    c.held = 0
    if c.views != NULL and c.views != c.small:
        PyMem_Free(c.views)
        PyMem_Free(<void *>c.ptrs)
    c.views = NULL


def interleave(channels, *, sample_width=2, out=None):
    """Interleave one buffer per channel into frames (see ``_audio_py.interleave``)."""
    cdef Py_ssize_t width = _check_width(sample_width)
    if type(channels) is not list and type(channels) is not tuple and (
        isinstance(channels, (bytes, bytearray, memoryview, str))
        or not isinstance(channels, Sequence)
    ):
        raise AudioTypeError(
            f"channels must be a list or tuple of buffers, not {type(channels).__name__}"
        )
    cdef Py_ssize_t nch = len(channels)
    if nch == 0:
        raise AudioFormatError("interleave needs at least one channel")
    cdef _Chans chans
    chans.held = 0
    chans.views = NULL
    cdef Py_ssize_t nb, total
    cdef Py_buffer oview
    cdef uint8_t *dst
    try:
        nb = _chans_take(&chans, channels, nch, -1, <int>width, "channels")
        if nb % width:
            raise AudioFormatError(f"channel length {nb} bytes is not a multiple of {width}")
        total = nb * nch
        res = _dest(out, &oview, total, &dst)
        if total >= _GIL_NBYTES:
            with nogil:
                sw_interleave(chans.ptrs, <size_t>nch, <size_t>(nb // width), <size_t>width, dst)
        else:
            sw_interleave(chans.ptrs, <size_t>nch, <size_t>(nb // width), <size_t>width, dst)
        if out is not None:
            PyBuffer_Release(&oview)
        return res
    finally:
        _chans_release(&chans)


def deinterleave(data, channels, *, sample_width=2):
    """Split interleaved frames into one ``bytes`` per channel (see ``_audio_py.deinterleave``)."""
    cdef Py_ssize_t nch = _check_channels(channels)
    cdef Py_ssize_t width = _check_width(sample_width)
    cdef Py_buffer view
    cdef Py_ssize_t nb, per, i
    cdef uint8_t *stack_ptrs[MAX_STACK_CHANNELS]
    cdef uint8_t **ptrs = stack_ptrs
    _acquire(data, &view, -1, <int>width, "data")
    try:
        nb = view.len
        if nb % (width * nch):
            raise AudioFormatError(
                f"data holds {nb} bytes: not a whole number of {nch}-channel frames "
                f"of {width}-byte samples"
            )
        per = nb // nch
        outs = [PyBytes_FromStringAndSize(NULL, per) for i in range(nch)]
        if nch > MAX_STACK_CHANNELS:
            ptrs = <uint8_t **>PyMem_Malloc(nch * sizeof(uint8_t *))
            if ptrs == NULL:
                raise MemoryError()
        for i in range(nch):
            ptrs[i] = <uint8_t *>PyBytes_AS_STRING(outs[i])
        if nb >= _GIL_NBYTES:
            with nogil:
                sw_deinterleave(<const uint8_t *>view.buf, <size_t>nch, <size_t>(per // width),
                                <size_t>width, ptrs)
        else:
            sw_deinterleave(<const uint8_t *>view.buf, <size_t>nch, <size_t>(per // width),
                            <size_t>width, ptrs)
        return outs
    finally:
        if ptrs != stack_ptrs:
            PyMem_Free(ptrs)
        PyBuffer_Release(&view)


def downmix(data, channels, *, out=None):
    """Interleaved int16 frames to mono, ``floor(sum / N)`` (see ``_audio_py.downmix``)."""
    cdef Py_ssize_t nch = _check_channels(channels)
    cdef Py_buffer view
    cdef Py_buffer oview
    cdef Py_ssize_t nb, frames
    cdef uint8_t *dst
    _acquire(data, &view, K_I16, 2, "data")
    try:
        nb = view.len
        if nb % (2 * nch):
            raise AudioFormatError(
                f"data holds {nb} bytes: not a whole number of {nch}-channel int16 frames"
            )
        frames = nb // (2 * nch)
        res = _dest(out, &oview, frames * 2, &dst)
        if nb >= _GIL_NBYTES:
            with nogil:
                sw_downmix_i16(<const uint8_t *>view.buf, <size_t>nch, <size_t>frames, dst)
        else:
            sw_downmix_i16(<const uint8_t *>view.buf, <size_t>nch, <size_t>frames, dst)
        if out is not None:
            PyBuffer_Release(&oview)
        return res
    finally:
        PyBuffer_Release(&view)


def sum_squares(data):
    """The sum of the squares of the int16 LE samples (see ``_audio_py.sum_squares``)."""
    cdef Py_buffer view
    cdef uint64_t acc
    _acquire(data, &view, K_I16, 2, "data")
    try:
        if view.len % 2:
            raise AudioFormatError(
                f"data holds {view.len} bytes: int16 PCM needs an even byte count"
            )
        acc = sw_sum_squares_i16(<const uint8_t *>view.buf, <size_t>(view.len // 2))
        return acc
    finally:
        PyBuffer_Release(&view)


def telephony_to_pcm(data, encoding="mulaw", *, channels=None, out=None):
    """G.711 codes (one interleaved buffer or one per channel) to interleaved int16 LE PCM.

    See ``_audio_py.telephony_to_pcm``.
    """
    cdef const int16_t *table
    if encoding == "mulaw" or encoding in _MULAW:
        table = sw_ulaw_table
    elif encoding in _ALAW:
        table = sw_alaw_table
    else:
        raise AudioFormatError(
            f"encoding must be 'mulaw' (or 'ulaw', 'pcm_mulaw') or 'alaw' ('pcm_alaw'), "
            f"not {encoding!r}"
        )
    cdef Py_ssize_t nch, nb, total
    cdef Py_buffer oview
    cdef uint8_t *dst
    cdef _Chans chans
    if isinstance(data, (list, tuple)):
        nch = len(data)
        if channels is not None and _check_channels(channels) != nch:
            raise AudioFormatError(f"{nch} channel buffers given, channels={channels}")
        if nch == 0:
            raise AudioFormatError("telephony_to_pcm needs at least one channel buffer")
        chans.held = 0
        chans.views = NULL
        try:
            nb = _chans_take(&chans, data, nch, K_BYTES, 1, "data")
            total = 2 * nb * nch
            res = _dest(out, &oview, total, &dst)
            if total >= _GIL_NBYTES:
                with nogil:
                    sw_g711_decode_interleave(table, chans.ptrs, <size_t>nch, <size_t>nb, dst)
            else:
                sw_g711_decode_interleave(table, chans.ptrs, <size_t>nch, <size_t>nb, dst)
            if out is not None:
                PyBuffer_Release(&oview)
            return res
        finally:
            _chans_release(&chans)
    nch = 1 if channels is None else _check_channels(channels)
    return _unary(data, out, sw_ulaw_decode if table == <const int16_t *>sw_ulaw_table
                  else sw_alaw_decode, K_BYTES, 1, 2, nch)


# --------------------------------------------------------------------------- resampling engine

cdef sw_soxr_api _soxr
cdef object _soxr_state = None  # None: not tried yet; "": bound; else why it is unavailable
_RECIPES = {"QQ": SW_SOXR_QQ, "LQ": SW_SOXR_LQ, "MQ": SW_SOXR_MQ, "HQ": SW_SOXR_HQ,
            "VHQ": SW_SOXR_VHQ}

#: The python-soxr engine, used when libsoxr cannot be bound directly.
SoxrStream = _audio_py.SoxrStream


def _bind_soxr():
    """Bind libsoxr from python-soxr's extension module, once; "" or the reason it failed."""
    global _soxr_state
    if _soxr_state is None:
        try:
            from soxr import soxr_ext
            path = os.fsencode(soxr_ext.__file__)
        except (ImportError, AttributeError, TypeError) as exc:
            _soxr_state = f"python-soxr's extension module not found ({exc})"
            return _soxr_state
        err = sw_soxr_load(path, &_soxr)
        _soxr_state = "" if err == NULL else (<bytes>err).decode("ascii", "replace")
    return _soxr_state


cdef class _DirectSoxr:
    """libsoxr called directly (soxr_process per chunk; no numpy, no Python-level call).

    Same interface and output as ``_audio_py.SoxrStream``: soxr runs in float32 both ways,
    int16 goes through the PCM kernels, and chunks longer than ``48000 * in / out`` frames
    are split and the output sized exactly as python-soxr does.
    """
    cdef sw_soxr_t s
    cdef Py_ssize_t channels, frame_bytes, split
    cdef double ratio
    cdef bint int16
    cdef float *fin
    cdef float *fout
    cdef size_t in_cap, out_cap
    cdef readonly str dtype, engine

    def __cinit__(self, int in_rate, int out_rate, int channels, str quality, str dtype):
        cdef sw_soxr_error_t err = NULL
        cdef sw_soxr_io_spec io = _soxr.io_spec(SW_SOXR_FLOAT32_I, SW_SOXR_FLOAT32_I)
        cdef sw_soxr_quality_spec q = _soxr.quality_spec(<unsigned long>_RECIPES[quality], 0)
        self.s = _soxr.create(in_rate, out_rate, <unsigned>channels, &err, &io, &q, NULL)
        if err != NULL or self.s == NULL:
            raise AudioFormatError(f"libsoxr rejected {in_rate} -> {out_rate} Hz: "
                                   f"{(<bytes>err).decode() if err != NULL else 'no resampler'}")
        self.channels = channels
        self.int16 = dtype == "int16"
        self.dtype = dtype
        self.frame_bytes = channels * (2 if self.int16 else 4)
        self.ratio = <double>out_rate / <double>in_rate
        self.split = <Py_ssize_t>(48000.0 * in_rate / out_rate)
        if self.split < 1:
            self.split = 1
        self.engine = f"{(<bytes>_soxr.version()).decode()} (direct soxr_process)"

    def __dealloc__(self):
        if self.s != NULL:
            _soxr.destroy(self.s)
        PyMem_Free(self.fin)
        PyMem_Free(self.fout)

    cdef float *_grow(self, float **buf, size_t *cap, size_t n) except NULL:
        cdef float *p
        if n > cap[0] or buf[0] == NULL:
            p = <float *>PyMem_Malloc(n * sizeof(float) + 16)
            if p == NULL:
                raise MemoryError()
            PyMem_Free(buf[0])
            buf[0] = p
            cap[0] = n
        return buf[0]

    cdef bytes _run(self, const float *src, size_t frames, bint last):
        cdef size_t ch = <size_t>self.channels
        cdef size_t olen = <size_t>(_soxr.delay(self.s) + frames * self.ratio + 1)
        cdef float *dst = self._grow(&self.fout, &self.out_cap, olen * ch)
        cdef size_t pos = 0, done = 0, i = 0, step = <size_t>self.split, n
        cdef sw_soxr_error_t err = NULL
        cdef bint nogil_ = frames * ch * 4 >= <size_t>_GIL_NBYTES
        while i < frames:
            n = frames - i if frames - i < step else step
            if nogil_:
                with nogil:
                    err = _soxr.process(self.s, src + i * ch, n, NULL, dst + pos * ch,
                                        olen - pos, &done)
            else:
                err = _soxr.process(self.s, src + i * ch, n, NULL, dst + pos * ch, olen - pos,
                                    &done)
            pos += done
            i += step
            if err != NULL:
                break
        if last and err == NULL:
            err = _soxr.process(self.s, NULL, 0, NULL, dst + pos * ch, olen - pos, &done)
            pos += done
        if err != NULL:
            raise AudioFormatError(f"libsoxr: {(<bytes>err).decode('ascii', 'replace')}")
        cdef bytes res
        if self.int16:
            res = PyBytes_FromStringAndSize(NULL, <Py_ssize_t>(pos * ch * 2))
            sw_f32_to_i16(<const uint8_t *>dst, <uint8_t *>PyBytes_AS_STRING(res), pos * ch)
            return res
        return PyBytes_FromStringAndSize(<const char *>dst, <Py_ssize_t>(pos * ch * 4))

    def process(self, data):
        """Resample one chunk of interleaved frames; returns the frames ready so far."""
        cdef Py_buffer view
        cdef const uint8_t *src
        cdef Py_ssize_t nbytes
        cdef bint held = False
        cdef size_t samples
        if type(data) is bytes:
            src = <const uint8_t *>PyBytes_AS_STRING(data)
            nbytes = PyBytes_GET_SIZE(data)
        else:
            _acquire(data, &view, K_I16 if self.int16 else K_F32, 0, "data")
            held = True
            src = <const uint8_t *>view.buf
            nbytes = view.len
        try:
            if nbytes % self.frame_bytes:
                raise AudioFormatError(
                    f"data holds {nbytes} bytes: not a whole number of {self.channels}-channel "
                    f"{self.dtype} frames ({self.frame_bytes} bytes each)"
                )
            samples = <size_t>(nbytes // (2 if self.int16 else 4))
            if not self.int16 and (<size_t>src) % sizeof(float) == 0:
                return self._run(<const float *>src, samples // <size_t>self.channels, False)
            self._grow(&self.fin, &self.in_cap, samples)
            if self.int16:
                sw_i16_to_f32(src, <uint8_t *>self.fin, samples)
            else:  # unaligned float32: copy
                memcpy(self.fin, src, samples * sizeof(float))
            return self._run(self.fin, samples // <size_t>self.channels, False)
        finally:
            if held:
                PyBuffer_Release(&view)

    def flush(self):
        """The frames the filter still holds; the stream is then reset."""
        out = self._run(NULL, 0, True)
        _soxr.clear(self.s)
        return out

    def reset(self):
        """Drop buffered audio and start a new stream."""
        _soxr.clear(self.s)

    def delay(self):
        """Output frames the filter holds back."""
        return _soxr.delay(self.s)


def soxr_stream(int in_rate, int out_rate, int channels, str quality, str dtype):
    """A streaming soxr resampler (see ``_audio_py.soxr_stream``): libsoxr called directly
    when python-soxr's extension exports its API, else python-soxr's ``ResampleStream``
    with these kernels doing the int16 conversions. ``engine`` says which."""
    if _bind_soxr() == "":
        return _DirectSoxr(in_rate, out_rate, channels, quality, dtype)
    return SoxrStream(in_rate, out_rate, channels, quality, dtype,
                      kernels=sys.modules[__name__])
