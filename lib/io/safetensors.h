/* safetensors.h — internal writer and validating reader for the safetensors format (model files, checkpoints),
 * plus the temp-file-and-rename helper every clae file writer shares. Not part of the public API. */
#ifndef CLAE_SAFETENSORS_H
#define CLAE_SAFETENSORS_H

#include <stdint.h>
#include <stdio.h>

#include "clae.h"

/* The layout (https://github.com/huggingface/safetensors, "Format"):
 *   8 bytes   N, unsigned little-endian
 *   N bytes   JSON object: optional "__metadata__": {string: string}, and per
 *             tensor "<name>": {"dtype": "F32", "shape": [..], "data_offsets": [b, e]}
 *             (the writer pads it with spaces so the data starts 8-aligned)
 *   rest      the byte buffer: every tensor's little-endian elements, row-major;
 *             offsets are relative to the buffer's start, and the tensors cover
 *             it exactly, without holes or overlaps.
 * Dtypes: F32 for weights and optimizer state, I64 for counters (steps, RNG
 * positions), which a float would round. Other dtypes are refused by name. */

#define CLAE_ST_MAX_DIMS 8 /* more than any clae tensor needs; a deeper shape is a format error */

typedef enum clae_st_dtype {
    CLAE_ST_F32 = 0,
    CLAE_ST_I64,
    CLAE_ST_DTYPE_COUNT
} clae_st_dtype;

/* "F32", "I64" — the spellings the format uses. */
const char *clae_st_dtype_name(clae_st_dtype dt);

/* ---- writing ---- */

typedef struct clae_st_writer clae_st_writer;

/* An empty writer. CLAE_ERR_NOMEM if it cannot be allocated. */
clae_status clae_st_writer_create(clae_st_writer **out);

/* Frees the writer and its copies of the tensors. NULL is allowed. */
void clae_st_writer_free(clae_st_writer *w);

/* Adds a tensor, copying prod(shape) elements from data (so the caller's
 * buffer may be reused at once). ndim may be 0 (a scalar, one element);
 * dims may be 0 (an empty tensor). Tensors are stored in the order added.
 * CLAE_ERR_ARG for an empty or duplicate name, the reserved name
 * "__metadata__", ndim > CLAE_ST_MAX_DIMS, or a size that overflows. */
clae_status clae_st_writer_add_f32(clae_st_writer *w, const char *name, const float *data, int ndim,
                                   const size_t *shape);
clae_status clae_st_writer_add_i64(clae_st_writer *w, const char *name, const int64_t *data, int ndim,
                                   const size_t *shape);

/* Sets metadata key to value (both copied; a second call for the same key
 * replaces the value). The format allows only strings, so numbers are the
 * caller's to format (e.g. "%.9g" for a float that must read back exactly). */
clae_status clae_st_writer_set_meta(clae_st_writer *w, const char *key, const char *value);

/* Writes the file: to "<path>.tmp.<pid>", then renamed over path, so a reader
 * never sees half a file and a failed write leaves any old file intact.
 * CLAE_ERR_IO naming the path on any failure (the temporary file is removed). */
clae_status clae_st_writer_save(const clae_st_writer *w, const char *path);

/* ---- reading ---- */

typedef struct clae_st_tensor {
    const char *name;
    clae_st_dtype dtype;
    int ndim;
    size_t shape[CLAE_ST_MAX_DIMS];
    size_t count;      /* prod(shape): 1 for a scalar */
    size_t begin, end; /* data_offsets as stored, relative to the byte buffer */
    /* The elements in host byte order, aligned for their type: a float * for
     * F32, an int64_t * for I64. Owned by the file; valid until clae_st_close(). */
    const void *data;
} clae_st_tensor;

typedef struct clae_st_file clae_st_file;

/* Reads and validates the whole file. Errors, each message naming the file
 * and, where there is one, the tensor or field:
 *   CLAE_ERR_IO        missing, unreadable or not a regular file;
 *   CLAE_ERR_FORMAT    shorter than the 8-byte length, an implausible header
 *                      length, JSON that does not parse or is not an object, a
 *                      tensor entry without dtype/shape/data_offsets or with
 *                      wrong types, an unsupported dtype, a byte range that does
 *                      not match prod(shape)·size, ranges that overlap or leave
 *                      holes, bytes after the last tensor, non-string metadata;
 *   CLAE_ERR_TRUNCATED the file ends before the header or the data it declares.
 * On success the caller frees *out with clae_st_close(). */
clae_status clae_st_open(const char *path, clae_st_file **out);
/* clae_st_open without reading the tensor data: metadata, names, dtypes and
 * shapes (checked as by clae_st_open against the file's size) for a caller that
 * only looks; every tensor's data is NULL, so clae_st_get_* must not be used. */
clae_status clae_st_open_header(const char *path, clae_st_file **out);

/* Frees everything the file owns. NULL is allowed. */
void clae_st_close(clae_st_file *f);

/* The path the file was opened from. */
const char *clae_st_path(const clae_st_file *f);

/* Tensors in the order of their byte ranges (for a clae-written file, the
 * order they were added). i < clae_st_count(f). */
size_t clae_st_count(const clae_st_file *f);
const clae_st_tensor *clae_st_tensor_at(const clae_st_file *f, size_t i);

/* The tensor called name, or NULL. */
const clae_st_tensor *clae_st_find(const clae_st_file *f, const char *name);

/* The F32 tensor called name, checked against the shape the caller expects
 * (ndim dims in shape). CLAE_ERR_FORMAT if it is missing or not F32,
 * CLAE_ERR_SHAPE if its shape differs; both messages name the file and the
 * tensor and show both shapes. On success *data points into the file. */
clae_status clae_st_get_f32(const clae_st_file *f, const char *name, int ndim, const size_t *shape,
                            const float **data);

/* The same for an I64 tensor. */
clae_status clae_st_get_i64(const clae_st_file *f, const char *name, int ndim, const size_t *shape,
                            const int64_t **data);

/* Metadata: the value for key, or NULL when absent. Owned by the file. */
const char *clae_st_meta(const clae_st_file *f, const char *key);

/* Metadata entries in file order, for listing. i < clae_st_meta_count(f). */
size_t clae_st_meta_count(const clae_st_file *f);
void clae_st_meta_at(const clae_st_file *f, size_t i, const char **key, const char **value);

/* A required metadata value parsed as a number: CLAE_ERR_FORMAT naming the
 * file and key when it is missing or not a whole decimal number (u64) / a
 * finite number (double). */
clae_status clae_st_meta_u64(const clae_st_file *f, const char *key, uint64_t *out);
clae_status clae_st_meta_double(const clae_st_file *f, const char *key, double *out);

/* ---- writing any file atomically ---- */

/* A file being written under a temporary name. Shared by every library
 * writer so they all leave either the old file or the complete new one. */
typedef struct clae_atomic_file {
    FILE *fp;        /* write here */
    char *path;      /* the final name */
    char *tmp_path;  /* "<path>.tmp.<pid>" */
    int err;         /* errno of the first failed write, 0 while none (see clae_atomic_note) */
} clae_atomic_file;

/* Creates "<path>.tmp.<pid>" for writing. CLAE_ERR_IO naming it on failure. */
clae_status clae_atomic_open(clae_atomic_file *af, const char *path);

/* Call right after writes to af->fp: returns nonzero once the stream has
 * failed, and the first time also remembers errno, which still holds the
 * failed write's reason (ENOSPC, EFBIG, ...) then; the stream's error flag
 * alone keeps no reason, so commit could only say EIO. */
int clae_atomic_note(clae_atomic_file *af);

/* fwrite to af->fp followed by clae_atomic_note. */
void clae_atomic_write(clae_atomic_file *af, const void *data, size_t size);

/* Closes the temporary file and renames it to the final path; on any error
 * (including one fwrite left pending in the stream) removes the temporary
 * file and returns CLAE_ERR_IO naming the path. Always releases af. */
clae_status clae_atomic_commit(clae_atomic_file *af);

/* Closes and removes the temporary file (after a failure). Releases af. */
void clae_atomic_abort(clae_atomic_file *af);

#endif
