/* Case tensors: parse the spec, allocate storage, fill inputs, poison outputs, mirror to a
 * device and back. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "conf.h"

static int fail(char* why, size_t cap, const char* fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(char* why, size_t cap, const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(why, cap, fmt, ap);
  va_end(ap);
  return -1;
}

int conf_dtype_from_name(const char* name, DLDataType* out) {
  static const struct { const char* name; uint8_t code, bits; } table[] = {
      {"float32", kDLFloat, 32},        {"bfloat16", kDLBfloat, 16},
      {"float8_e4m3fn", kDLFloat8_e4m3fn, 8}, {"int32", kDLInt, 32},
      {"uint8", kDLUInt, 8}};
  for (size_t i = 0; name && i < sizeof table / sizeof table[0]; ++i)
    if (!strcmp(name, table[i].name)) {
      out->code = table[i].code;
      out->bits = table[i].bits;
      out->lanes = 1;
      return 1;
    }
  return 0;
}

/* Reads an int list of at most 8 entries; returns its length or -1. */
static int read_dims(const json_value_t* v, int64_t* out) {
  if (!v || v->type != JSON_ARRAY || v->count > 8) return -1;
  for (int i = 0; i < v->count; ++i) {
    if (v->items[i].type != JSON_NUMBER) return -1;
    out[i] = (int64_t)v->items[i].number;
  }
  return v->count;
}

/* Storage span in elements, or -1 when a stride is negative or the span overflows / exceeds
 * CONF_MAX_STORAGE_ELEMS (malformed cases must not bring the runner down). */
#define CONF_MAX_STORAGE_ELEMS ((int64_t)1 << 31)
static int64_t span_elems(int ndim, const int64_t* shape, const int64_t* strides) {
  int64_t span = 1;
  for (int i = 0; i < ndim; ++i)
    if (shape[i] == 0) return 0;
  for (int i = 0; i < ndim; ++i) {
    int64_t reach;
    if (shape[i] < 0 || strides[i] < 0) return -1;
    if (__builtin_mul_overflow(shape[i] - 1, strides[i], &reach) ||
        __builtin_add_overflow(span, reach, &span) || span > CONF_MAX_STORAGE_ELEMS)
      return -1;
  }
  return span;
}

/* Row-major strides; saturates on overflow so that span_elems() rejects the shape. */
static void compact_strides(int ndim, const int64_t* shape, int64_t* strides) {
  int64_t s = 1;
  for (int i = ndim - 1; i >= 0; --i) {
    strides[i] = s;
    if (__builtin_mul_overflow(s, shape[i] > 0 ? shape[i] : 1, &s)) s = INT64_MAX;
  }
}

/* Element count, or -1 above CONF_MAX_STORAGE_ELEMS (zero strides could make it huge). */
static int64_t checked_numel(int ndim, const int64_t* shape) {
  int64_t n = 1;
  for (int i = 0; i < ndim; ++i)
    if (__builtin_mul_overflow(n, shape[i], &n) || n > CONF_MAX_STORAGE_ELEMS) return -1;
  return n;
}

static int fill_view(DLTensor* view, const json_value_t* fill, const char* what, char* why,
                     size_t cap) {
  const char* dist = json_get_string(fill, "dist");
  dlg_fill_t kind;
  if (!dist) return fail(why, cap, "%s: fill needs \"dist\"", what);
  if (!strcmp(dist, "uniform")) kind = DLG_FILL_UNIFORM;
  else if (!strcmp(dist, "normal")) kind = DLG_FILL_NORMAL;
  else if (!strcmp(dist, "int")) kind = DLG_FILL_INT;
  else return fail(why, cap, "%s: unknown fill dist '%s'", what, dist);
  uint64_t seed = (uint64_t)json_get_number(fill, "seed", 0);
  dlg_status_t st = dlg_testing_fill(view, seed, kind, json_get_number(fill, "lo", 0),
                                     json_get_number(fill, "hi", 1));
  if (st != DLG_OK)
    return fail(why, cap, "%s: dlg_testing_fill -> %s: %s", what, dlg_status_name(st),
                dlg_last_error());
  return 0;
}

static int set_values(conf_tensor_t* t, const json_value_t* values, char* why, size_t cap) {
  int64_t n = conf_numel(t);
  if (values->type != JSON_ARRAY || values->count != n)
    return fail(why, cap, "tensor %s: \"values\" needs %lld entries", t->name, (long long)n);
  if (t->has_strides)
    return fail(why, cap, "tensor %s: \"values\" needs a compact tensor", t->name);
  for (int64_t i = 0; i < n; ++i) {
    double v = values->items[i].number;
    DLDataType dt = t->h.dtype;
    if (dt.code == kDLInt && dt.bits == 32) ((int32_t*)t->host)[i] = (int32_t)v;
    else if (dt.code == kDLUInt && dt.bits == 8) ((uint8_t*)t->host)[i] = (uint8_t)v;
    else if (dt.code == kDLFloat && dt.bits == 32) ((float*)t->host)[i] = (float)v;
    else return fail(why, cap, "tensor %s: \"values\" only for int32, uint8, float32", t->name);
  }
  return 0;
}

/* Typed views into the storage, each filled on its own (paged KV cache, packed words). */
static int fill_parts(conf_tensor_t* t, const json_value_t* parts, char* why, size_t cap) {
  if (parts->type != JSON_ARRAY)
    return fail(why, cap, "tensor %s: \"parts\" must be a list", t->name);
  for (int i = 0; i < parts->count; ++i) {
    const json_value_t* p = &parts->items[i];
    int64_t shape[8], strides[8];
    DLTensor view;
    memset(&view, 0, sizeof view);
    int ndim = read_dims(json_get(p, "shape"), shape);
    if (ndim < 0 || !conf_dtype_from_name(json_get_string(p, "dtype"), &view.dtype))
      return fail(why, cap, "tensor %s part %d: bad dtype or shape", t->name, i);
    if (json_get(p, "strides")) {
      if (read_dims(json_get(p, "strides"), strides) != ndim)
        return fail(why, cap, "tensor %s part %d: strides rank differs from shape", t->name, i);
    } else {
      compact_strides(ndim, shape, strides);
    }
    int64_t offset = (int64_t)json_get_number(p, "byte_offset", 0);
    int64_t span = checked_numel(ndim, shape) < 0 ? -1 : span_elems(ndim, shape, strides);
    int64_t end = offset + span * (view.dtype.bits / 8);
    if (span < 0 || offset < 0 || offset > (int64_t)t->bytes || end > (int64_t)t->bytes)
      return fail(why, cap, "tensor %s part %d: outside the storage", t->name, i);
    view.data = (char*)t->host + offset;
    view.device.device_type = kDLCPU;
    view.ndim = ndim;
    view.shape = shape;
    view.strides = strides;
    char what[64];
    snprintf(what, sizeof what, "tensor %s part %d", t->name, i);
    if (fill_view(&view, json_get(p, "fill"), what, why, cap)) return -1;
  }
  return 0;
}

static int build_one(dlg_context_t* cpu, conf_tensor_t* t, const json_value_t* spec, char* why,
                     size_t cap) {
  memset(t, 0, sizeof *t);
  t->alias = -1;
  t->spec = spec;
  t->name = json_get_string(spec, "name");
  if (!t->name) return fail(why, cap, "a tensor without \"name\"");
  if (json_get_string(spec, "alias")) return 0; /* resolved by the caller */
  const char* role = json_get_string(spec, "role");
  if (role && !strcmp(role, "input")) t->role = ROLE_INPUT;
  else if (role && !strcmp(role, "output")) t->role = ROLE_OUTPUT;
  else if (role && !strcmp(role, "inout")) t->role = ROLE_INOUT;
  else return fail(why, cap, "tensor %s: role must be input, output or inout", t->name);
  if (!conf_dtype_from_name(json_get_string(spec, "dtype"), &t->h.dtype))
    return fail(why, cap, "tensor %s: unknown dtype", t->name);
  int ndim = read_dims(json_get(spec, "shape"), t->shape);
  if (ndim < 0) return fail(why, cap, "tensor %s: bad shape", t->name);
  for (int i = 0; i < ndim; ++i)
    if (t->shape[i] < 0) return fail(why, cap, "tensor %s: negative extent", t->name);
  if (json_get(spec, "strides")) {
    if (read_dims(json_get(spec, "strides"), t->strides) != ndim)
      return fail(why, cap, "tensor %s: strides rank differs from shape", t->name);
    t->has_strides = 1;
  } else {
    compact_strides(ndim, t->shape, t->strides);
  }
  t->elem_size = t->h.dtype.bits / 8;
  t->storage_elems = span_elems(ndim, t->shape, t->strides);
  if (t->storage_elems < 0 || checked_numel(ndim, t->shape) < 0)
    return fail(why, cap, "tensor %s: negative strides, or over 2^31 elements", t->name);
  t->bytes = (size_t)t->storage_elems * t->elem_size;
  size_t alloc = (t->bytes + 63) / 64 * 64;
  t->host = aligned_alloc(64, alloc ? alloc : 64);
  if (!t->host)
    return fail(why, cap, "tensor %s: out of host memory (%zu bytes)", t->name, t->bytes);
  memset(t->host, 0, alloc ? alloc : 64);
  t->h.data = t->host;
  t->h.device.device_type = kDLCPU;
  t->h.ndim = ndim;
  t->h.shape = t->shape;
  t->h.strides = t->has_strides ? t->strides : NULL;

  if (t->role == ROLE_OUTPUT) {
    memset(t->host, CONF_POISON, t->bytes); /* the gaps between strided rows too */
    dlg_status_t st = dlg_testing_poison(cpu, &t->h, CONF_POISON); /* exercised, same bytes */
    if (st != DLG_OK)
      return fail(why, cap, "tensor %s: dlg_testing_poison -> %s: %s", t->name,
                  dlg_status_name(st), dlg_last_error());
    return 0;
  }
  const json_value_t* fill = json_get(spec, "fill");
  const json_value_t* values = json_get(spec, "values");
  const json_value_t* parts = json_get(spec, "parts");
  if ((fill != NULL) + (values != NULL) + (parts != NULL) > 1)
    return fail(why, cap, "tensor %s: give one of fill, values, parts", t->name);
  if (fill) return fill_view(&t->h, fill, t->name, why, cap);
  if (values) return set_values(t, values, why, cap);
  if (parts) return fill_parts(t, parts, why, cap);
  return 0;
}

int conf_set_build(dlg_context_t* cpu, const json_value_t* kase, conf_set_t* set, char* why,
                   size_t cap) {
  memset(set, 0, sizeof *set);
  const json_value_t* tensors = json_get(kase, "tensors");
  if (!tensors) return 0;
  if (tensors->type != JSON_ARRAY || tensors->count > CONF_MAX_TENSORS)
    return fail(why, cap, "\"tensors\" must be a list of at most %d", CONF_MAX_TENSORS);
  for (int i = 0; i < tensors->count; ++i) {
    set->count = i + 1;
    if (build_one(cpu, &set->t[i], &tensors->items[i], why, cap)) return -1;
  }
  for (int i = 0; i < set->count; ++i) {
    const char* target = json_get_string(set->t[i].spec, "alias");
    if (!target) continue;
    for (int j = 0; j < set->count; ++j)
      if (j != i && !json_get_string(set->t[j].spec, "alias") && !strcmp(set->t[j].name, target))
        set->t[i].alias = j;
    if (set->t[i].alias < 0)
      return fail(why, cap, "tensor %s: alias '%s' names no tensor", set->t[i].name, target);
  }
  return 0;
}

int conf_set_to_device(dlg_context_t* ctx, int ordinal, int host_mirror, conf_set_t* set,
                       char* why, size_t cap) {
  for (int i = 0; i < set->count; ++i) {
    conf_tensor_t* t = &set->t[i];
    if (t->alias >= 0) continue;
    t->d = t->h;
    t->d.data = NULL;
    t->d.device.device_type = host_mirror ? kDLCPU : kDLCUDA;
    t->d.device.device_id = host_mirror ? 0 : ordinal;
    t->dev_on_host = host_mirror;
    if (t->bytes) {
      dlg_status_t st = DLG_OK;
      if (host_mirror) {
        t->dev = malloc(t->bytes);
        if (!t->dev) st = DLG_ERR_OUT_OF_MEMORY;
      } else {
        st = dlg_device_alloc(ctx, t->bytes, &t->dev);
      }
      if (st != DLG_OK)
        return fail(why, cap, "tensor %s: dlg_device_alloc(%zu) -> %s: %s", t->name, t->bytes,
                    dlg_status_name(st), dlg_last_error());
      t->d.data = t->dev;
      st = dlg_tensor_copy(ctx, &t->h, &t->d);
      if (st != DLG_OK)
        return fail(why, cap, "tensor %s: copy to device -> %s: %s", t->name,
                    dlg_status_name(st), dlg_last_error());
    }
    t->on_device = 1;
  }
  return 0;
}

int conf_set_from_device(dlg_context_t* ctx, conf_set_t* set, char* why, size_t cap) {
  for (int i = 0; i < set->count; ++i) {
    conf_tensor_t* t = &set->t[i];
    if (t->alias >= 0 || !t->on_device || t->role == ROLE_INPUT || !t->bytes) continue;
    dlg_status_t st = dlg_tensor_copy(ctx, &t->d, &t->h);
    if (st != DLG_OK)
      return fail(why, cap, "tensor %s: copy to host -> %s: %s", t->name, dlg_status_name(st),
                  dlg_last_error());
  }
  return 0;
}

void conf_set_free(dlg_context_t* ctx, conf_set_t* set) {
  for (int i = 0; i < set->count; ++i) {
    conf_tensor_t* t = &set->t[i];
    if (t->dev && t->dev_on_host) free(t->dev);
    else if (t->dev && ctx) dlg_device_free(ctx, t->dev);
    free(t->host);
    t->dev = t->host = NULL;
  }
  set->count = 0;
}

conf_tensor_t* conf_find(conf_set_t* set, const char* name) {
  for (int i = 0; i < set->count; ++i)
    if (!strcmp(set->t[i].name, name)) return &set->t[i];
  return NULL;
}

DLTensor* conf_arg(conf_set_t* set, const char* name) {
  conf_tensor_t* t = conf_find(set, name);
  if (!t) return NULL;
  if (t->alias >= 0) t = &set->t[t->alias];
  return t->on_device ? &t->d : &t->h;
}

int conf_untouched(const conf_tensor_t* t, int64_t start, int64_t end) {
  if (start < 0) start = 0;
  if (end > t->storage_elems) end = t->storage_elems;
  const unsigned char* p = (const unsigned char*)t->host;
  for (int64_t i = start * (int64_t)t->elem_size; i < end * (int64_t)t->elem_size; ++i)
    if (p[i] != CONF_POISON) return 0;
  return 1;
}

int64_t conf_numel(const conf_tensor_t* t) {
  int64_t n = 1;
  for (int i = 0; i < t->h.ndim; ++i) n *= t->shape[i];
  return n;
}

int64_t conf_storage_index(const conf_tensor_t* t, int64_t logical) {
  int64_t off = 0;
  for (int i = t->h.ndim - 1; i >= 0; --i) {
    int64_t e = t->shape[i] ? t->shape[i] : 1;
    off += (logical % e) * t->strides[i];
    logical /= e;
  }
  return off;
}

/* Independent decoders (the runner uses only the public ABI). */
static double bf16_value(uint16_t v) {
  uint32_t u = (uint32_t)v << 16;
  float f;
  memcpy(&f, &u, 4);
  return f;
}

static double e4m3_value(uint8_t v) {
  int sign = v >> 7, exp = (v >> 3) & 15, man = v & 7;
  if (exp == 15 && man == 7) return 0.0 / 0.0;
  double mag = exp == 0 ? man / 512.0 : (8 + man) * (double)(1 << exp) / 1024.0;
  return sign ? -mag : mag;
}

double conf_get(const conf_tensor_t* t, int64_t i) {
  const DLDataType dt = t->h.dtype;
  if (dt.code == kDLFloat && dt.bits == 32) return ((const float*)t->host)[i];
  if (dt.code == kDLBfloat) return bf16_value(((const uint16_t*)t->host)[i]);
  if (dt.code == kDLFloat8_e4m3fn) return e4m3_value(((const uint8_t*)t->host)[i]);
  if (dt.code == kDLInt) return ((const int32_t*)t->host)[i];
  return ((const uint8_t*)t->host)[i];
}
