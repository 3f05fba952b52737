/* Per-context cache of dense-GEMM launch plans (see gemm_plan_cache.h). */
#include <stdlib.h>
#include <string.h>
#include "launch/gemm_plan_cache.h"

#define PLAN_SLOTS 4096 /* a power of two; more distinct shapes than this go uncached */
#define PLAN_PROBES 32

struct dlg_gemm_plans {
  pthread_mutex_t insert_lock;           /* serializes inserts; reads never take it */
  int count;
  dlg_gemm_plan_t* slots[PLAN_SLOTS];    /* atomic pointers to immutable entries */
};

_Static_assert(sizeof(dlg_gemm_plan_key_t) % 8 == 0, "key hashed as 64-bit words");

int dlg_gemm_plan_key_init(dlg_gemm_plan_key_t* key, int launcher, int recipe, int64_t m,
                           int64_t n, int64_t k, const char* override_spec) {
  memset(key, 0, sizeof *key);
  key->launcher = launcher;
  key->recipe = recipe;
  key->m = m;
  key->n = n;
  key->k = k;
  if (override_spec) {
    size_t len = strlen(override_spec);
    if (len >= sizeof key->override_spec) return 0;
    memcpy(key->override_spec, override_spec, len);
  }
  return 1;
}

/* A word-at-a-time multiply-xorshift hash: the key is ~140 bytes, hashed on every call. */
static uint64_t key_hash(const dlg_gemm_plan_key_t* key) {
  uint64_t words[sizeof *key / 8];
  memcpy(words, key, sizeof words);
  uint64_t h = 0x9e3779b97f4a7c15ull;
  for (size_t i = 0; i < sizeof words / sizeof words[0]; ++i) {
    h = (h ^ words[i]) * 0xbf58476d1ce4e5b9ull;
    h ^= h >> 29;
  }
  return h ^ (h >> 32);
}

static struct dlg_gemm_plans* plans_of(dlg_context_t* ctx, int create) {
  struct dlg_gemm_plans* p = __atomic_load_n(&ctx->gemm_plans, __ATOMIC_ACQUIRE);
  if (p || !create) return p;
  struct dlg_gemm_plans* fresh = calloc(1, sizeof *fresh);
  if (!fresh) return NULL;
  pthread_mutex_init(&fresh->insert_lock, NULL);
  struct dlg_gemm_plans* expected = NULL;
  if (__atomic_compare_exchange_n(&ctx->gemm_plans, &expected, fresh, 0, __ATOMIC_ACQ_REL,
                                  __ATOMIC_ACQUIRE))
    return fresh;
  pthread_mutex_destroy(&fresh->insert_lock);
  free(fresh);
  return expected; /* another thread created it first */
}

static const dlg_gemm_plan_t* lookup(struct dlg_gemm_plans* p, const dlg_gemm_plan_key_t* key,
                                     uint64_t h, size_t* free_slot) {
  for (size_t i = 0; i < PLAN_PROBES; ++i) {
    const size_t slot = (h + i) & (PLAN_SLOTS - 1);
    const dlg_gemm_plan_t* e = __atomic_load_n(&p->slots[slot], __ATOMIC_ACQUIRE);
    if (!e) { /* entries are never removed: the first hole ends the probe sequence */
      if (free_slot) *free_slot = slot;
      return NULL;
    }
    if (e->hash == h && memcmp(&e->key, key, sizeof *key) == 0) return e;
  }
  if (free_slot) *free_slot = (size_t)-1;
  return NULL;
}

const dlg_gemm_plan_t* dlg_gemm_plan_find(dlg_context_t* ctx, const dlg_gemm_plan_key_t* key) {
  struct dlg_gemm_plans* p = plans_of(ctx, 0);
  return p ? lookup(p, key, key_hash(key), NULL) : NULL;
}

const dlg_gemm_plan_t* dlg_gemm_plan_insert(dlg_context_t* ctx, const dlg_gemm_plan_key_t* key,
                                            const dlg_gemm_plan_t* plan) {
  struct dlg_gemm_plans* p = plans_of(ctx, 1);
  if (!p) return NULL;
  const uint64_t h = key_hash(key);
  dlg_gemm_plan_t* e = malloc(sizeof *e);
  if (!e) return NULL;
  *e = *plan;
  e->key = *key;
  e->hash = h;
  pthread_mutex_lock(&p->insert_lock);
  size_t slot = 0;
  const dlg_gemm_plan_t* existing = lookup(p, key, h, &slot);
  if (existing || slot == (size_t)-1) {
    pthread_mutex_unlock(&p->insert_lock);
    free(e);
    return existing;
  }
  __atomic_store_n(&p->slots[slot], e, __ATOMIC_RELEASE);
  ++p->count;
  pthread_mutex_unlock(&p->insert_lock);
  return e;
}

unsigned dlg_gemm_plan_fitted_grid(const dlg_gemm_plan_t* plan) {
  return __atomic_load_n(&plan->fitted_grid, __ATOMIC_RELAXED);
}

void dlg_gemm_plan_set_fitted_grid(const dlg_gemm_plan_t* plan, unsigned grid) {
  /* The only field written after publication; every thread computes the same value. */
  __atomic_store_n(&((dlg_gemm_plan_t*)plan)->fitted_grid, grid, __ATOMIC_RELAXED);
}

int dlg_gemm_plan_count(dlg_context_t* ctx) {
  struct dlg_gemm_plans* p = plans_of(ctx, 0);
  if (!p) return 0;
  pthread_mutex_lock(&p->insert_lock);
  int n = p->count;
  pthread_mutex_unlock(&p->insert_lock);
  return n;
}

void dlg_gemm_plans_destroy(struct dlg_gemm_plans* p) {
  if (!p) return;
  for (size_t i = 0; i < PLAN_SLOTS; ++i) free(p->slots[i]);
  pthread_mutex_destroy(&p->insert_lock);
  free(p);
}
