package main

// Op dispatch: case attrs and tensors -> one method of the Go binding.

import (
	"fmt"

	"github.com/dlgemm/dlgemm/bindings/go/dlgemm"
)

var queryOps = map[string]bool{"tma_aligned_size": true, "mk_alignment": true,
	"mqa_logits_row_stride": true, "paged_mqa_logits_metadata_rows": true}

var tensorOps = map[string]bool{"gemm": true, "m_grouped_gemm_contiguous": true,
	"m_grouped_gemm_masked": true, "k_grouped_gemm_contiguous": true, "mqa_logits": true,
	"mqa_logits_compressed":     true,
	"paged_mqa_logits_metadata": true, "paged_mqa_logits": true, "clean_logits": true,
	"cast_fp8_per_token": true, "cast_fp8_per_block": true, "cast_fp8_per_tensor": true,
	"transform_sf": true, "pack_ue8m0": true}

func (c *caseFile) recipe() dlgemm.Recipe {
	return dlgemm.Recipe(c.attrEnum("recipe", "FP8_1D2D", "FP8_1D1D", "FP8_PER_TENSOR", "BF16"))
}

func runQuery(c *caseFile) (int64, error) {
	switch c.Op {
	case "tma_aligned_size":
		return dlgemm.TMAAlignedSize(c.attrInt("mn"), c.attrInt("elem_size")), nil
	case "mk_alignment":
		return int64(dlgemm.MKAlignmentForContiguousLayout()), nil
	case "mqa_logits_row_stride":
		return dlgemm.MQALogitsRowStride(c.attrInt("seq_len_kv")), nil
	case "paged_mqa_logits_metadata_rows":
		return dlgemm.PagedMQALogitsMetadataRows(int(c.attrInt("num_sms"))), nil
	}
	return 0, fmt.Errorf("not a query op: %s", c.Op)
}

// runOp runs a tensor op; scheduleMeta is only used by paged_mqa_logits.
func runOp(ctx *dlgemm.Context, c *caseFile, s *caseSet, scheduleMeta *dlgemm.Tensor) error {
	T := s.arg
	flag := func(key string) bool { return c.attrInt(key) != 0 }
	switch c.Op {
	case "gemm":
		return ctx.Gemm(c.recipe(), T("a"), T("sfa"), T("b"), T("sfb"), T("c"), T("d"), 0)
	case "m_grouped_gemm_contiguous":
		return ctx.MGroupedGemmContiguous(c.recipe(), T("a"), T("sfa"), T("b"), T("sfb"),
			T("grouped_layout"), dlgemm.GroupLayout(c.attrEnum("layout_kind", "ROW_IDS", "OFFSETS")), T("d"), 0)
	case "m_grouped_gemm_masked":
		return ctx.MGroupedGemmMasked(c.recipe(), T("a"), T("sfa"), T("b"), T("sfb"), T("masked_m"),
			int(c.attrInt("expected_m")), T("d"), 0)
	case "k_grouped_gemm_contiguous":
		return ctx.KGroupedGemmContiguous(c.recipe(), T("a"), T("sfa"), T("b"), T("sfb"), T("ks"), T("c"), T("d"), 0)
	case "mqa_logits":
		return ctx.MQALogits(T("q"), T("kv"), T("kv_scale"), T("weights"), T("ks"), T("ke"),
			flag("clean_logits"), T("logits"), 0)
	case "mqa_logits_compressed":
		return ctx.MQALogitsCompressed(T("q"), T("kv"), T("kv_scale"), T("weights"), T("ks"), T("ke"),
			flag("clean_logits"), T("logits"), 0)
	case "paged_mqa_logits_metadata":
		return ctx.PagedMQALogitsMetadata(T("context_lens"), int(c.attrInt("block_kv")),
			int(c.attrInt("num_sms")), T("schedule_meta"), 0)
	case "paged_mqa_logits":
		return ctx.PagedMQALogits(T("q"), T("kv_cache"), T("weights"), T("context_lens"),
			T("block_table"), scheduleMeta, flag("clean_logits"), T("logits"), 0)
	case "clean_logits":
		return ctx.CleanLogits(T("ks"), T("ke"), T("logits"), 0)
	case "cast_fp8_per_token":
		return ctx.CastFP8PerToken(T("x"), flag("use_ue8m0"), T("out"), T("sf"), 0)
	case "cast_fp8_per_block":
		return ctx.CastFP8PerBlock(T("x"), flag("use_ue8m0"), T("out"), T("sf"), 0)
	case "cast_fp8_per_tensor":
		return ctx.CastFP8PerTensor(T("x"), T("out"), T("sf"), 0)
	case "transform_sf":
		return ctx.TransformSF(T("sf_in"), T("sf_out"), 0)
	case "pack_ue8m0":
		return ctx.PackUE8M0(T("sf"), T("packed"), 0)
	}
	return &dlgemm.Error{Status: dlgemm.StatusInternal, Message: "unknown op " + c.Op}
}
