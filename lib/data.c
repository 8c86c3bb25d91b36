/* data.c — IDX (MNIST / Fashion-MNIST) loading, row gathering and the per-epoch shuffle.
 * Files are read through zlib so plain and gzip-compressed IDX files take the same path. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "clae.h"
#include "error.h"

#define IDX_TYPE_UBYTE 0x08

/* Bytes of decompressed data converted per gzread call: large enough to keep
 * zlib's per-call overhead negligible, small enough to stay in cache. */
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

/* Reads up to len bytes. Returns the count read (short only at end of data) or
 * -1 with the error already reported. A gzip stream that stops early is not
 * an error here: the caller turns the short count into CLAE_ERR_TRUNCATED, which
 * says more than zlib's "unexpected end of file". */
static long idx_read(gzFile f, const char *path, unsigned char *buf, unsigned len, clae_status *st)
{
    unsigned got = 0;
    while (got < len) {
        int n = gzread(f, buf + got, len - got);
        if (n > 0) {
            got += (unsigned)n;
            continue;
        }
        int zerr = Z_OK;
        const char *msg = gzerror(f, &zerr);
        /* End of data, or a compressed stream cut short: zlib 1.2.13 returns 0
         * and keeps Z_BUF_ERROR pending; should a -1 carry it, it is still the
         * end, reported by the caller as truncation with the byte counts. */
        if (zerr == Z_OK || zerr == Z_BUF_ERROR) break;
        if (zerr == Z_ERRNO) {
            *st = clae_fail(CLAE_ERR_IO, "%s: read error: %s", path, strerror(errno));
        } else if (zerr == Z_MEM_ERROR) {
            *st = clae_fail(CLAE_ERR_NOMEM, "%s: out of memory while decompressing", path);
        } else {
            *st = clae_fail(CLAE_ERR_FORMAT, "%s: corrupt gzip data: %s", path, msg ? msg : "?");
        }
        return -1;
    }
    return (long)got;
}

static clae_status idx_load(gzFile f, const char *path, clae_dataset **out)
{
    clae_status st = CLAE_OK;
    unsigned char hdr[4 + 4 * 4];

    long n = idx_read(f, path, hdr, 4, &st);
    if (n < 0) return st;
    /* A file too short to hold the magic cannot be recognised as IDX at all, so
     * this is a format error; once the magic is valid, every shortfall after it
     * (dimensions or data) is CLAE_ERR_TRUNCATED. */
    if (n < 4)
        return clae_fail(CLAE_ERR_FORMAT,
                         "%s: not an IDX file (%ld bytes; an IDX header needs at least 4)", path, n);
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

    n = idx_read(f, path, hdr + 4, (unsigned)(4 * ndim), &st);
    if (n < 0) return st;
    if (n < 4 * ndim)
        return clae_fail(CLAE_ERR_TRUNCATED,
                         "%s: truncated: header declares %d dimensions (%d bytes), file has %ld", path,
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
    size_t done = 0;
    while (done < total) {
        unsigned want = total - done < IDX_CHUNK ? (unsigned)(total - done) : IDX_CHUNK;
        n = idx_read(f, path, chunk, want, &st);
        if (n < 0) break;
        for (long k = 0; k < n; k++) x[done + (size_t)k] = (float)chunk[k] / 255.0f;
        done += (size_t)n;
        if ((unsigned)n < want) {
            st = clae_fail(CLAE_ERR_TRUNCATED, "%s: truncated: header promises %zu bytes of data, file has %zu",
                           path, total, done);
            break;
        }
    }
    /* zlib checks a member's CRC when inflate reaches its end, which normally
     * happens with the last data bytes; one read past the data makes sure of it,
     * so corrupt compressed data never loads as wrong pixels. Anything after the
     * data is otherwise ignored: it cannot change what the header describes. */
    if (st == CLAE_OK) idx_read(f, path, chunk, 1, &st);
    free(chunk);
    if (st != CLAE_OK) {
        free(x);
        free(ds);
        return st;
    }
    ds->rows = rows;
    ds->cols = cols;
    ds->x = x;
    snprintf(ds->path, sizeof ds->path, "%s", path);
    *out = ds;
    return CLAE_OK;
}

clae_status clae_dataset_load_idx(const char *path, clae_dataset **out)
{
    if (out) *out = NULL;
    if (!path || !out) return clae_fail(CLAE_ERR_ARG, "clae_dataset_load_idx: path and out must not be NULL");
    errno = 0;
    gzFile f = gzopen(path, "rb");
    if (!f) {
        if (errno == 0) return clae_fail(CLAE_ERR_NOMEM, "%s: cannot open: out of memory", path);
        return clae_fail(CLAE_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    }
    clae_status st = idx_load(f, path, out);
    gzclose(f);
    return st;
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

void clae_dataset_free(clae_dataset *ds)
{
    if (!ds) return;
    free(ds->x);
    free(ds);
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
