/* npy.c — the NPY reader ('<f4', '<f8' and '|u1' arrays in C order, format 1.0 to 3.0; files, .gz, stdin)
 * and the NPY matrix writer ('<f4', temp file + rename). */
#include <ctype.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clae.h"
#include "io/byteorder.h"
#include "io/dataio.h"
#include "io/datasrc.h"
#include "io/safetensors.h" /* clae_atomic_* */
#include "runtime/error.h"

/* Bytes read and converted per fread for NPY data: the same trade-off as the
 * IDX reader's chunk. */
#define NPY_CHUNK (64u * 1024u)

/* The longest NPY header accepted. numpy writes a few hundred bytes; format
 * 2.0 allows 4 GB, but a header that large is corruption, not a real array. */
#define NPY_MAX_HEADER (1u << 20)

const unsigned char clae_npy_magic[6] = {0x93, 'N', 'U', 'M', 'P', 'Y'};

typedef enum { NPY_F4, NPY_F8, NPY_U1 } npy_dtype;

typedef struct npy_header {
    int have_descr, have_fortran, have_shape;
    char descr[32];
    int fortran;
    int ndim;
    size_t shape[32];
} npy_header;

/* A cursor over the header, a Python dict literal as numpy writes it:
 * {'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), } */
typedef struct npy_cursor {
    const char *p, *end;
    const char *path;
} npy_cursor;

static void npy_ws(npy_cursor *c)
{
    while (c->p < c->end && isspace((unsigned char)*c->p)) c->p++;
}

static int npy_eat(npy_cursor *c, char ch)
{
    npy_ws(c);
    if (c->p < c->end && *c->p == ch) {
        c->p++;
        return 1;
    }
    return 0;
}

/* A quoted string ('...' or "...") into buf; 0 if there is none or it does not fit. */
static int npy_string(npy_cursor *c, char *buf, size_t cap)
{
    npy_ws(c);
    if (c->p >= c->end || (*c->p != '\'' && *c->p != '"')) return 0;
    char q = *c->p++;
    size_t n = 0;
    while (c->p < c->end && *c->p != q) {
        if (n + 1 >= cap) return 0;
        buf[n++] = *c->p++;
    }
    if (c->p >= c->end) return 0;
    c->p++;
    buf[n] = '\0';
    return 1;
}

static clae_status npy_bad_header(const npy_cursor *c, const char *hdr, const char *what)
{
    return clae_fail(CLAE_ERR_FORMAT, "%s: NPY header: %s at byte %zu", c->path, what, (size_t)(c->p - hdr));
}

static clae_status npy_parse_header(const char *path, const char *hdr, size_t len, npy_header *h)
{
    npy_cursor c = {hdr, hdr + len, path};
    memset(h, 0, sizeof *h);
    if (!npy_eat(&c, '{')) return npy_bad_header(&c, hdr, "expected '{'");
    for (;;) {
        if (npy_eat(&c, '}')) break;
        char key[32];
        if (!npy_string(&c, key, sizeof key)) return npy_bad_header(&c, hdr, "expected a quoted key");
        if (!npy_eat(&c, ':')) return npy_bad_header(&c, hdr, "expected ':'");
        npy_ws(&c);
        if (strcmp(key, "descr") == 0) {
            if (c.p < c.end && *c.p == '[')
                return clae_fail(CLAE_ERR_FORMAT, "%s: structured NPY dtype not supported (clae reads '<f4', "
                                 "'<f8' and '|u1')", path);
            if (!npy_string(&c, h->descr, sizeof h->descr)) return npy_bad_header(&c, hdr, "bad 'descr'");
            h->have_descr = 1;
        } else if (strcmp(key, "fortran_order") == 0) {
            if ((size_t)(c.end - c.p) >= 4 && memcmp(c.p, "True", 4) == 0) {
                h->fortran = 1;
                c.p += 4;
            } else if ((size_t)(c.end - c.p) >= 5 && memcmp(c.p, "False", 5) == 0) {
                h->fortran = 0;
                c.p += 5;
            } else {
                return npy_bad_header(&c, hdr, "'fortran_order' is not True or False");
            }
            h->have_fortran = 1;
        } else if (strcmp(key, "shape") == 0) {
            if (!npy_eat(&c, '(')) return npy_bad_header(&c, hdr, "'shape' is not a tuple");
            for (;;) {
                if (npy_eat(&c, ')')) break;
                npy_ws(&c);
                if (c.p >= c.end || !isdigit((unsigned char)*c.p))
                    return npy_bad_header(&c, hdr, "expected a dimension");
                size_t v = 0;
                while (c.p < c.end && isdigit((unsigned char)*c.p)) {
                    size_t dgt = (size_t)(*c.p++ - '0');
                    if (v > (SIZE_MAX - dgt) / 10) return npy_bad_header(&c, hdr, "dimension overflows");
                    v = v * 10 + dgt;
                }
                if (c.p < c.end && *c.p == 'L') c.p++; /* Python 2 longs in old files */
                if (h->ndim == (int)(sizeof h->shape / sizeof h->shape[0]))
                    return npy_bad_header(&c, hdr, "too many dimensions");
                h->shape[h->ndim++] = v;
                if (npy_eat(&c, ')')) break;
                if (!npy_eat(&c, ',')) return npy_bad_header(&c, hdr, "expected ',' or ')' in 'shape'");
            }
            h->have_shape = 1;
        } else {
            return clae_fail(CLAE_ERR_FORMAT, "%s: NPY header has an unexpected key '%s'", path, key);
        }
        if (npy_eat(&c, '}')) break;
        if (!npy_eat(&c, ',')) return npy_bad_header(&c, hdr, "expected ',' or '}'");
    }
    if (!h->have_descr) return clae_fail(CLAE_ERR_FORMAT, "%s: NPY header has no 'descr'", path);
    if (!h->have_fortran) return clae_fail(CLAE_ERR_FORMAT, "%s: NPY header has no 'fortran_order'", path);
    if (!h->have_shape) return clae_fail(CLAE_ERR_FORMAT, "%s: NPY header has no 'shape'", path);
    return CLAE_OK;
}

static uint32_t le32(const unsigned char *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

clae_status clae_npy_load_src(clae_src *src, clae_dataset **out)
{
    const char *path = src->name;
    unsigned char pre[12];
    size_t n = clae_src_read(src, pre, 8);
    if (src->st != CLAE_OK) return src->st;
    /* Like the IDX reader: until the magic is recognised a short file is just
     * not NPY (format); after it, every shortfall is truncation. */
    if (n < 6 || memcmp(pre, clae_npy_magic, 6) != 0)
        return clae_fail(CLAE_ERR_FORMAT, "%s: not an NPY file (no \\x93NUMPY magic string)", path);
    if (n < 8) return clae_fail(CLAE_ERR_TRUNCATED, "%s: truncated: NPY file ends inside its version", path);
    unsigned major = pre[6], minor = pre[7];
    if (major < 1 || major > 3)
        return clae_fail(CLAE_ERR_FORMAT, "%s: NPY format version %u.%u not supported (1.0, 2.0, 3.0)", path, major,
                         minor);
    size_t lenbytes = major == 1 ? 2 : 4;
    if (clae_src_read(src, pre + 8, lenbytes) != lenbytes)
        return src->st != CLAE_OK ? src->st : clae_fail(CLAE_ERR_TRUNCATED, "%s: truncated: NPY file ends inside its header length", path);
    size_t hlen = major == 1 ? (size_t)pre[8] | ((size_t)pre[9] << 8) : (size_t)le32(pre + 8);
    if (hlen > NPY_MAX_HEADER)
        return clae_fail(CLAE_ERR_FORMAT, "%s: NPY header length %zu is implausible", path, hlen);
    char *hdr = malloc(hlen + 1);
    if (!hdr) return clae_fail(CLAE_ERR_NOMEM, "%s: out of memory", path);
    size_t got = clae_src_read(src, hdr, hlen);
    if (got != hlen) {
        free(hdr);
        if (src->st != CLAE_OK) return src->st;
        return clae_fail(CLAE_ERR_TRUNCATED, "%s: truncated: NPY header is %zu bytes, file has %zu", path, hlen, got);
    }
    hdr[hlen] = '\0';
    npy_header h;
    clae_status st = npy_parse_header(path, hdr, hlen, &h);
    free(hdr);
    if (st != CLAE_OK) return st;

    npy_dtype dt;
    size_t es;
    if (strcmp(h.descr, "<f4") == 0) {
        dt = NPY_F4;
        es = 4;
    } else if (strcmp(h.descr, "<f8") == 0) {
        dt = NPY_F8;
        es = 8;
    } else if (strcmp(h.descr, "|u1") == 0 || strcmp(h.descr, "<u1") == 0 || strcmp(h.descr, ">u1") == 0 ||
               strcmp(h.descr, "=u1") == 0) {
        /* Byte order means nothing for one byte; numpy writes '|'. */
        dt = NPY_U1;
        es = 1;
    } else {
        return clae_fail(CLAE_ERR_FORMAT, "%s: NPY dtype '%s' not supported (clae reads '<f4', '<f8' and '|u1')",
                         path, h.descr);
    }
    if (h.fortran)
        return clae_fail(CLAE_ERR_FORMAT,
                         "%s: NPY array is in Fortran order (fortran_order: True); save it in C order "
                         "(numpy.ascontiguousarray)", path);
    if (h.ndim == 0) return clae_fail(CLAE_ERR_FORMAT, "%s: NPY array has shape () (a scalar, not rows)", path);
    for (int d = 0; d < h.ndim; d++)
        if (h.shape[d] == 0) return clae_fail(CLAE_ERR_FORMAT, "%s: NPY dimension %d is 0", path, d);
    size_t rows = h.shape[0], cols = 1;
    for (int d = 1; d < h.ndim; d++) {
        if (cols > SIZE_MAX / h.shape[d])
            return clae_fail(CLAE_ERR_FORMAT, "%s: NPY dimensions overflow the address space", path);
        cols *= h.shape[d];
    }
    if (cols > SIZE_MAX / sizeof(double) / rows)
        return clae_fail(CLAE_ERR_FORMAT, "%s: NPY dimensions overflow the address space", path);
    size_t total = rows * cols;

    float *x = malloc(total * sizeof *x);
    unsigned char *chunk = x ? malloc(NPY_CHUNK) : NULL;
    if (!chunk) {
        free(x);
        return clae_fail(CLAE_ERR_NOMEM, "%s: cannot allocate %zu x %zu floats", path, rows, cols);
    }
    size_t done = 0; /* elements */
    const size_t per = NPY_CHUNK / es;
    while (done < total && st == CLAE_OK) {
        size_t want = total - done < per ? total - done : per;
        size_t bytes = clae_src_read(src, chunk, want * es);
        if (src->st != CLAE_OK) {
            st = src->st;
            break;
        }
        size_t k, m = bytes / es;
        for (k = 0; k < m; k++) {
            const unsigned char *p = chunk + k * es;
            double v;
            if (dt == NPY_U1) {
                /* Stored bytes are divided by their range (the rule at clae_dataset in
                 * clae.h), by the IDX reader's expression: the same bytes load as the
                 * same floats. */
                v = (float)p[0] / 255.0f;
            } else if (dt == NPY_F4) {
                uint32_t u = le32(p);
                float f;
                memcpy(&f, &u, sizeof f);
                v = f;
            } else {
                uint64_t u = (uint64_t)le32(p) | ((uint64_t)le32(p + 4) << 32);
                memcpy(&v, &u, sizeof v);
            }
            if (!isfinite(v) || fabs(v) >= CLAE_FLOAT_OVERFLOW) {
                size_t e = done + k;
                st = clae_fail(CLAE_ERR_FORMAT, "%s: row %zu, column %zu (from 0): %g %s", path, e / cols, e % cols, v,
                               isfinite(v) ? "is out of float range" : "is not a finite number");
                break;
            }
            x[done + k] = (float)v;
        }
        done += m;
        if (st == CLAE_OK && bytes < want * es)
            st = clae_fail(CLAE_ERR_TRUNCATED, "%s: truncated: NPY header promises %zu bytes of data, file has %zu",
                           path, total * es, done * es + bytes % es);
    }
    free(chunk);
    if (st != CLAE_OK) {
        free(x);
        return st;
    }
    return clae_dataset_wrap(path, CLAE_FORMAT_NPY, x, rows, cols, NULL, out);
}

clae_status clae_dataset_load_npy(const char *path, clae_dataset **out)
{
    return clae_dataset_load_with(path, out, "clae_dataset_load_npy", clae_npy_load_src);
}

clae_status clae_matrix_save_npy(const char *path, const float *x, size_t rows, size_t cols)
{
    if (!path || (!x && rows > 0 && cols > 0))
        return clae_fail(CLAE_ERR_ARG, "clae_matrix_save_npy: path and x must not be NULL");
    char dict[160];
    int dlen = snprintf(dict, sizeof dict, "{'descr': '<f4', 'fortran_order': False, 'shape': (%zu, %zu), }", rows,
                        cols);
    /* magic(6) + version(2) + length(2) + header, padded with spaces and a final
     * '\n' to a multiple of 64 bytes, as numpy does for aligned memory maps. */
    size_t total = 10 + (size_t)dlen + 1;
    total = (total + 63) & ~(size_t)63;
    size_t hlen = total - 10;
    unsigned char pre[10];
    memcpy(pre, clae_npy_magic, 6);
    pre[6] = 1;
    pre[7] = 0;
    pre[8] = (unsigned char)(hlen & 0xff);
    pre[9] = (unsigned char)(hlen >> 8);

    clae_atomic_file af;
    clae_status st = clae_atomic_open(&af, path);
    if (st != CLAE_OK) return st;
    clae_atomic_write(&af, pre, sizeof pre);
    clae_atomic_write(&af, dict, (size_t)dlen);
    for (size_t k = 10 + (size_t)dlen; k + 1 < total; k++) fputc(' ', af.fp);
    fputc('\n', af.fp);
    clae_atomic_note(&af);
    size_t n = rows * cols;
    if (clae_host_little_endian()) {
        clae_atomic_write(&af, x, n * sizeof *x);
    } else {
        for (size_t k = 0; k < n && !clae_atomic_note(&af); k++) {
            uint32_t u;
            memcpy(&u, &x[k], sizeof u);
            unsigned char b[4] = {(unsigned char)u, (unsigned char)(u >> 8), (unsigned char)(u >> 16),
                                  (unsigned char)(u >> 24)};
            fwrite(b, 1, 4, af.fp);
        }
    }
    return clae_atomic_commit(&af);
}
