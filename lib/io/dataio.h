/* dataio.h — what the CSV and NPY readers (csv.c, npy.c) share with the loader that picks one (dataio.c):
 * the readers on an open source, the wrapper that turns a matrix into a dataset, the float-range limit. */
#ifndef CLAE_DATAIO_H
#define CLAE_DATAIO_H

#include <float.h>
#include <stddef.h>

#include "clae.h"
#include "io/datasrc.h"

/* The smallest magnitude that rounds to infinity as a float: FLT_MAX plus
 * half its ulp (2^104), the midpoint rounding up because FLT_MAX is odd.
 * Below it a value rounds to a finite float, e.g. FLT_MAX printed with "%.9g". */
#define CLAE_FLOAT_OVERFLOW ((double)FLT_MAX + 0x1p103)

/* The first six bytes of every NPY file. */
extern const unsigned char clae_npy_magic[6];

/* The readers on an open source; messages name src->name. */
clae_status clae_csv_load_src(clae_src *src, clae_dataset **out);
clae_status clae_npy_load_src(clae_src *src, clae_dataset **out);

/* Wraps a loaded matrix into a dataset, taking ownership of x (and of names,
 * cols entries or NULL), also on failure. */
clae_status clae_dataset_wrap(const char *path, clae_data_format format, float *x, size_t rows, size_t cols,
                              char **names, clae_dataset **out);

/* Opens path as a source and runs one reader on it; fn names the public
 * function in the message for NULL arguments. */
clae_status clae_dataset_load_with(const char *path, clae_dataset **out, const char *fn,
                                   clae_status (*reader)(clae_src *, clae_dataset **));

#endif
