/* safetensors_read.c — the safetensors reader: validates every header field and byte range (tiling, sizes,
 * dtypes, duplicates) before handing out a pointer; tensor data in host order and aligned. JSON through cJSON. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cjson/cJSON.h>

#include "io/byteorder.h"
#include "io/safetensors.h"
#include "io/safetensors_internal.h"
#include "runtime/error.h"

/* The reference implementation refuses headers above 100 MB; a length beyond
 * that means the file is something else (or garbage), not a huge model. */
#define ST_MAX_HEADER 100000000ull

/* Numbers in the header arrive as doubles from cJSON; above 2^53 they are no
 * longer exact, so a byte offset or dimension there cannot be trusted. */
#define ST_MAX_EXACT 9007199254740992.0

const char *clae_st_dtype_name(clae_st_dtype dt)
{
    switch (dt) {
    case CLAE_ST_F32: return "F32";
    case CLAE_ST_I64: return "I64";
    case CLAE_ST_DTYPE_COUNT: break;
    }
    return "?";
}

/* "[2, 3]" into buf, for messages. */
static const char *shape_str(char *buf, size_t cap, int ndim, const size_t *shape)
{
    size_t len = (size_t)snprintf(buf, cap, "[");
    for (int d = 0; d < ndim && len < cap; d++)
        len += (size_t)snprintf(buf + len, cap - len, "%s%zu", d ? ", " : "", shape[d]);
    if (len < cap) snprintf(buf + len, cap - len, "]");
    return buf;
}

struct clae_st_file {
    char *path;
    clae_st_tensor *t; /* sorted by byte range */
    size_t n;
    const clae_st_tensor **by_name; /* sorted by name, for bsearch */
    char **keys, **vals;
    size_t nm;
    unsigned char *buf;  /* the byte buffer */
    void **own;          /* private copies of misaligned or byte-swapped tensors */
    size_t nown;
};

void clae_st_close(clae_st_file *f)
{
    if (!f) return;
    for (size_t i = 0; i < f->n; i++) free((char *)f->t[i].name);
    for (size_t i = 0; i < f->nm; i++) {
        free(f->keys[i]);
        free(f->vals[i]);
    }
    for (size_t i = 0; i < f->nown; i++) free(f->own[i]);
    free(f->own);
    free(f->t);
    free(f->by_name);
    free(f->keys);
    free(f->vals);
    free(f->buf);
    free(f->path);
    free(f);
}

/* A non-negative integer that a double holds exactly. */
static int json_size(const cJSON *item, size_t *out)
{
    if (!cJSON_IsNumber(item)) return 0;
    double v = item->valuedouble;
    if (!(v >= 0.0 && v <= ST_MAX_EXACT) || floor(v) != v) return 0;
    if (v > (double)SIZE_MAX) return 0;
    *out = (size_t)v;
    return 1;
}

static int cmp_range(const void *a, const void *b)
{
    const clae_st_tensor *x = a, *y = b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end) return x->end < y->end ? -1 : 1;
    return 0;
}

static int cmp_name_ptr(const void *a, const void *b)
{
    const clae_st_tensor *const *x = a, *const *y = b;
    return strcmp((*x)->name, (*y)->name);
}

static clae_status parse_metadata(clae_st_file *f, const cJSON *meta)
{
    if (!cJSON_IsObject(meta))
        return clae_fail(CLAE_ERR_FORMAT, "%s: \"%s\" is not an object", f->path, ST_META_KEY);
    size_t n = 0;
    for (const cJSON *c = meta->child; c; c = c->next) n++;
    f->keys = calloc(n ? n : 1, sizeof *f->keys);
    f->vals = calloc(n ? n : 1, sizeof *f->vals);
    if (!f->keys || !f->vals) return clae_fail(CLAE_ERR_NOMEM, "%s: out of memory reading metadata", f->path);
    for (const cJSON *c = meta->child; c; c = c->next) {
        if (!cJSON_IsString(c))
            return clae_fail(CLAE_ERR_FORMAT, "%s: metadata '%s' is not a string", f->path, c->string);
        for (size_t i = 0; i < f->nm; i++)
            if (strcmp(f->keys[i], c->string) == 0)
                return clae_fail(CLAE_ERR_FORMAT, "%s: metadata '%s' appears twice", f->path, c->string);
        f->keys[f->nm] = strdup(c->string);
        f->vals[f->nm] = strdup(c->valuestring);
        f->nm++;
        if (!f->keys[f->nm - 1] || !f->vals[f->nm - 1])
            return clae_fail(CLAE_ERR_NOMEM, "%s: out of memory reading metadata", f->path);
    }
    return CLAE_OK;
}

/* One tensor entry: types, dtype, shape, offsets and their consistency. */
static clae_status parse_tensor(clae_st_file *f, const cJSON *e, clae_st_tensor *t)
{
    const char *name = e->string;
    t->name = strdup(name);
    if (!t->name) return clae_fail(CLAE_ERR_NOMEM, "%s: out of memory", f->path);
    if (!cJSON_IsObject(e)) return clae_fail(CLAE_ERR_FORMAT, "%s: tensor '%s': entry is not an object", f->path, name);

    const cJSON *dt = cJSON_GetObjectItemCaseSensitive(e, "dtype");
    const cJSON *shape = cJSON_GetObjectItemCaseSensitive(e, "shape");
    const cJSON *offs = cJSON_GetObjectItemCaseSensitive(e, "data_offsets");
    if (!dt) return clae_fail(CLAE_ERR_FORMAT, "%s: tensor '%s': no \"dtype\"", f->path, name);
    if (!shape) return clae_fail(CLAE_ERR_FORMAT, "%s: tensor '%s': no \"shape\"", f->path, name);
    if (!offs) return clae_fail(CLAE_ERR_FORMAT, "%s: tensor '%s': no \"data_offsets\"", f->path, name);

    if (!cJSON_IsString(dt))
        return clae_fail(CLAE_ERR_FORMAT, "%s: tensor '%s': \"dtype\" is not a string", f->path, name);
    int found = 0;
    for (int d = 0; d < CLAE_ST_DTYPE_COUNT; d++) {
        if (strcmp(dt->valuestring, clae_st_dtype_name((clae_st_dtype)d)) == 0) {
            t->dtype = (clae_st_dtype)d;
            found = 1;
        }
    }
    if (!found)
        return clae_fail(CLAE_ERR_FORMAT, "%s: tensor '%s': dtype '%s' not supported (clae reads F32 and I64)",
                         f->path, name, dt->valuestring);

    if (!cJSON_IsArray(shape))
        return clae_fail(CLAE_ERR_FORMAT, "%s: tensor '%s': \"shape\" is not an array", f->path, name);
    int nd = cJSON_GetArraySize(shape);
    if (nd > CLAE_ST_MAX_DIMS)
        return clae_fail(CLAE_ERR_FORMAT, "%s: tensor '%s': %d dimensions (clae reads at most %d)", f->path, name,
                         nd, CLAE_ST_MAX_DIMS);
    t->ndim = 0;
    for (const cJSON *c = shape->child; c; c = c->next) {
        if (!json_size(c, &t->shape[t->ndim]))
            return clae_fail(CLAE_ERR_FORMAT, "%s: tensor '%s': shape entry %d is not a non-negative integer",
                             f->path, name, t->ndim);
        t->ndim++;
    }

    if (!cJSON_IsArray(offs) || cJSON_GetArraySize(offs) != 2 || !json_size(offs->child, &t->begin) ||
        !json_size(offs->child->next, &t->end))
        return clae_fail(CLAE_ERR_FORMAT, "%s: tensor '%s': \"data_offsets\" is not [begin, end] in bytes", f->path,
                         name);
    if (t->end < t->begin)
        return clae_fail(CLAE_ERR_FORMAT, "%s: tensor '%s': data_offsets [%zu, %zu] end before they begin", f->path,
                         name, t->begin, t->end);
    size_t nbytes;
    char sb[160];
    if (!st_shape_bytes(t->ndim, t->shape, st_dtype_size[t->dtype], &t->count, &nbytes))
        return clae_fail(CLAE_ERR_FORMAT, "%s: tensor '%s': shape %s overflows", f->path, name,
                         shape_str(sb, sizeof sb, t->ndim, t->shape));
    if (t->end - t->begin != nbytes)
        return clae_fail(CLAE_ERR_FORMAT,
                         "%s: tensor '%s': data_offsets [%zu, %zu] hold %zu bytes, but shape %s of %s needs %zu",
                         f->path, name, t->begin, t->end, t->end - t->begin,
                         shape_str(sb, sizeof sb, t->ndim, t->shape), clae_st_dtype_name(t->dtype), nbytes);
    return CLAE_OK;
}

/* Sorts the tensors by byte range and checks that they tile [0, data_size)
 * exactly; reports overlaps and holes as format errors, and a tiling that
 * runs past the end of the file as truncation. */
static clae_status check_layout(clae_st_file *f, size_t data_size)
{
    qsort(f->t, f->n, sizeof *f->t, cmp_range);
    size_t pos = 0;
    for (size_t i = 0; i < f->n; i++) {
        const clae_st_tensor *t = &f->t[i];
        if (t->begin < pos)
            return clae_fail(CLAE_ERR_FORMAT, "%s: tensor '%s' [%zu, %zu] overlaps tensor '%s' [%zu, %zu]", f->path,
                             t->name, t->begin, t->end, f->t[i - 1].name, f->t[i - 1].begin, f->t[i - 1].end);
        if (t->begin > pos) {
            if (t->end > data_size)
                return clae_fail(CLAE_ERR_FORMAT,
                                 "%s: tensor '%s': data_offsets [%zu, %zu] lie outside the %zu-byte data area",
                                 f->path, t->name, t->begin, t->end, data_size);
            return clae_fail(CLAE_ERR_FORMAT, "%s: bytes [%zu, %zu) of the data area belong to no tensor (before '%s')",
                             f->path, pos, t->begin, t->name);
        }
        pos = t->end;
    }
    if (pos > data_size)
        return clae_fail(CLAE_ERR_TRUNCATED,
                         "%s: truncated: the header declares %zu bytes of tensor data (tensor '%s' ends at %zu), "
                         "the file holds %zu",
                         f->path, pos, f->t[f->n - 1].name, pos, data_size);
    if (pos < data_size)
        return clae_fail(CLAE_ERR_FORMAT, "%s: %zu bytes after the last tensor's data belong to no tensor", f->path,
                         data_size - pos);
    return CLAE_OK;
}

static clae_status parse_header(clae_st_file *f, const char *hdr, size_t n, size_t data_size)
{
    /* Every JSON object starts with '{'; checking it first turns "some other
     * file" into a plain message rather than a JSON parser position. */
    if (n == 0 || hdr[0] != '{')
        return clae_fail(CLAE_ERR_FORMAT, "%s: not a safetensors file (the header does not start with '{')", f->path);
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(hdr, n, &end, 0);
    if (!root) {
        size_t at = end && end >= hdr && end <= hdr + n ? (size_t)(end - hdr) : 0;
        return clae_fail(CLAE_ERR_FORMAT, "%s: the header is not valid JSON (error near byte %zu of %zu)", f->path, at,
                         n);
    }
    clae_status st = CLAE_OK;
    /* The format pads the header with spaces; anything else after the object is junk. */
    for (const char *p = end; p < hdr + n; p++) {
        if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r' && *p != '\0') {
            st = clae_fail(CLAE_ERR_FORMAT, "%s: unexpected text after the header JSON (byte %zu)", f->path,
                           (size_t)(p - hdr));
            goto done;
        }
    }
    if (!cJSON_IsObject(root)) {
        st = clae_fail(CLAE_ERR_FORMAT, "%s: the header is not a JSON object", f->path);
        goto done;
    }
    size_t count = 0;
    const cJSON *meta = NULL;
    for (const cJSON *c = root->child; c; c = c->next) {
        if (strcmp(c->string, ST_META_KEY) == 0) {
            if (meta) {
                st = clae_fail(CLAE_ERR_FORMAT, "%s: \"%s\" appears twice", f->path, ST_META_KEY);
                goto done;
            }
            meta = c;
        } else {
            count++;
        }
    }
    if (meta && (st = parse_metadata(f, meta)) != CLAE_OK) goto done;
    f->t = calloc(count ? count : 1, sizeof *f->t);
    f->by_name = calloc(count ? count : 1, sizeof *f->by_name);
    if (!f->t || !f->by_name) {
        st = clae_fail(CLAE_ERR_NOMEM, "%s: out of memory for %zu tensors", f->path, count);
        goto done;
    }
    for (const cJSON *c = root->child; c; c = c->next) {
        if (c == meta) continue;
        st = parse_tensor(f, c, &f->t[f->n]);
        f->n++; /* counted even on failure so close() frees its name */
        if (st != CLAE_OK) goto done;
    }
    st = check_layout(f, data_size);
    if (st != CLAE_OK) goto done;
    for (size_t i = 0; i < f->n; i++) f->by_name[i] = &f->t[i];
    qsort(f->by_name, f->n, sizeof *f->by_name, cmp_name_ptr);
    /* JSON allows a key twice and cJSON keeps both; two tensors of one name
     * would make lookup ambiguous. */
    for (size_t i = 1; i < f->n; i++)
        if (strcmp(f->by_name[i - 1]->name, f->by_name[i]->name) == 0) {
            st = clae_fail(CLAE_ERR_FORMAT, "%s: tensor '%s' appears twice", f->path, f->by_name[i]->name);
            goto done;
        }
done:
    cJSON_Delete(root);
    return st;
}

/* Points each tensor at its bytes, in host order and aligned. */
static clae_status place_tensors(clae_st_file *f)
{
    int little = clae_host_little_endian();
    f->own = calloc(f->n ? f->n : 1, sizeof *f->own);
    if (!f->own) return clae_fail(CLAE_ERR_NOMEM, "%s: out of memory", f->path);
    for (size_t i = 0; i < f->n; i++) {
        clae_st_tensor *t = &f->t[i];
        size_t es = st_dtype_size[t->dtype];
        size_t nb = t->end - t->begin;
        unsigned char *p = f->buf + t->begin;
        /* The buffer is malloc'd, so an offset that is a multiple of the
         * element size is aligned; other writers need not align, and then
         * the tensor gets its own copy. */
        if (t->begin % es != 0) {
            unsigned char *c = malloc(nb ? nb : 1);
            if (!c) return clae_fail(CLAE_ERR_NOMEM, "%s: out of memory for tensor '%s'", f->path, t->name);
            if (nb) memcpy(c, p, nb);
            f->own[f->nown++] = c;
            p = c;
        }
        if (!little) {
            for (size_t k = 0; k < t->count; k++)
                for (size_t b = 0; b < es / 2; b++) {
                    unsigned char tmp = p[k * es + b];
                    p[k * es + b] = p[k * es + es - 1 - b];
                    p[k * es + es - 1 - b] = tmp;
                }
        }
        t->data = p;
    }
    return CLAE_OK;
}

static clae_status st_load(clae_st_file *f, FILE *fp, int header_only)
{
    struct stat sb;
    if (fstat(fileno(fp), &sb) != 0)
        return clae_fail(CLAE_ERR_IO, "%s: cannot stat: %s", f->path, strerror(errno));
    if (!S_ISREG(sb.st_mode)) return clae_fail(CLAE_ERR_IO, "%s: not a regular file", f->path);
    uint64_t size = (uint64_t)sb.st_size;
    if (size < 8)
        return clae_fail(CLAE_ERR_FORMAT,
                         "%s: not a safetensors file (%llu bytes; the header length alone needs 8)", f->path,
                         (unsigned long long)size);
    unsigned char len8[8];
    if (fread(len8, 1, 8, fp) != 8) return clae_fail(CLAE_ERR_IO, "%s: read error: %s", f->path, strerror(errno));
    uint64_t n = 0;
    for (int b = 7; b >= 0; b--) n = (n << 8) | len8[b];
    if (n > ST_MAX_HEADER)
        return clae_fail(CLAE_ERR_FORMAT,
                         "%s: not a safetensors file (header length %llu is implausible; the format allows %llu)",
                         f->path, (unsigned long long)n, ST_MAX_HEADER);
    if (n > size - 8)
        return clae_fail(CLAE_ERR_TRUNCATED, "%s: truncated: header length %llu, but only %llu bytes follow it",
                         f->path, (unsigned long long)n, (unsigned long long)(size - 8));
    char *hdr = malloc(n ? (size_t)n : 1);
    if (!hdr) return clae_fail(CLAE_ERR_NOMEM, "%s: out of memory for a %llu-byte header", f->path,
                               (unsigned long long)n);
    if (fread(hdr, 1, (size_t)n, fp) != (size_t)n) {
        free(hdr);
        return clae_fail(CLAE_ERR_IO, "%s: read error in the header", f->path);
    }
    uint64_t data_size = size - 8 - n;
    if (data_size > SIZE_MAX) {
        free(hdr);
        return clae_fail(CLAE_ERR_FORMAT, "%s: too large for this machine", f->path);
    }
    clae_status st = parse_header(f, hdr, (size_t)n, (size_t)data_size);
    free(hdr);
    if (st != CLAE_OK || header_only) return st;
    f->buf = malloc(data_size ? (size_t)data_size : 1);
    if (!f->buf)
        return clae_fail(CLAE_ERR_NOMEM, "%s: out of memory for %llu bytes of tensors", f->path,
                         (unsigned long long)data_size);
    size_t got = fread(f->buf, 1, (size_t)data_size, fp);
    if (got != (size_t)data_size) {
        if (ferror(fp)) return clae_fail(CLAE_ERR_IO, "%s: read error: %s", f->path, strerror(errno));
        /* The file shrank between fstat and read. */
        return clae_fail(CLAE_ERR_TRUNCATED, "%s: truncated: %zu of %llu bytes of tensor data", f->path, got,
                         (unsigned long long)data_size);
    }
    return place_tensors(f);
}

static clae_status st_open(const char *path, int header_only, clae_st_file **out)
{
    if (out) *out = NULL;
    if (!path || !out) return clae_fail(CLAE_ERR_ARG, "clae_st_open: path and out must not be NULL");
    clae_st_file *f = calloc(1, sizeof *f);
    if (f) f->path = strdup(path);
    if (!f || !f->path) {
        free(f);
        return clae_fail(CLAE_ERR_NOMEM, "%s: out of memory", path);
    }
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        clae_status st = clae_fail(CLAE_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
        clae_st_close(f);
        return st;
    }
    clae_status st = st_load(f, fp, header_only);
    fclose(fp);
    if (st != CLAE_OK) {
        clae_st_close(f);
        return st;
    }
    *out = f;
    return CLAE_OK;
}

clae_status clae_st_open(const char *path, clae_st_file **out) { return st_open(path, 0, out); }

clae_status clae_st_open_header(const char *path, clae_st_file **out) { return st_open(path, 1, out); }

const char *clae_st_path(const clae_st_file *f) { return f ? f->path : ""; }

size_t clae_st_count(const clae_st_file *f) { return f ? f->n : 0; }

const clae_st_tensor *clae_st_tensor_at(const clae_st_file *f, size_t i)
{
    return f && i < f->n ? &f->t[i] : NULL;
}

const clae_st_tensor *clae_st_find(const clae_st_file *f, const char *name)
{
    if (!f || !name || f->n == 0) return NULL;
    clae_st_tensor key;
    memset(&key, 0, sizeof key);
    key.name = name;
    const clae_st_tensor *kp = &key;
    const clae_st_tensor *const *hit = bsearch(&kp, f->by_name, f->n, sizeof *f->by_name, cmp_name_ptr);
    return hit ? *hit : NULL;
}

static clae_status get_typed(const clae_st_file *f, const char *name, clae_st_dtype dt, int ndim,
                             const size_t *shape, const void **data)
{
    if (!f || !name || !data || (ndim > 0 && !shape))
        return clae_fail(CLAE_ERR_ARG, "clae_st_get: file, name, shape and data must not be NULL");
    *data = NULL;
    if (!f->buf) return clae_fail(CLAE_ERR_ARG, "%s: opened for its header only: tensor data was not read", f->path);
    const clae_st_tensor *t = clae_st_find(f, name);
    if (!t) return clae_fail(CLAE_ERR_FORMAT, "%s: no tensor '%s'", f->path, name);
    if (t->dtype != dt)
        return clae_fail(CLAE_ERR_FORMAT, "%s: tensor '%s' is %s, expected %s", f->path, name,
                         clae_st_dtype_name(t->dtype), clae_st_dtype_name(dt));
    int same = t->ndim == ndim;
    for (int d = 0; same && d < ndim; d++) same = t->shape[d] == shape[d];
    if (!same) {
        char a[160], b[160];
        return clae_fail(CLAE_ERR_SHAPE, "%s: tensor '%s' has shape %s, expected %s", f->path, name,
                         shape_str(a, sizeof a, t->ndim, t->shape), shape_str(b, sizeof b, ndim, shape));
    }
    *data = t->data;
    return CLAE_OK;
}

clae_status clae_st_get_f32(const clae_st_file *f, const char *name, int ndim, const size_t *shape,
                            const float **data)
{
    const void *p = NULL;
    clae_status st = get_typed(f, name, CLAE_ST_F32, ndim, shape, &p);
    if (data) *data = p;
    return st;
}

clae_status clae_st_get_i64(const clae_st_file *f, const char *name, int ndim, const size_t *shape,
                            const int64_t **data)
{
    const void *p = NULL;
    clae_status st = get_typed(f, name, CLAE_ST_I64, ndim, shape, &p);
    if (data) *data = p;
    return st;
}

const char *clae_st_meta(const clae_st_file *f, const char *key)
{
    if (!f || !key) return NULL;
    for (size_t i = 0; i < f->nm; i++)
        if (strcmp(f->keys[i], key) == 0) return f->vals[i];
    return NULL;
}

size_t clae_st_meta_count(const clae_st_file *f) { return f ? f->nm : 0; }

void clae_st_meta_at(const clae_st_file *f, size_t i, const char **key, const char **value)
{
    const char *k = NULL, *v = NULL;
    if (f && i < f->nm) {
        k = f->keys[i];
        v = f->vals[i];
    }
    if (key) *key = k;
    if (value) *value = v;
}

clae_status clae_st_meta_u64(const clae_st_file *f, const char *key, uint64_t *out)
{
    if (!f || !key || !out) return clae_fail(CLAE_ERR_ARG, "clae_st_meta_u64: arguments must not be NULL");
    const char *v = clae_st_meta(f, key);
    if (!v) return clae_fail(CLAE_ERR_FORMAT, "%s: no metadata '%s'", f->path, key);
    /* strtoull would accept a sign and leading spaces; a counter is digits only. */
    int ok = *v != '\0';
    for (const char *p = v; ok && *p; p++) ok = *p >= '0' && *p <= '9';
    errno = 0;
    unsigned long long x = ok ? strtoull(v, NULL, 10) : 0;
    if (!ok || errno == ERANGE)
        return clae_fail(CLAE_ERR_FORMAT, "%s: metadata '%s' = '%s' is not a whole number", f->path, key, v);
    *out = (uint64_t)x;
    return CLAE_OK;
}

clae_status clae_st_meta_double(const clae_st_file *f, const char *key, double *out)
{
    if (!f || !key || !out) return clae_fail(CLAE_ERR_ARG, "clae_st_meta_double: arguments must not be NULL");
    const char *v = clae_st_meta(f, key);
    if (!v) return clae_fail(CLAE_ERR_FORMAT, "%s: no metadata '%s'", f->path, key);
    char *end = NULL;
    errno = 0;
    double x = strtod(v, &end);
    if (end == v || *end != '\0' || !isfinite(x))
        return clae_fail(CLAE_ERR_FORMAT, "%s: metadata '%s' = '%s' is not a finite number", f->path, key, v);
    *out = x;
    return CLAE_OK;
}
