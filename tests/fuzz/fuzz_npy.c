/* fuzz_npy.c — libFuzzer harness for the NPY reader (clae_dataset_load_npy): magic, version, the
 * header's dict literal, dtypes, shapes and the data; the input is the whole file. */
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_write("in.npy", data, size);
    clae_dataset *ds = NULL;
    if (clae_dataset_load_npy(path, &ds) == CLAE_OK) fuzz_check_dataset(ds);
    return 0;
}
