/* Op dispatch: case attrs and tensors -> one dlgemm entry point. */
#include <stdio.h>
#include <string.h>
#include "conf.h"

static const struct { const char* name; int query; } kOps[] = {
    {"gemm", 0},
    {"m_grouped_gemm_contiguous", 0},
    {"m_grouped_gemm_masked", 0},
    {"k_grouped_gemm_contiguous", 0},
    {"mqa_logits", 0},
    {"mqa_logits_compressed", 0},
    {"paged_mqa_logits_metadata", 0},
    {"paged_mqa_logits", 0},
    {"clean_logits", 0},
    {"cast_fp8_per_token", 0},
    {"cast_fp8_per_block", 0},
    {"cast_fp8_per_tensor", 0},
    {"transform_sf", 0},
    {"pack_ue8m0", 0},
    {"tma_aligned_size", 1},
    {"mk_alignment", 1},
    {"mqa_logits_row_stride", 1},
    {"paged_mqa_logits_metadata_rows", 1},
};

static int op_index(const char* op) {
  for (size_t i = 0; op && i < sizeof kOps / sizeof kOps[0]; ++i)
    if (!strcmp(op, kOps[i].name)) return (int)i;
  return -1;
}

int conf_op_known(const char* op) { return op_index(op) >= 0; }
int conf_op_is_query(const char* op) { int i = op_index(op); return i >= 0 && kOps[i].query; }

static int64_t attr_int(const json_value_t* kase, const char* key) {
  return (int64_t)json_get_number(json_get(kase, "attrs"), key, 0);
}

/* An enum attr given by name (from `names`, values 1..n) or as a raw integer. */
static int attr_enum(const json_value_t* kase, const char* key, const char* const* names, int n) {
  const json_value_t* v = json_get(json_get(kase, "attrs"), key);
  if (!v) return 0;
  if (v->type == JSON_NUMBER) return (int)v->number;
  for (int i = 0; v->type == JSON_STRING && i < n; ++i)
    if (!strcmp(v->string, names[i])) return i + 1;
  return -1; /* unknown name: the library must reject it */
}

static dlg_recipe_t recipe_of(const json_value_t* kase) {
  static const char* const names[] = {"FP8_1D2D", "FP8_1D1D", "FP8_PER_TENSOR", "BF16"};
  return (dlg_recipe_t)attr_enum(kase, "recipe", names, 4);
}

static dlg_group_layout_t layout_kind_of(const json_value_t* kase) {
  static const char* const names[] = {"ROW_IDS", "OFFSETS"};
  return (dlg_group_layout_t)attr_enum(kase, "layout_kind", names, 2);
}

int conf_run_query(const json_value_t* kase, int64_t* out, char* why, size_t cap) {
  const char* op = json_get_string(kase, "op");
  if (!strcmp(op, "tma_aligned_size"))
    *out = dlg_tma_aligned_size(attr_int(kase, "mn"), attr_int(kase, "elem_size"));
  else if (!strcmp(op, "mk_alignment"))
    *out = dlg_mk_alignment_for_contiguous_layout();
  else if (!strcmp(op, "mqa_logits_row_stride"))
    *out = dlg_mqa_logits_row_stride(attr_int(kase, "seq_len_kv"));
  else if (!strcmp(op, "paged_mqa_logits_metadata_rows"))
    *out = dlg_paged_mqa_logits_metadata_rows((int)attr_int(kase, "num_sms"));
  else {
    snprintf(why, cap, "not a query op: %s", op);
    return -1;
  }
  return 0;
}

dlg_status_t conf_run_op(dlg_context_t* ctx, const json_value_t* kase, conf_set_t* s,
                         const DLTensor* schedule_meta) {
  const char* op = json_get_string(kase, "op");
#define T(n) conf_arg(s, n)
  if (!strcmp(op, "gemm"))
    return dlg_gemm(ctx, recipe_of(kase), T("a"), T("sfa"), T("b"), T("sfb"), T("c"), T("d"),
                    NULL);
  if (!strcmp(op, "m_grouped_gemm_contiguous"))
    return dlg_m_grouped_gemm_contiguous(ctx, recipe_of(kase), T("a"), T("sfa"), T("b"),
                                         T("sfb"), T("grouped_layout"), layout_kind_of(kase),
                                         T("d"), NULL);
  if (!strcmp(op, "m_grouped_gemm_masked"))
    return dlg_m_grouped_gemm_masked(ctx, recipe_of(kase), T("a"), T("sfa"), T("b"), T("sfb"),
                                     T("masked_m"), (int)attr_int(kase, "expected_m"), T("d"),
                                     NULL);
  if (!strcmp(op, "k_grouped_gemm_contiguous"))
    return dlg_k_grouped_gemm_contiguous(ctx, recipe_of(kase), T("a"), T("sfa"), T("b"),
                                         T("sfb"), T("ks"), T("c"), T("d"), NULL);
  if (!strcmp(op, "mqa_logits"))
    return dlg_mqa_logits(ctx, T("q"), T("kv"), T("kv_scale"), T("weights"), T("ks"), T("ke"),
                          (int)attr_int(kase, "clean_logits"), T("logits"), NULL);
  if (!strcmp(op, "mqa_logits_compressed"))
    return dlg_mqa_logits_compressed(ctx, T("q"), T("kv"), T("kv_scale"), T("weights"), T("ks"),
                                     T("ke"), (int)attr_int(kase, "clean_logits"), T("logits"),
                                     NULL);
  if (!strcmp(op, "paged_mqa_logits_metadata"))
    return dlg_paged_mqa_logits_metadata(ctx, T("context_lens"), (int)attr_int(kase, "block_kv"),
                                         (int)attr_int(kase, "num_sms"), T("schedule_meta"),
                                         NULL);
  if (!strcmp(op, "paged_mqa_logits"))
    return dlg_paged_mqa_logits(ctx, T("q"), T("kv_cache"), T("weights"), T("context_lens"),
                                T("block_table"), schedule_meta,
                                (int)attr_int(kase, "clean_logits"), T("logits"), NULL);
  if (!strcmp(op, "clean_logits"))
    return dlg_clean_logits(ctx, T("ks"), T("ke"), T("logits"), NULL);
  if (!strcmp(op, "cast_fp8_per_token"))
    return dlg_cast_fp8_per_token(ctx, T("x"), (int)attr_int(kase, "use_ue8m0"), T("out"),
                                  T("sf"), NULL);
  if (!strcmp(op, "cast_fp8_per_block"))
    return dlg_cast_fp8_per_block(ctx, T("x"), (int)attr_int(kase, "use_ue8m0"), T("out"),
                                  T("sf"), NULL);
  if (!strcmp(op, "cast_fp8_per_tensor"))
    return dlg_cast_fp8_per_tensor(ctx, T("x"), T("out"), T("sf"), NULL);
  if (!strcmp(op, "transform_sf"))
    return dlg_transform_sf(ctx, T("sf_in"), T("sf_out"), NULL);
  if (!strcmp(op, "pack_ue8m0"))
    return dlg_pack_ue8m0(ctx, T("sf"), T("packed"), NULL);
#undef T
  return DLG_ERR_INTERNAL; /* unreachable: the runner checks conf_op_known first */
}
