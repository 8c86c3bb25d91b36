/* safetensors_internal.h — what the safetensors writer (safetensors_write.c) and reader (safetensors_read.c)
 * share: the reserved metadata key, element sizes and the overflow-checked byte size of a shape. */
#ifndef CLAE_SAFETENSORS_INTERNAL_H
#define CLAE_SAFETENSORS_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "io/safetensors.h"

#define ST_META_KEY "__metadata__"

/* Bytes per element, indexed by clae_st_dtype. */
static const size_t st_dtype_size[CLAE_ST_DTYPE_COUNT] = {[CLAE_ST_F32] = 4, [CLAE_ST_I64] = 8};

/* prod(shape) and the byte size, or 0 on overflow. */
static inline int st_shape_bytes(int ndim, const size_t *shape, size_t esize, size_t *count, size_t *nbytes)
{
    size_t c = 1;
    for (int d = 0; d < ndim; d++) {
        if (shape[d] != 0 && c > SIZE_MAX / shape[d]) return 0;
        c *= shape[d];
    }
    if (c > SIZE_MAX / esize) return 0;
    *count = c;
    *nbytes = c * esize;
    return 1;
}

#endif
