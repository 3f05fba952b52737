package dlgemm

import "github.com/dlgemm/dlgemm/bindings/go/internal/raw"

// CastFP8PerToken casts x [M, K] (f32 or bf16) to out [M, K] e4m3 with one scale per row and
// 128-wide K block (dlg_cast_fp8_per_token): sf [M, ceil(K/128)] f32, any strides (a
// TMA-aligned MN-major view feeds the GEMMs directly). useUE8M0 rounds the scales up to powers
// of two. Scales are dequantisation multipliers: x ≈ out·sf, sf = amax/448 (1 for zeros).
func (c *Context) CastFP8PerToken(x *Tensor, useUE8M0 bool, out, sf *Tensor, stream Stream) error {
	return c.run([]*Tensor{x, out, sf}, func(h uintptr, t []uintptr) raw.Enum_SS_dlg_status {
		return raw.Dlg_cast_fp8_per_token(h, t[0], flag(useUE8M0), t[1], t[2], uintptr(stream))
	})
}

// CastFP8PerBlock casts x [M, K] to out [M, K] e4m3 with one scale per 128×128 block
// (dlg_cast_fp8_per_block): sf [ceil(M/128), ceil(K/128)] f32.
func (c *Context) CastFP8PerBlock(x *Tensor, useUE8M0 bool, out, sf *Tensor, stream Stream) error {
	return c.run([]*Tensor{x, out, sf}, func(h uintptr, t []uintptr) raw.Enum_SS_dlg_status {
		return raw.Dlg_cast_fp8_per_block(h, t[0], flag(useUE8M0), t[1], t[2], uintptr(stream))
	})
}

// CastFP8PerTensor casts x (any shape) to out (same shape) e4m3 with one scalar scale sf
// (f32, amax/448) (dlg_cast_fp8_per_tensor).
func (c *Context) CastFP8PerTensor(x, out, sf *Tensor, stream Stream) error {
	return c.run([]*Tensor{x, out, sf}, func(h uintptr, t []uintptr) raw.Enum_SS_dlg_status {
		return raw.Dlg_cast_fp8_per_tensor(h, t[0], t[1], t[2], uintptr(stream))
	})
}

// TransformSF copies scale factors sfIn [.., MN, Kb] f32 (any strides) into sfOut of the same
// shape, typically the TMA-aligned MN-major layout the GPU GEMMs read (dlg_transform_sf):
// strides (.., 1, TMAAlignedSize(MN, 4)).
func (c *Context) TransformSF(sfIn, sfOut *Tensor, stream Stream) error {
	return c.run([]*Tensor{sfIn, sfOut}, func(h uintptr, t []uintptr) raw.Enum_SS_dlg_status {
		return raw.Dlg_transform_sf(h, t[0], t[1], uintptr(stream))
	})
}

// PackUE8M0 rounds f32 scales up to powers of two and packs their biased exponents four per
// int32 word (dlg_pack_ue8m0): sf [.., MN, Kb] -> packed [.., MN, ceil(Kb/4)], byte j of word
// w = column 4w+j (zero past Kb).
func (c *Context) PackUE8M0(sf, packed *Tensor, stream Stream) error {
	return c.run([]*Tensor{sf, packed}, func(h uintptr, t []uintptr) raw.Enum_SS_dlg_status {
		return raw.Dlg_pack_ue8m0(h, t[0], t[1], uintptr(stream))
	})
}
