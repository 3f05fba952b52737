package dlgemm

import "github.com/dlgemm/dlgemm/bindings/go/internal/raw"

func flag(b bool) int {
	if b {
		return 1
	}
	return 0
}

// MQALogits computes the non-paged MQA logits of the sparse-attention indexer
// (dlg_mqa_logits): logits[i, j] = Σ_h relu((q[i, h, :]·kv[j, :])·kvScale[j])·weights[i, h]
// for j in [ks[i], ke[i]) ∩ [0, S_kv); outside that range -inf when cleanLogits, untouched
// otherwise. q [S, H, D] e4m3, kv [S_kv, D] e4m3, kvScale [S_kv] f32, weights [S, H] f32,
// ks/ke int32 [S], logits [S, S_kv] f32 or bf16 (row stride >= S_kv: see MQALogitsRowStride).
func (c *Context) MQALogits(q, kv, kvScale, weights, ks, ke *Tensor, cleanLogits bool,
	logits *Tensor, stream Stream) error {
	return c.run([]*Tensor{q, kv, kvScale, weights, ks, ke, logits}, func(h uintptr, t []uintptr) raw.Enum_SS_dlg_status {
		return raw.Dlg_mqa_logits(h, t[0], t[1], t[2], t[3], t[4], t[5], flag(cleanLogits), t[6],
			uintptr(stream))
	})
}

// MQALogitsCompressed is MQALogits with a compressed output (dlg_mqa_logits_compressed,
// DeepGEMM's max_seqlen_k): logits [S, W], column c of row i holds key ks[i] + c (ks/ke clamped
// to [0, S_kv]); columns past the row's window are -inf when cleanLogits, untouched otherwise.
func (c *Context) MQALogitsCompressed(q, kv, kvScale, weights, ks, ke *Tensor, cleanLogits bool,
	logits *Tensor, stream Stream) error {
	return c.run([]*Tensor{q, kv, kvScale, weights, ks, ke, logits}, func(h uintptr, t []uintptr) raw.Enum_SS_dlg_status {
		return raw.Dlg_mqa_logits_compressed(h, t[0], t[1], t[2], t[3], t[4], t[5],
			flag(cleanLogits), t[6], uintptr(stream))
	})
}

// PagedMQALogitsMetadata computes the schedule of the paged kernel
// (dlg_paged_mqa_logits_metadata): contextLens int32 [B] or [B, next_n], scheduleMeta int32
// [PagedMQALogitsMetadataRows(numSMs), 2]; numSMs 0 = the context's SM count (a CPU context
// needs an explicit count).
func (c *Context) PagedMQALogitsMetadata(contextLens *Tensor, blockKV, numSMs int,
	scheduleMeta *Tensor, stream Stream) error {
	return c.run([]*Tensor{contextLens, scheduleMeta}, func(h uintptr, t []uintptr) raw.Enum_SS_dlg_status {
		return raw.Dlg_paged_mqa_logits_metadata(h, t[0], blockKV, numSMs, t[1], uintptr(stream))
	})
}

// PagedMQALogits computes the paged (decode) MQA logits (dlg_paged_mqa_logits). q [B, next_n,
// H, D] e4m3; kvCache uint8 [num_blocks, block_kv, 1, D+4] (per block: block_kv·D FP8 bytes,
// then block_kv FP32 scales); weights [B·next_n, H] f32; contextLens int32 [B, next_n] or [B];
// blockTable int32 [B, max_blocks]; scheduleMeta from PagedMQALogitsMetadata (nil allowed on
// the CPU); logits [B·next_n, max_context_len] f32 or bf16.
func (c *Context) PagedMQALogits(q, kvCache, weights, contextLens, blockTable, scheduleMeta *Tensor,
	cleanLogits bool, logits *Tensor, stream Stream) error {
	return c.run([]*Tensor{q, kvCache, weights, contextLens, blockTable, scheduleMeta, logits},
		func(h uintptr, t []uintptr) raw.Enum_SS_dlg_status {
			return raw.Dlg_paged_mqa_logits(h, t[0], t[1], t[2], t[3], t[4], t[5],
				flag(cleanLogits), t[6], uintptr(stream))
		})
}

// CleanLogits writes -inf outside each row's valid range (dlg_clean_logits): logits [R, L]
// f32 or bf16, ks int32 [R] or nil (= 0), ke int32 [R]; row r is valid on [ks[r], ke[r]).
func (c *Context) CleanLogits(ks, ke, logits *Tensor, stream Stream) error {
	return c.run([]*Tensor{ks, ke, logits}, func(h uintptr, t []uintptr) raw.Enum_SS_dlg_status {
		return raw.Dlg_clean_logits(h, t[0], t[1], t[2], uintptr(stream))
	})
}
