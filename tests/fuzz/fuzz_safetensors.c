/* fuzz_safetensors.c — libFuzzer harness for the safetensors reader (clae_st_open, clae_st_open_header)
 * and every accessor a model load calls on what it returns; the input is the whole file. */
#include "fuzz_common.h"
#include "io/safetensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_write("in.safetensors", data, size);
    clae_st_file *f = NULL;
    if (clae_st_open(path, &f) == CLAE_OK) {
        /* What the reader validated must hold: each tensor found by its name, its typed getter
         * accepting its own shape, and all of its bytes readable (ASan checks the range). */
        for (size_t i = 0; i < clae_st_count(f); i++) {
            const clae_st_tensor *t = clae_st_tensor_at(f, i);
            if (!t || clae_st_find(f, t->name) != t) abort();
            const void *p = NULL;
            clae_status st = t->dtype == CLAE_ST_F32
                                 ? clae_st_get_f32(f, t->name, t->ndim, t->shape, (const float **)&p)
                                 : clae_st_get_i64(f, t->name, t->ndim, t->shape, (const int64_t **)&p);
            if (st != CLAE_OK || p != t->data) abort();
            volatile unsigned char sink = 0;
            const unsigned char *b = p;
            size_t nb = t->end - t->begin;
            for (size_t k = 0; k < nb; k++) sink ^= b[k];
            (void)sink;
        }
        for (size_t i = 0; i < clae_st_meta_count(f); i++) {
            const char *k = NULL, *v = NULL;
            clae_st_meta_at(f, i, &k, &v);
            if (!k || !v || clae_st_meta(f, k) != v) abort();
            uint64_t u;
            double d;
            (void)clae_st_meta_u64(f, k, &u);
            (void)clae_st_meta_double(f, k, &d);
        }
        clae_st_close(f);
    }
    f = NULL;
    if (clae_st_open_header(path, &f) == CLAE_OK) clae_st_close(f);
    return 0;
}
