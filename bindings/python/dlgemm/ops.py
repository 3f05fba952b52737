"""The operations of dlgemm: dense and grouped GEMMs, MQA logits, FP8 casts and layouts.

Every tensor argument accepts any DLPack producer (PyTorch, JAX, CuPy, NumPy >= 1.22) or a
NumPy array of an ml_dtypes dtype (``float8_e4m3fn``, ``bfloat16``). Inputs are borrowed for
the duration of the call; outputs are written in place and returned. Where an output is
``None`` it is allocated (zero-filled) with the framework of the first input (NumPy or
PyTorch; CuPy for float32/int32 outputs) — the C library itself allocates nothing.

Common keyword arguments:

``ctx``
    A :class:`~dlgemm.Context` whose device holds the tensors. Default: the process-wide
    context of the first input's device (:func:`~dlgemm.default_context`).
``stream``
    The CUDA stream to run on: an int (CUstream address), a ``torch.cuda.Stream`` or a
    ``cupy.cuda.Stream``. Default: the producer's current stream (PyTorch's or CuPy's current
    stream; the legacy default stream otherwise). Ignored for CPU tensors.

Shapes follow the C headers (``include/dlgemm/*.h``): A [M, K], B [N, K], D = C + A·Bᵀ.
Errors raise :class:`~dlgemm.Error` subclasses carrying the C message.
"""

from __future__ import annotations

import enum
from typing import Any, Optional, Tuple, Union

from . import _cabi
from ._frameworks import current_stream, device_ordinal, empty_like, shape_of, stream_handle
from .context import Context, default_context
from .errors import InvalidArgumentError, ShapeError

Tensor = Any
"""Any object with ``__dlpack__``/``__dlpack_device__``, or a NumPy array."""


class Recipe(enum.IntEnum):
    """Scale recipes (``dlg_recipe_t``); see include/dlgemm/gemm.h for the scale layouts."""

    FP8_1D2D = _cabi.DLG_RECIPE_FP8_1D2D
    FP8_1D1D = _cabi.DLG_RECIPE_FP8_1D1D
    FP8_PER_TENSOR = _cabi.DLG_RECIPE_FP8_PER_TENSOR
    BF16 = _cabi.DLG_RECIPE_BF16

    @property
    def c_name(self) -> str:
        """The library's name of the recipe."""
        return _cabi.dlg_recipe_name(int(self))


class GroupLayout(enum.IntEnum):
    """How the rows of the M-grouped contiguous layout map to groups."""

    ROW_IDS = _cabi.DLG_GROUP_LAYOUT_ROW_IDS  #: int32 [M]: group of each row, -1 = padding
    OFFSETS = _cabi.DLG_GROUP_LAYOUT_OFFSETS  #: int32 [G + 1]: row offsets of the groups


RecipeLike = Union[Recipe, int, str]

_RECIPE_NAMES = {
    "fp8_1d2d": Recipe.FP8_1D2D, "1d2d": Recipe.FP8_1D2D,
    "fp8_1d1d": Recipe.FP8_1D1D, "1d1d": Recipe.FP8_1D1D,
    "fp8_per_tensor": Recipe.FP8_PER_TENSOR, "per_tensor": Recipe.FP8_PER_TENSOR,
    "bf16": Recipe.BF16, "bfloat16": Recipe.BF16,
}
_LAYOUT_NAMES = {"row_ids": GroupLayout.ROW_IDS, "offsets": GroupLayout.OFFSETS}
# Output dtypes the ops write: name -> DLPack (code, bits).
_OUT_DTYPES = {"bfloat16": (4, 16), "float32": (2, 32)}
_DTYPE_ALIASES = {"bf16": "bfloat16", "f32": "float32", "fp32": "float32", "float": "float32"}


def _recipe(recipe: RecipeLike) -> int:
    if isinstance(recipe, str):
        try:
            return int(_RECIPE_NAMES[recipe.lower()])
        except KeyError:
            raise InvalidArgumentError(
                f"recipe: unknown recipe {recipe!r}; expected one of {sorted(_RECIPE_NAMES)}") from None
    if isinstance(recipe, int) and not isinstance(recipe, bool):
        return int(recipe)  # out-of-range values are reported by the library
    raise InvalidArgumentError(
        f"recipe: expected a Recipe, an int or a name, got {type(recipe).__name__}")


def _layout(layout: Union[GroupLayout, int, str]) -> int:
    if isinstance(layout, str):
        try:
            return int(_LAYOUT_NAMES[layout.lower()])
        except KeyError:
            raise InvalidArgumentError(
                f"layout: unknown group layout {layout!r}; expected 'row_ids' or 'offsets'") from None
    return int(layout)


def _out_dtype(dtype: Any) -> str:
    """'bfloat16' / 'float32' from a name, a NumPy/ml_dtypes dtype or a torch dtype."""
    if isinstance(dtype, type):  # np.float32, ml_dtypes.bfloat16
        name = dtype.__name__
    elif isinstance(getattr(dtype, "name", None), str):  # np.dtype
        name = dtype.name
    else:  # "float32", torch.bfloat16 ("torch.bfloat16")
        name = str(dtype).rsplit(".", 1)[-1]
    name = name.lower()
    name = _DTYPE_ALIASES.get(name, name)
    if name not in _OUT_DTYPES:
        raise InvalidArgumentError(f"d_dtype: expected bfloat16 or float32, got {dtype!r}")
    return name


def _setup(ctx: Optional[Context], primary: Tensor, stream: Any) -> Tuple[Any, Optional[int]]:
    """The raw context and stream of one call (see the module docstring for the defaults)."""
    if ctx is None:
        ctx = default_context(device_ordinal(primary))
    handle = ctx.handle
    if stream is not None:
        return handle, stream_handle(stream)
    if ctx._device < 0:
        return handle, None
    return handle, current_stream(primary)


# -- dense GEMM ------------------------------------------------------------------------------

def gemm(a: Tensor, b: Tensor, d: Optional[Tensor] = None, *, recipe: RecipeLike,
         sfa: Optional[Tensor] = None, sfb: Optional[Tensor] = None, c: Optional[Tensor] = None,
         d_dtype: Any = None, ctx: Optional[Context] = None, stream: Any = None) -> Tensor:
    """D = C + A·Bᵀ with A [M, K], B [N, K], D [M, N]; returns ``d``.

    Layouts come from strides (A K-major or M-major, B K-major or N-major). ``sfa``/``sfb`` are
    the scale tensors of the recipe (None for BF16; scalars or None for FP8_PER_TENSOR). ``c``
    (optional, may be ``d`` itself) is accumulated. ``d=None`` allocates a [M, N] tensor of
    ``d_dtype`` (default bfloat16; float32 for FP8_1D1D)."""
    r = _recipe(recipe)
    if d is None:
        if d_dtype is None:
            d_dtype = "float32" if r == Recipe.FP8_1D1D else "bfloat16"
        d = empty_like(a, (shape_of(a, "a")[0], shape_of(b, "b")[0]), _out_dtype(d_dtype), "d")
    h, s = _setup(ctx, a, stream)
    _cabi.dlg_gemm(h, r, a, sfa, b, sfb, c, d, s)
    return d


def warmup_gemm(m: int, n: int, k: int, *, recipe: RecipeLike, d_dtype: Any = "bfloat16",
                ctx: Optional[Context] = None) -> None:
    """Compiles (or loads from the disk cache) the kernel :func:`gemm` would launch for this
    problem on ``ctx``'s device (default: CUDA device 0). A no-op on a CPU context; raises
    UnsupportedError when no GPU kernel covers the problem."""
    code, bits = _OUT_DTYPES[_out_dtype(d_dtype)]
    ctx = ctx if ctx is not None else default_context(0)
    _cabi.dlg_warmup_gemm(ctx.handle, _recipe(recipe), int(m), int(n), int(k), code, bits)


# -- MoE grouped GEMMs -----------------------------------------------------------------------

def m_grouped_gemm_contiguous(a: Tensor, b: Tensor, grouped_layout: Tensor,
                              d: Optional[Tensor] = None, *, recipe: RecipeLike,
                              sfa: Optional[Tensor] = None, sfb: Optional[Tensor] = None,
                              layout: Union[GroupLayout, int, str] = GroupLayout.ROW_IDS,
                              ctx: Optional[Context] = None, stream: Any = None) -> Tensor:
    """MoE prefill: row r of group g gets D[r] = A[r]·B[g]ᵀ. a [M, K], b [G, N, K], d [M, N]
    bf16. ``grouped_layout`` is int32 [M] group ids (-1 = padding row, untouched) with
    ``layout="row_ids"``, or int32 [G + 1] row offsets with ``layout="offsets"``."""
    if d is None:
        d = empty_like(a, (shape_of(a, "a")[0], shape_of(b, "b")[1]), "bfloat16", "d")
    h, s = _setup(ctx, a, stream)
    _cabi.dlg_m_grouped_gemm_contiguous(h, _recipe(recipe), a, sfa, b, sfb, grouped_layout,
                                        _layout(layout), d, s)
    return d


def m_grouped_gemm_masked(a: Tensor, b: Tensor, masked_m: Tensor, d: Optional[Tensor] = None,
                          *, expected_m: int, recipe: RecipeLike, sfa: Optional[Tensor] = None,
                          sfb: Optional[Tensor] = None, ctx: Optional[Context] = None,
                          stream: Any = None) -> Tensor:
    """MoE decode: D[g, r] = A[g, r]·B[g]ᵀ for r < masked_m[g] (other rows untouched).
    a [G, max_m, K], b [G, N, K], masked_m int32 [G], d [G, max_m, N] bf16; ``expected_m`` is
    the typical rows per group (a tuning hint, > 0)."""
    if d is None:
        g, max_m = shape_of(a, "a")[:2]
        d = empty_like(a, (g, max_m, shape_of(b, "b")[1]), "bfloat16", "d")
    h, s = _setup(ctx, a, stream)
    _cabi.dlg_m_grouped_gemm_masked(h, _recipe(recipe), a, sfa, b, sfb, masked_m,
                                    int(expected_m), d, s)
    return d


def k_grouped_gemm_contiguous(a: Tensor, b: Tensor, ks: Tensor, d: Optional[Tensor] = None, *,
                              recipe: RecipeLike, sfa: Optional[Tensor] = None,
                              sfb: Optional[Tensor] = None, c: Optional[Tensor] = None,
                              ctx: Optional[Context] = None, stream: Any = None) -> Tensor:
    """MoE weight gradients: K is split in G segments of ks[g] columns (multiples of 128);
    D[g] = C[g] + A[:, seg g]·B[:, seg g]ᵀ. a [M, ΣK], b [N, ΣK], ks int32 [G], d [G, M, N]
    f32 (``c`` optional, may be ``d``)."""
    if d is None:
        d = empty_like(a, (shape_of(ks, "ks")[0], shape_of(a, "a")[0], shape_of(b, "b")[0]),
                       "float32", "d")
    h, s = _setup(ctx, a, stream)
    _cabi.dlg_k_grouped_gemm_contiguous(h, _recipe(recipe), a, sfa, b, sfb, ks, c, d, s)
    return d


def mk_alignment_for_contiguous_layout() -> int:
    """Row alignment of each group's segment in the contiguous layout on the GPU (128)."""
    return _cabi.dlg_mk_alignment_for_contiguous_layout()


# -- MQA logits ------------------------------------------------------------------------------

def mqa_logits(q: Tensor, kv: Tensor, kv_scale: Tensor, weights: Tensor, ks: Tensor, ke: Tensor,
               logits: Optional[Tensor] = None, *, clean_logits: bool = True,
               ctx: Optional[Context] = None, stream: Any = None) -> Tensor:
    """logits[i, j] = Σ_h relu((q[i, h]·kv[j])·kv_scale[j])·weights[i, h] for j in
    [ks[i], ke[i]); -inf elsewhere when ``clean_logits``. q [S, H, D] e4m3, kv [S_kv, D] e4m3,
    kv_scale [S_kv] f32, weights [S, H] f32, ks/ke int32 [S], logits [S, S_kv] f32 or bf16
    (row stride may be padded: see :func:`mqa_logits_row_stride`)."""
    if logits is None:
        logits = empty_like(q, (shape_of(q, "q")[0], shape_of(kv, "kv")[0]), "float32", "logits")
    h, s = _setup(ctx, q, stream)
    _cabi.dlg_mqa_logits(h, q, kv, kv_scale, weights, ks, ke, 1 if clean_logits else 0, logits, s)
    return logits


def mqa_logits_compressed(q: Tensor, kv: Tensor, kv_scale: Tensor, weights: Tensor, ks: Tensor,
                          ke: Tensor, max_seqlen_k: Optional[int] = None,
                          logits: Optional[Tensor] = None, *, clean_logits: bool = True,
                          ctx: Optional[Context] = None, stream: Any = None) -> Tensor:
    """:func:`mqa_logits` with a compressed output (DeepGEMM's ``max_seqlen_k``): logits
    [S, W] (W = ``max_seqlen_k`` when allocated here), column c of row i holds key ks[i] + c
    (ks/ke clamped to [0, S_kv]); columns past the row's window are -inf when ``clean_logits``."""
    if logits is None:
        if max_seqlen_k is None:
            raise ValueError("mqa_logits_compressed: pass max_seqlen_k or a logits tensor")
        logits = empty_like(q, (shape_of(q, "q")[0], int(max_seqlen_k)), "float32", "logits")
    h, s = _setup(ctx, q, stream)
    _cabi.dlg_mqa_logits_compressed(h, q, kv, kv_scale, weights, ks, ke,
                                    1 if clean_logits else 0, logits, s)
    return logits


def mqa_logits_row_stride(seq_len_kv: int) -> int:
    """Row stride (elements) the GPU kernels write best for ``seq_len_kv`` logit columns."""
    return _cabi.dlg_mqa_logits_row_stride(int(seq_len_kv))


def paged_mqa_logits_metadata_rows(num_sms: int) -> int:
    """Rows of the schedule_meta tensor for ``num_sms`` SMs (num_sms + 1)."""
    return _cabi.dlg_paged_mqa_logits_metadata_rows(int(num_sms))


def paged_mqa_logits_metadata(context_lens: Tensor, block_kv: int,
                              schedule_meta: Optional[Tensor] = None, *, num_sms: int = 0,
                              ctx: Optional[Context] = None, stream: Any = None) -> Tensor:
    """Schedule for :func:`paged_mqa_logits`: splits the KV blocks of all rows evenly over
    ``num_sms`` SMs (0 = the context's SM count; CPU contexts need an explicit count).
    schedule_meta is int32 [num_sms + 1, 2]."""
    if schedule_meta is None:
        sms = int(num_sms)
        if sms == 0:
            c = ctx if ctx is not None else default_context(device_ordinal(context_lens))
            if c._device >= 0:
                sms = c.device_info().num_sms
                if c.max_sms:
                    sms = min(sms, c.max_sms)
        rows = paged_mqa_logits_metadata_rows(sms)
        schedule_meta = empty_like(context_lens, (max(rows, 1), 2), "int32", "schedule_meta")
    h, s = _setup(ctx, context_lens, stream)
    _cabi.dlg_paged_mqa_logits_metadata(h, context_lens, int(block_kv), int(num_sms),
                                        schedule_meta, s)
    return schedule_meta


def paged_mqa_logits(q: Tensor, kv_cache: Tensor, weights: Tensor, context_lens: Tensor,
                     block_table: Tensor, logits: Optional[Tensor] = None, *,
                     schedule_meta: Optional[Tensor] = None, clean_logits: bool = True,
                     max_context_len: Optional[int] = None, ctx: Optional[Context] = None,
                     stream: Any = None) -> Tensor:
    """Paged (decode) MQA logits. q [B, next_n, H, D] e4m3; kv_cache uint8
    [num_blocks, block_kv, 1, D + 4] (per block: block_kv·D FP8 bytes, then block_kv f32
    scales); weights [B·next_n, H] f32; context_lens int32 [B, next_n] or [B]; block_table
    int32 [B, max_blocks]; schedule_meta from :func:`paged_mqa_logits_metadata` (optional on
    the CPU); logits [B·next_n, max_context_len] f32 or bf16 (``logits=None`` allocates with
    max_context_len = max_blocks · block_kv unless given)."""
    if logits is None:
        b, next_n = shape_of(q, "q")[:2]
        if max_context_len is None:
            max_blocks = shape_of(block_table, "block_table")[1]
            max_context_len = max_blocks * shape_of(kv_cache, "kv_cache")[1]
        logits = empty_like(q, (b * next_n, max_context_len), "float32", "logits")
    h, s = _setup(ctx, q, stream)
    _cabi.dlg_paged_mqa_logits(h, q, kv_cache, weights, context_lens, block_table, schedule_meta,
                               1 if clean_logits else 0, logits, s)
    return logits


def clean_logits(logits: Tensor, ke: Tensor, ks: Optional[Tensor] = None, *,
                 ctx: Optional[Context] = None, stream: Any = None) -> Tensor:
    """Writes -inf outside [ks[r], ke[r]) of each row r of logits [R, L] (f32 or bf16);
    ks None means 0. Returns ``logits``."""
    h, s = _setup(ctx, logits, stream)
    _cabi.dlg_clean_logits(h, ks, ke, logits, s)
    return logits


# -- FP8 casts and scale-factor layouts ------------------------------------------------------

def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def _matrix_shape(x: Tensor) -> Tuple[int, int]:
    shape = shape_of(x, "x")
    if len(shape) != 2:
        raise ShapeError(f"x: expected a matrix [M, K], got shape {shape}")
    return shape[0], shape[1]


def _cast_outputs(x: Tensor, out: Optional[Tensor], sf: Optional[Tensor], sf_shape: Tuple[int, ...]):
    if out is None:
        out = empty_like(x, shape_of(x, "x"), "float8_e4m3fn", "out")
    if sf is None:
        sf = empty_like(x, sf_shape, "float32", "sf")
    return out, sf


def cast_fp8_per_token(x: Tensor, out: Optional[Tensor] = None, sf: Optional[Tensor] = None, *,
                       use_ue8m0: bool = False, ctx: Optional[Context] = None,
                       stream: Any = None) -> Tuple[Tensor, Tensor]:
    """Per-token (1×128) cast: x [M, K] f32/bf16 -> (out [M, K] e4m3, sf [M, ceil(K/128)] f32);
    ``use_ue8m0`` rounds scales up to powers of two. Returns (out, sf)."""
    if out is None or sf is None:
        m, k = _matrix_shape(x)
        out, sf = _cast_outputs(x, out, sf, (m, _ceil_div(k, 128)))
    h, s = _setup(ctx, x, stream)
    _cabi.dlg_cast_fp8_per_token(h, x, 1 if use_ue8m0 else 0, out, sf, s)
    return out, sf


def cast_fp8_per_block(x: Tensor, out: Optional[Tensor] = None, sf: Optional[Tensor] = None, *,
                       use_ue8m0: bool = False, ctx: Optional[Context] = None,
                       stream: Any = None) -> Tuple[Tensor, Tensor]:
    """Per-block (128×128) cast: x [M, K] -> (out [M, K] e4m3, sf [ceil(M/128), ceil(K/128)]
    f32). Returns (out, sf)."""
    if out is None or sf is None:
        m, k = _matrix_shape(x)
        out, sf = _cast_outputs(x, out, sf, (_ceil_div(m, 128), _ceil_div(k, 128)))
    h, s = _setup(ctx, x, stream)
    _cabi.dlg_cast_fp8_per_block(h, x, 1 if use_ue8m0 else 0, out, sf, s)
    return out, sf


def cast_fp8_per_tensor(x: Tensor, out: Optional[Tensor] = None, sf: Optional[Tensor] = None, *,
                        ctx: Optional[Context] = None, stream: Any = None) -> Tuple[Tensor, Tensor]:
    """Per-tensor cast: x (any shape) -> (out e4m3 of the same shape, sf scalar f32 =
    amax / 448). ``sf=None`` allocates a 0-d tensor. Returns (out, sf)."""
    out, sf = _cast_outputs(x, out, sf, ())
    h, s = _setup(ctx, x, stream)
    _cabi.dlg_cast_fp8_per_tensor(h, x, out, sf, s)
    return out, sf


def tma_aligned_size(mn: int, elem_size: int) -> int:
    """Elements of ``elem_size`` bytes so that ``mn`` of them end on a 16-byte boundary."""
    return _cabi.dlg_tma_aligned_size(int(mn), int(elem_size))


def _tma_aligned_like(ref: Tensor, shape: Tuple[int, ...]) -> Tensor:
    """An f32 tensor of ``shape`` [.., MN, Kb] in the TMA-aligned MN-major layout: stride(-2)
    = 1, stride(-1) = tma_aligned_size(MN, 4) (a transposed view of a padded buffer)."""
    *batch, mn, kb = shape
    padded = tma_aligned_size(mn, 4)
    buf = empty_like(ref, (*batch, kb, padded), "float32", "sf_out")
    view = buf[..., :mn]
    nd = len(shape)
    perm = tuple(range(nd - 2)) + (nd - 1, nd - 2)
    if hasattr(view, "permute"):  # torch
        return view.permute(*perm)
    return view.transpose(perm)


def transform_sf(sf_in: Tensor, sf_out: Optional[Tensor] = None, *, ctx: Optional[Context] = None,
                 stream: Any = None) -> Tensor:
    """Copies f32 scales sf_in [.., MN, Kb] (any strides) into sf_out of the same shape —
    ``sf_out=None`` allocates the TMA-aligned MN-major layout the GPU GEMMs read. Returns
    sf_out."""
    if sf_out is None:
        sf_out = _tma_aligned_like(sf_in, shape_of(sf_in, "sf_in"))
    h, s = _setup(ctx, sf_in, stream)
    _cabi.dlg_transform_sf(h, sf_in, sf_out, s)
    return sf_out


def pack_ue8m0(sf: Tensor, packed: Optional[Tensor] = None, *, ctx: Optional[Context] = None,
               stream: Any = None) -> Tensor:
    """Rounds f32 scales sf [.., MN, Kb] up to powers of two and packs four biased exponents
    per int32: packed [.., MN, ceil(Kb/4)] (byte j of word w = column 4w+j). Returns packed."""
    if packed is None:
        shape = shape_of(sf, "sf")
        if not shape:
            raise ShapeError(f"sf: expected [.., MN, Kb], got shape {shape}")
        packed = empty_like(sf, shape[:-1] + (_ceil_div(shape[-1], 4),), "int32", "packed")
    h, s = _setup(ctx, sf, stream)
    _cabi.dlg_pack_ue8m0(h, sf, packed, s)
    return packed


FP8_E4M3_MAX: float = _cabi.DLG_FP8_E4M3_MAX
"""Largest finite float8_e4m3fn (448)."""
