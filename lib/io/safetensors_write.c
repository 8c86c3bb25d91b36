/* safetensors_write.c — the safetensors writer: tensors copied in as little-endian bytes, string metadata,
 * and a header padded so the data starts 8-aligned, written atomically. Header JSON through cJSON. */
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "io/byteorder.h"
#include "io/safetensors.h"
#include "io/safetensors_internal.h"
#include "runtime/error.h"

typedef struct st_wtensor {
    char *name;
    clae_st_dtype dtype;
    int ndim;
    size_t shape[CLAE_ST_MAX_DIMS];
    unsigned char *bytes; /* already little-endian, so saving needs no conversion */
    size_t nbytes;
} st_wtensor;

struct clae_st_writer {
    st_wtensor *t;
    size_t n, cap;
    char **keys, **vals;
    size_t nm, mcap;
};

clae_status clae_st_writer_create(clae_st_writer **out)
{
    if (!out) return clae_fail(CLAE_ERR_ARG, "clae_st_writer_create: out must not be NULL");
    *out = calloc(1, sizeof **out);
    if (!*out) return clae_fail(CLAE_ERR_NOMEM, "safetensors writer: out of memory");
    return CLAE_OK;
}

void clae_st_writer_free(clae_st_writer *w)
{
    if (!w) return;
    for (size_t i = 0; i < w->n; i++) {
        free(w->t[i].name);
        free(w->t[i].bytes);
    }
    for (size_t i = 0; i < w->nm; i++) {
        free(w->keys[i]);
        free(w->vals[i]);
    }
    free(w->t);
    free(w->keys);
    free(w->vals);
    free(w);
}

static clae_status writer_add(clae_st_writer *w, const char *name, clae_st_dtype dt, const void *data, int ndim,
                              const size_t *shape)
{
    if (!w || !name || (ndim > 0 && !shape))
        return clae_fail(CLAE_ERR_ARG, "clae_st_writer_add: writer, name and shape must not be NULL");
    if (!*name || strcmp(name, ST_META_KEY) == 0)
        return clae_fail(CLAE_ERR_ARG, "safetensors: '%s' cannot name a tensor", name);
    if (ndim < 0 || ndim > CLAE_ST_MAX_DIMS)
        return clae_fail(CLAE_ERR_ARG, "safetensors: tensor '%s' has %d dimensions (at most %d)", name, ndim,
                         CLAE_ST_MAX_DIMS);
    for (size_t i = 0; i < w->n; i++)
        if (strcmp(w->t[i].name, name) == 0)
            return clae_fail(CLAE_ERR_ARG, "safetensors: tensor '%s' added twice", name);
    size_t count, nbytes;
    if (!st_shape_bytes(ndim, shape, st_dtype_size[dt], &count, &nbytes))
        return clae_fail(CLAE_ERR_ARG, "safetensors: tensor '%s' is too large", name);
    if (count > 0 && !data) return clae_fail(CLAE_ERR_ARG, "safetensors: tensor '%s' has no data", name);
    if (w->n == w->cap) {
        size_t cap = w->cap ? 2 * w->cap : 16;
        st_wtensor *t = realloc(w->t, cap * sizeof *t);
        if (!t) return clae_fail(CLAE_ERR_NOMEM, "safetensors: out of memory adding '%s'", name);
        w->t = t;
        w->cap = cap;
    }
    st_wtensor *t = &w->t[w->n];
    memset(t, 0, sizeof *t);
    t->name = strdup(name);
    t->bytes = malloc(nbytes ? nbytes : 1);
    if (!t->name || !t->bytes) {
        free(t->name);
        free(t->bytes);
        return clae_fail(CLAE_ERR_NOMEM, "safetensors: out of memory adding '%s' (%zu bytes)", name, nbytes);
    }
    t->dtype = dt;
    t->ndim = ndim;
    for (int d = 0; d < ndim; d++) t->shape[d] = shape[d];
    t->nbytes = nbytes;
    /* Byte by byte so the file is little-endian whatever the host is. */
    const unsigned char *src = data;
    size_t es = st_dtype_size[dt];
    if (clae_host_little_endian()) {
        if (nbytes) memcpy(t->bytes, src, nbytes);
    } else {
        for (size_t k = 0; k < count; k++)
            for (size_t b = 0; b < es; b++) t->bytes[k * es + b] = src[k * es + es - 1 - b];
    }
    w->n++;
    return CLAE_OK;
}

clae_status clae_st_writer_add_f32(clae_st_writer *w, const char *name, const float *data, int ndim,
                                   const size_t *shape)
{
    return writer_add(w, name, CLAE_ST_F32, data, ndim, shape);
}

clae_status clae_st_writer_add_i64(clae_st_writer *w, const char *name, const int64_t *data, int ndim,
                                   const size_t *shape)
{
    return writer_add(w, name, CLAE_ST_I64, data, ndim, shape);
}

clae_status clae_st_writer_set_meta(clae_st_writer *w, const char *key, const char *value)
{
    if (!w || !key || !value)
        return clae_fail(CLAE_ERR_ARG, "clae_st_writer_set_meta: writer, key and value must not be NULL");
    char *v = strdup(value);
    if (!v) return clae_fail(CLAE_ERR_NOMEM, "safetensors: out of memory setting metadata '%s'", key);
    for (size_t i = 0; i < w->nm; i++) {
        if (strcmp(w->keys[i], key) == 0) {
            free(w->vals[i]);
            w->vals[i] = v;
            return CLAE_OK;
        }
    }
    if (w->nm == w->mcap) {
        size_t cap = w->mcap ? 2 * w->mcap : 16;
        char **k = realloc(w->keys, cap * sizeof *k);
        if (k) w->keys = k;
        char **vv = k ? realloc(w->vals, cap * sizeof *vv) : NULL;
        if (vv) w->vals = vv;
        if (!k || !vv) {
            free(v);
            return clae_fail(CLAE_ERR_NOMEM, "safetensors: out of memory setting metadata '%s'", key);
        }
        w->mcap = cap;
    }
    w->keys[w->nm] = strdup(key);
    if (!w->keys[w->nm]) {
        free(v);
        return clae_fail(CLAE_ERR_NOMEM, "safetensors: out of memory setting metadata '%s'", key);
    }
    w->vals[w->nm++] = v;
    return CLAE_OK;
}

/* A JSON integer written as raw text: cJSON would print a double, which turns
 * into exponent notation that strict readers refuse for large offsets. */
static int add_raw_size(cJSON *arr, size_t v)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%zu", v);
    cJSON *item = cJSON_CreateRaw(buf);
    if (!item) return 0;
    if (!cJSON_AddItemToArray(arr, item)) {
        cJSON_Delete(item);
        return 0;
    }
    return 1;
}

/* The header JSON text (malloc'd by cJSON), or NULL when out of memory. */
static char *writer_header(const clae_st_writer *w)
{
    cJSON *root = cJSON_CreateObject();
    int ok = root != NULL;
    if (ok && w->nm > 0) {
        cJSON *meta = cJSON_AddObjectToObject(root, ST_META_KEY);
        ok = meta != NULL;
        for (size_t i = 0; ok && i < w->nm; i++) ok = cJSON_AddStringToObject(meta, w->keys[i], w->vals[i]) != NULL;
    }
    size_t off = 0;
    for (size_t i = 0; ok && i < w->n; i++) {
        const st_wtensor *t = &w->t[i];
        cJSON *e = cJSON_AddObjectToObject(root, t->name);
        ok = e && cJSON_AddStringToObject(e, "dtype", clae_st_dtype_name(t->dtype));
        cJSON *shape = ok ? cJSON_AddArrayToObject(e, "shape") : NULL;
        ok = shape != NULL;
        for (int d = 0; ok && d < t->ndim; d++) ok = add_raw_size(shape, t->shape[d]);
        cJSON *offs = ok ? cJSON_AddArrayToObject(e, "data_offsets") : NULL;
        ok = offs && add_raw_size(offs, off) && add_raw_size(offs, off + t->nbytes);
        off += t->nbytes;
    }
    char *text = ok ? cJSON_PrintUnformatted(root) : NULL;
    cJSON_Delete(root);
    return text;
}

clae_status clae_st_writer_save(const clae_st_writer *w, const char *path)
{
    if (!w || !path) return clae_fail(CLAE_ERR_ARG, "clae_st_writer_save: writer and path must not be NULL");
    char *json = writer_header(w);
    if (!json) return clae_fail(CLAE_ERR_NOMEM, "%s: out of memory building the safetensors header", path);
    size_t len = strlen(json);
    /* Spaces up to a multiple of 8 put the byte buffer (8 + N) on an 8-byte
     * boundary, so a reader that maps the file gets aligned tensors. */
    size_t n = (len + 7) & ~(size_t)7;
    unsigned char len8[8];
    for (int b = 0; b < 8; b++) len8[b] = (unsigned char)((uint64_t)n >> (8 * b));

    clae_atomic_file af;
    clae_status st = clae_atomic_open(&af, path);
    if (st != CLAE_OK) {
        cJSON_free(json);
        return st;
    }
    clae_atomic_write(&af, len8, 8);
    clae_atomic_write(&af, json, len);
    for (size_t k = len; k < n; k++) fputc(' ', af.fp);
    clae_atomic_note(&af);
    cJSON_free(json);
    for (size_t i = 0; i < w->n; i++) clae_atomic_write(&af, w->t[i].bytes, w->t[i].nbytes);
    /* Any short write leaves the stream's error flag set, which commit checks. */
    return clae_atomic_commit(&af);
}
