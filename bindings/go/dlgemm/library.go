package dlgemm

import "github.com/dlgemm/dlgemm/bindings/go/internal/raw"

// Version is the version number of the C library linked in: major·10000 + minor·100 + patch
// (dlg_version).
func Version() int { return raw.Dlg_version() }

// VersionString is the "MAJOR.MINOR.PATCH" version of the C library linked in
// (dlg_version_string).
func VersionString() string { return raw.Dlg_version_string() }

// HeaderVersion is the version number of the headers this package was generated from
// (DLG_VERSION_NUMBER); it equals Version unless the library and the headers disagree.
func HeaderVersion() int { return raw.DLG_VERSION_NUMBER }

// TMAAlignedSize is the number of elements of elemSize bytes needed so that mn of them end on
// a 16-byte boundary (the TMA stride rule; dlg_tma_aligned_size).
func TMAAlignedSize(mn, elemSize int64) int64 { return raw.Dlg_tma_aligned_size(mn, elemSize) }

// MKAlignmentForContiguousLayout is the row alignment of each group's segment in the
// M-grouped contiguous layout on the GPU (dlg_mk_alignment_for_contiguous_layout).
func MKAlignmentForContiguousLayout() int { return raw.Dlg_mk_alignment_for_contiguous_layout() }

// MQALogitsRowStride is the recommended row stride (elements) of a logits buffer of seqLenKV
// columns (dlg_mqa_logits_row_stride).
func MQALogitsRowStride(seqLenKV int64) int64 { return raw.Dlg_mqa_logits_row_stride(seqLenKV) }

// PagedMQALogitsMetadataRows is the number of rows of the schedule tensor for numSMs SMs
// (dlg_paged_mqa_logits_metadata_rows).
func PagedMQALogitsMetadataRows(numSMs int) int64 {
	return raw.Dlg_paged_mqa_logits_metadata_rows(numSMs)
}
