/* gemm_tune.c — the tiled engine's table of tile choices per GEMM shape: which of cl/gemm.cl's tiles won the
 * timed search at a shape's first use (gemm_tiled.c runs it), kept per runtime and in the program cache. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops/gemm/gemm_tune.h"

/* The table lives in rt->gemm_state: the runtime frees it without knowing what it is. */
static void tune_free(void *p) { free(p); }

/* The cache entry's key: the format, the device, its driver, the build options (the tiles are -D defines)
 * and the tiled kernels' sources (cl/gemm.h, gemm.cl, gemm_tiles.cl), so a new kernel or another device never reads
 * an old table. */
static void tune_key(const clae_runtime *rt, char *key, size_t cap)
{
    char hex[3][65] = {"none", "none", "none"};
    static const char *const files[3] = {"gemm.h", "gemm.cl", "gemm_tiles.cl"};
    for (size_t i = 0; i < clae_kernel_source_count; i++)
        for (int f = 0; f < 3; f++)
            if (!strcmp(clae_kernel_sources[i].name, files[f]))
                clae_sha256_hex(clae_kernel_sources[i].data, clae_kernel_sources[i].size, hex[f]);
    const clae_device_info *d = &rt->info;
    snprintf(key, cap, "clae-gemm-tiles-v1\n%s %s %s\n%s\n%s\n%s\n%s\n%s", hex[0], hex[1], hex[2], rt->options,
             d->platform_version, d->name, d->vendor, d->driver_version);
}

/* Reads the stored table, if any; a damaged entry is deleted by the cache (and then searched anew). */
static void tune_load(const clae_runtime *rt, clae_gemm_tune *t)
{
    if (!rt->cache_dir[0]) return;
    char key[4096];
    tune_key(rt, key, sizeof key);
    unsigned char *data = NULL;
    size_t size = 0;
    char saved[CLAE_ERROR_MAX];
    snprintf(saved, sizeof saved, "%s", clae_last_error());
    if (clae_cache_load(rt->cache_dir, key, &data, &size) != CLAE_OK) {
        clae_fail(CLAE_OK, "%s", saved); /* a missing table is not this call's error */
        return;
    }
    char *text = malloc(size + 1);
    if (text) {
        memcpy(text, data, size);
        text[size] = '\0';
        for (char *line = strtok(text, "\n"); line && t->count < CLAE_GEMM_TUNE_MAX; line = strtok(NULL, "\n")) {
            clae_gemm_tile_choice c = {0};
            unsigned long long m, n, k, ns[CLAE_GEMM_TILES];
            int ta, v;
            if (sscanf(line, "%d %llu %llu %llu %d %llu %llu %llu", &ta, &m, &n, &k, &v, &ns[0], &ns[1], &ns[2]) != 8 ||
                v < 0 || v >= CLAE_GEMM_TILES)
                continue;
            c.trans_a = ta;
            c.M = m, c.N = n, c.K = k;
            c.variant = v;
            for (int i = 0; i < CLAE_GEMM_TILES; i++) c.ns[i] = ns[i];
            c.loaded = 1;
            t->entry[t->count++] = c;
        }
        free(text);
    }
    free(data);
}

clae_gemm_tune *clae_gemm_tune_of(clae_runtime *rt)
{
    if (rt->gemm_state) return rt->gemm_state;
    clae_gemm_tune *t = calloc(1, sizeof *t);
    if (!t) return NULL;
    t->forced = -1;
    const char *env = getenv("CLAE_GEMM_TUNE");
    t->off = env && (!strcmp(env, "0") || !strcmp(env, "off"));
    t->no_search = rt->wrapped;
    tune_load(rt, t);
    rt->gemm_state = t;
    rt->gemm_state_free = tune_free;
    return t;
}

const clae_gemm_tile_choice *clae_gemm_tune_find(const clae_gemm_tune *t, int trans_a, size_t M, size_t N, size_t K)
{
    for (int i = 0; t && i < t->count; i++) {
        const clae_gemm_tile_choice *c = &t->entry[i];
        if (c->trans_a == (trans_a != 0) && c->M == M && c->N == N && c->K == K) return c;
    }
    return NULL;
}

void clae_gemm_tune_record(clae_runtime *rt, clae_gemm_tune *t, const clae_gemm_tile_choice *c)
{
    if (t->count < CLAE_GEMM_TUNE_MAX) t->entry[t->count++] = *c;
    t->searched++;
    if (!rt->cache_dir[0]) return;
    /* The whole table again, written atomically by the cache: concurrent runs each leave a whole table. */
    size_t cap = (size_t)t->count * 128 + 1, len = 0;
    char *text = malloc(cap);
    if (!text) return;
    for (int i = 0; i < t->count; i++) {
        const clae_gemm_tile_choice *e = &t->entry[i];
        int w = snprintf(text + len, cap - len, "%d %zu %zu %zu %d %llu %llu %llu\n", e->trans_a, e->M, e->N, e->K,
                         e->variant, (unsigned long long)e->ns[0], (unsigned long long)e->ns[1],
                         (unsigned long long)e->ns[2]);
        if (w < 0 || (size_t)w >= cap - len) break;
        len += (size_t)w;
    }
    char key[4096];
    tune_key(rt, key, sizeof key);
    char saved[CLAE_ERROR_MAX];
    snprintf(saved, sizeof saved, "%s", clae_last_error());
    /* An unwritable cache costs a search next time, nothing more. */
    if (clae_cache_store(rt->cache_dir, key, (const unsigned char *)text, len) != CLAE_OK) clae_fail(CLAE_OK, "%s", saved);
    free(text);
}
