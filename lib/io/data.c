/* data.c — the byte source every reader takes, IDX (MNIST / Fashion-MNIST) loading, column dropping,
 * splitting, row gathering and the per-epoch shuffle. Input goes through zlib: plain and gzip take one path. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zlib.h>

#include "clae.h"
#include "io/dataio.h"
#include "io/datasrc.h"
#include "runtime/error.h"

#define IDX_TYPE_UBYTE 0x08

/* Bytes converted per read: small enough to stay in cache. */
#define IDX_CHUNK (64u * 1024u)

/* The stream tag that separates the shuffle's Philox words from every other
 * use of the same seed (weights, dropout, ...). */
#define SHUFFLE_STREAM 8u

static const char *idx_type_name(int type)
{
    switch (type) {
    case 0x08: return "unsigned byte";
    case 0x09: return "signed byte";
    case 0x0B: return "int16";
    case 0x0C: return "int32";
    case 0x0D: return "float32";
    case 0x0E: return "float64";
    default: return NULL;
    }
}

/* ------------------------------------------------------------------------ */
/* The byte source (datasrc.h)                                               */
/* ------------------------------------------------------------------------ */

/* The look-ahead buffer: a whole chunk of decompressed data per gzread keeps
 * zlib's per-call overhead negligible. */
#define SRC_BUF (64u * 1024u)
#define SRC_PEEK_MAX 4096u

clae_status clae_src_open(clae_src *s, const char *path)
{
    memset(s, 0, sizeof *s);
    const int is_stdin = strcmp(path, "-") == 0;
    snprintf(s->name, sizeof s->name, "%s", is_stdin ? CLAE_STDIN_NAME : path);
    s->buf = malloc(SRC_BUF);
    if (!s->buf) return clae_fail(CLAE_ERR_NOMEM, "%s: cannot open: out of memory", s->name);
    errno = 0;
    if (is_stdin) {
        /* A duplicate, so gzclose leaves the process's standard input open. */
        int fd = dup(STDIN_FILENO);
        if (fd >= 0) {
            s->f = gzdopen(fd, "rb");
            if (!s->f) close(fd);
        }
    } else {
        s->f = gzopen(path, "rb");
    }
    if (!s->f) {
        int e = errno;
        free(s->buf);
        s->buf = NULL;
        if (e == 0) return clae_fail(CLAE_ERR_NOMEM, "%s: cannot open: out of memory", s->name);
        return clae_fail(CLAE_ERR_IO, "%s: cannot open: %s", s->name, strerror(e));
    }
    gzbuffer(s->f, 128u * 1024u);
    return CLAE_OK;
}

void clae_src_close(clae_src *s)
{
    if (!s) return;
    if (s->f) gzclose(s->f);
    free(s->buf);
    s->f = NULL;
    s->buf = NULL;
}

/* Moves the unread bytes to the front and reads more behind them. Returns 0
 * when nothing more came: the end of the data, or an error (s->st). */
static int src_fill(clae_src *s)
{
    if (s->eof || s->st != CLAE_OK) return 0;
    if (s->pos > 0) {
        memmove(s->buf, s->buf + s->pos, s->len - s->pos);
        s->len -= s->pos;
        s->pos = 0;
    }
    if (s->len == SRC_BUF) return 1;
    int n = gzread(s->f, s->buf + s->len, (unsigned)(SRC_BUF - s->len));
    if (n > 0) {
        s->len += (size_t)n;
        return 1;
    }
    int zerr = Z_OK;
    const char *msg = gzerror(s->f, &zerr);
    /* End of data, or a compressed stream cut short: zlib 1.2.13 returns 0
     * and keeps Z_BUF_ERROR pending; should a -1 carry it, it is still the
     * end, reported by the reader as truncation with the byte counts. */
    if (zerr == Z_OK || zerr == Z_BUF_ERROR) {
        s->eof = 1;
    } else if (zerr == Z_ERRNO) {
        s->st = clae_fail(CLAE_ERR_IO, "%s: read error: %s", s->name, strerror(errno));
    } else if (zerr == Z_MEM_ERROR) {
        s->st = clae_fail(CLAE_ERR_NOMEM, "%s: out of memory while decompressing", s->name);
    } else {
        s->st = clae_fail(CLAE_ERR_FORMAT, "%s: corrupt gzip data: %s", s->name, msg ? msg : "?");
    }
    return 0;
}

size_t clae_src_read(clae_src *s, void *dst, size_t n)
{
    unsigned char *d = dst;
    size_t got = 0;
    while (got < n) {
        if (s->pos == s->len && !src_fill(s)) break;
        size_t k = s->len - s->pos;
        if (k > n - got) k = n - got;
        memcpy(d + got, s->buf + s->pos, k);
        s->pos += k;
        got += k;
    }
    return got;
}

size_t clae_src_peek(clae_src *s, const unsigned char **p, size_t n)
{
    if (n > SRC_PEEK_MAX) n = SRC_PEEK_MAX;
    while (s->len - s->pos < n && src_fill(s)) {
    }
    *p = s->buf + s->pos;
    return s->len - s->pos < n ? s->len - s->pos : n;
}

long clae_src_getline(clae_src *s, char **line, size_t *cap)
{
    size_t n = 0;
    for (;;) {
        if (s->pos == s->len && !src_fill(s)) break;
        const unsigned char *start = s->buf + s->pos;
        const size_t avail = s->len - s->pos;
        const unsigned char *nl = memchr(start, '\n', avail);
        const size_t take = nl ? (size_t)(nl - start) + 1 : avail;
        if (n + take + 1 > *cap) {
            size_t c = *cap ? 2 * *cap : 256;
            while (c < n + take + 1) c *= 2;
            char *grown = realloc(*line, c);
            if (!grown) {
                s->st = clae_fail(CLAE_ERR_NOMEM, "%s: out of memory for a %zu-byte line", s->name, n + take);
                return -1;
            }
            *line = grown;
            *cap = c;
        }
        memcpy(*line + n, start, take);
        n += take;
        s->pos += take;
        if (nl) break;
    }
    if (s->st != CLAE_OK || n == 0) return -1;
    (*line)[n] = '\0';
    return (long)n;
}

/* ------------------------------------------------------------------------ */
/* IDX                                                                       */
/* ------------------------------------------------------------------------ */

clae_status clae_idx_load_src(clae_src *f, clae_dataset **out)
{
    const char *path = f->name;
    unsigned char hdr[4 + 4 * 4];

    size_t n = clae_src_read(f, hdr, 4);
    if (f->st != CLAE_OK) return f->st;
    /* A file too short to hold the magic cannot be recognised as IDX at all, so
     * this is a format error; once the magic is valid, every shortfall after it
     * (dimensions or data) is CLAE_ERR_TRUNCATED. */
    if (n < 4)
        return clae_fail(CLAE_ERR_FORMAT,
                         "%s: not an IDX file (%zu bytes; an IDX header needs at least 4)", path, n);
    unsigned magic = ((unsigned)hdr[0] << 24) | ((unsigned)hdr[1] << 16) | ((unsigned)hdr[2] << 8) | hdr[3];
    const char *tname = idx_type_name(hdr[2]);
    if (hdr[0] != 0 || hdr[1] != 0 || !tname)
        return clae_fail(CLAE_ERR_FORMAT, "%s: not an IDX file (magic 0x%08x, expected 0x000008nn)", path,
                         magic);
    if (hdr[2] != IDX_TYPE_UBYTE)
        return clae_fail(CLAE_ERR_FORMAT,
                         "%s: IDX type 0x%02x (%s) not supported (expected 0x08 unsigned byte)", path,
                         (unsigned)hdr[2], tname);
    int ndim = hdr[3];
    if (ndim < 1 || ndim > 4)
        return clae_fail(CLAE_ERR_FORMAT, "%s: IDX header declares %d dimensions (expected 1 to 4)", path,
                         ndim);

    n = clae_src_read(f, hdr + 4, (size_t)(4 * ndim));
    if (f->st != CLAE_OK) return f->st;
    if (n < (size_t)(4 * ndim))
        return clae_fail(CLAE_ERR_TRUNCATED,
                         "%s: truncated: header declares %d dimensions (%d bytes), file has %zu", path,
                         ndim, 4 * ndim, n);

    size_t dims[4];
    for (int d = 0; d < ndim; d++) {
        const unsigned char *p = hdr + 4 + 4 * d;
        uint32_t v = ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
        /* An empty dimension would give a dataset nothing can train on; reject it
         * here so callers never have to special-case zero rows or columns. */
        if (v == 0) return clae_fail(CLAE_ERR_FORMAT, "%s: IDX dimension %d is 0", path, d);
        dims[d] = v;
    }
    size_t rows = dims[0], cols = 1;
    for (int d = 1; d < ndim; d++) {
        if (cols > SIZE_MAX / dims[d])
            return clae_fail(CLAE_ERR_FORMAT, "%s: IDX dimensions overflow the address space", path);
        cols *= dims[d];
    }
    if (cols > SIZE_MAX / sizeof(float) / rows)
        return clae_fail(CLAE_ERR_FORMAT, "%s: IDX dimensions overflow the address space", path);
    size_t total = rows * cols;

    clae_dataset *ds = calloc(1, sizeof *ds);
    unsigned char *chunk = malloc(IDX_CHUNK);
    float *x = ds && chunk ? malloc(total * sizeof *x) : NULL;
    if (!x) {
        free(ds);
        free(chunk);
        return clae_fail(CLAE_ERR_NOMEM, "%s: cannot allocate %zu x %zu floats", path, rows, cols);
    }

    /* Convert chunk by chunk so the uint8 copy of the data is never held whole. */
    clae_status st = CLAE_OK;
    size_t done = 0;
    while (done < total) {
        size_t want = total - done < IDX_CHUNK ? total - done : IDX_CHUNK;
        n = clae_src_read(f, chunk, want);
        if (f->st != CLAE_OK) {
            st = f->st;
            break;
        }
        /* Stored unsigned bytes are divided by their range, the rule every
         * reader shares (clae.h, "Data in and out"). */
        for (size_t k = 0; k < n; k++) x[done + k] = (float)chunk[k] / 255.0f;
        done += n;
        if (n < want) {
            st = clae_fail(CLAE_ERR_TRUNCATED, "%s: truncated: header promises %zu bytes of data, file has %zu",
                           path, total, done);
            break;
        }
    }
    /* zlib checks a member's CRC when inflate reaches its end, which normally
     * happens with the last data bytes; one read past the data makes sure of it,
     * so corrupt compressed data never loads as wrong pixels. Anything after the
     * data is otherwise ignored: it cannot change what the header describes. */
    if (st == CLAE_OK) {
        clae_src_read(f, chunk, 1);
        st = f->st;
    }
    free(chunk);
    if (st != CLAE_OK) {
        free(x);
        free(ds);
        return st;
    }
    ds->rows = rows;
    ds->cols = cols;
    ds->x = x;
    ds->format = CLAE_FORMAT_IDX;
    snprintf(ds->path, sizeof ds->path, "%s", path);
    *out = ds;
    return CLAE_OK;
}

clae_status clae_dataset_load_idx(const char *path, clae_dataset **out)
{
    return clae_dataset_load_with(path, out, "clae_dataset_load_idx", clae_idx_load_src);
}

void clae_dataset_truncate(clae_dataset *ds, size_t rows)
{
    if (!ds || rows >= ds->rows) return;
    ds->rows = rows;
    /* Give the memory back when it is worth it; a failed shrink keeps the old block. */
    if (rows > 0) {
        float *x = realloc(ds->x, rows * ds->cols * sizeof *x);
        if (x) ds->x = x;
    }
}

static void free_names(char **names, size_t n)
{
    if (!names) return;
    for (size_t j = 0; j < n; j++) free(names[j]);
    free(names);
}

void clae_dataset_free(clae_dataset *ds)
{
    if (!ds) return;
    free_names(ds->names, ds->cols);
    free(ds->x);
    free(ds);
}

clae_status clae_dataset_drop_columns(clae_dataset *ds, const size_t *cols, size_t n)
{
    if (!ds || !ds->x || (n > 0 && !cols))
        return clae_fail(CLAE_ERR_ARG, "clae_dataset_drop_columns: dataset and column list must not be NULL");
    const size_t C = ds->cols;
    unsigned char *drop = calloc(C ? C : 1, 1);
    if (!drop) return clae_fail(CLAE_ERR_NOMEM, "%s: out of memory dropping columns", ds->path);
    size_t dropped = 0;
    for (size_t k = 0; k < n; k++) {
        if (cols[k] >= C) {
            free(drop);
            return clae_fail(CLAE_ERR_ARG, "%s: column %zu (from 0) does not exist: the data has %zu columns",
                             ds->path, cols[k], C);
        }
        dropped += !drop[cols[k]];
        drop[cols[k]] = 1;
    }
    if (dropped == C) {
        free(drop);
        return clae_fail(CLAE_ERR_ARG, "%s: dropping %zu of %zu columns leaves none", ds->path, dropped, C);
    }
    if (dropped == 0) {
        free(drop);
        return CLAE_OK;
    }
    const size_t K = C - dropped;
    /* In place, row by row: the write position never passes the read position. */
    for (size_t r = 0; r < ds->rows; r++) {
        const float *src = ds->x + r * C;
        float *dst = ds->x + r * K;
        size_t w = 0;
        for (size_t j = 0; j < C; j++)
            if (!drop[j]) dst[w++] = src[j];
    }
    if (ds->names) {
        size_t w = 0;
        for (size_t j = 0; j < C; j++) {
            if (drop[j]) free(ds->names[j]);
            else ds->names[w++] = ds->names[j];
        }
    }
    free(drop);
    ds->cols = K;
    /* Never realloc to 0 bytes (a truncated, empty dataset): that may free the block. */
    if (ds->rows > 0) {
        float *x = realloc(ds->x, ds->rows * K * sizeof *x);
        if (x) ds->x = x;
    }
    return CLAE_OK;
}

clae_status clae_dataset_split(clae_dataset *ds, size_t rows, clae_dataset **tail)
{
    if (tail) *tail = NULL;
    if (!ds || !ds->x || !tail) return clae_fail(CLAE_ERR_ARG, "clae_dataset_split: dataset and tail must not be NULL");
    if (rows == 0 || rows >= ds->rows)
        return clae_fail(CLAE_ERR_ARG, "%s: cannot split %zu rows after row %zu: both parts need a row", ds->path,
                         ds->rows, rows);
    const size_t C = ds->cols, n = ds->rows - rows;
    clae_dataset *t = calloc(1, sizeof *t);
    float *x = t ? malloc(n * C * sizeof *x) : NULL;
    char **names = ds->names && x ? calloc(C, sizeof *names) : NULL;
    int ok = x && (!ds->names || names);
    for (size_t j = 0; ok && names && j < C; j++) {
        names[j] = strdup(ds->names[j]);
        if (!names[j]) ok = 0;
    }
    if (!ok) {
        free_names(names, C);
        free(x);
        free(t);
        return clae_fail(CLAE_ERR_NOMEM, "%s: out of memory splitting off %zu rows", ds->path, n);
    }
    memcpy(x, ds->x + rows * C, n * C * sizeof *x);
    *t = *ds;
    t->x = x;
    t->rows = n;
    t->names = names;
    clae_dataset_truncate(ds, rows);
    *tail = t;
    return CLAE_OK;
}

void clae_shuffle_order(size_t rows, uint64_t seed, uint32_t epoch, size_t *order)
{
    if (!order) return;
    for (size_t k = 0; k < rows; k++) order[k] = k;
    const uint32_t key[2] = {(uint32_t)seed, (uint32_t)(seed >> 32)};
    /* Each swap has its own counter, so the order depends only on (seed, epoch,
     * rows) and not on how a platform's RNG state would advance. The
     * multiply-shift maps a 32-bit word onto [0, i] without a division. */
    for (size_t i = rows > 0 ? rows - 1 : 0; i >= 1; i--) {
        const uint32_t ctr[4] = {(uint32_t)i, (uint32_t)((uint64_t)i >> 32), epoch, SHUFFLE_STREAM};
        uint32_t w[4];
        clae_philox4x32_10(ctr, key, w);
        size_t j = (uint32_t)(((uint64_t)w[0] * (uint64_t)(i + 1)) >> 32);
        size_t t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
}

clae_status clae_dataset_gather(const clae_dataset *ds, const size_t *idx, size_t n, float *out)
{
    if (!ds || (n > 0 && (!idx || !out)))
        return clae_fail(CLAE_ERR_ARG, "clae_dataset_gather: dataset, indices and output must not be NULL");
    /* Check every index first so a bad one leaves out untouched. */
    for (size_t k = 0; k < n; k++)
        if (idx[k] >= ds->rows)
            return clae_fail(CLAE_ERR_ARG, "%s: gather index %zu (at position %zu) out of range: %zu rows",
                             ds->path, idx[k], k, ds->rows);
    for (size_t k = 0; k < n; k++) memcpy(out + k * ds->cols, ds->x + idx[k] * ds->cols, ds->cols * sizeof *out);
    return CLAE_OK;
}
