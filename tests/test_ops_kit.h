/* test_ops_kit.h — what the op suites share: the OK() assertion, the two op tables by path, and
 * device buffers wrapped in guard zones so offsets are exercised and stray writes are caught. */
#ifndef CLAE_TEST_OPS_KIT_H
#define CLAE_TEST_OPS_KIT_H

#include "ops/ops.h"
#include "test_util.h"

#define OK(expr)                                                                                    \
    do {                                                                                            \
        clae_status ok_s_ = (expr);                                                                 \
        ck_assert_msg(ok_s_ == CLAE_OK, "%s -> %s: %s", #expr, clae_status_string(ok_s_),            \
                      clae_last_error());                                                           \
    } while (0)

/* Path 0 is the reference on cpu-ref, path 1 the OpenCL ops on the device under test. */
const clae_ops *ops_of(int p);

/* malloc that fails the test instead of returning NULL (n may be 0). */
float *fmalloc(size_t n);

/* n floats uniform in [lo, hi) from test_fill_uniform. */
float *uniform(size_t n, uint32_t seed, float lo, float hi);

/* A device buffer with guard floats on both sides: ops get a view at a non-zero offset (so
 * offsets are exercised), and reading back checks that nothing outside [0, n) was written —
 * global sizes are rounded up, so a missing bounds check shows here. */
#define GUARD 256 /* at least one work-group of the widest CLAE_WG */
#define GUARD_VAL (-1234.5f)

typedef struct tbuf {
    clae_runtime *rt;
    clae_buf whole, b;
    size_t n;
} tbuf;

/* data may be NULL (zeros). */
tbuf tb_new(clae_runtime *rt, const float *data, size_t n);
/* Reads the n floats back after checking both guards. */
void tb_get(const tbuf *t, float *out);
void tb_free(tbuf *t);

/* "ref" (path 0) or "opencl" (path 1), for messages. */
const char *path_name(int p);
/* Row ids are uint32 bit patterns in float slots: uploaded bit for bit, never converted. */
tbuf tb_ids(clae_runtime *rt, const uint32_t *ids, size_t n);
/* 37 row ids whose counters stress the high word: ids[3] and ids[20] put e = id·W + c past 2^32 for any width
 * W ≥ 2; ids[12]·13 = 2^32 − 9, so at width 13 that row's units 0–8 have a high word of 0 and units 9–12 of 1;
 * ids[29] repeats ids[7] at another position. */
void tb_odd_ids(uint32_t ids[37]);
/* a equals want bit for bit (memcmp per element), what and path p named on failure. */
void assert_bits(const float *a, const float *want, size_t n, const char *what, int p);

#endif
