/* fuzz_idx.c — libFuzzer harness for the IDX reader (clae_dataset_load_idx) on the input as the file,
 * so plain files and, from the gzip seeds, corrupt or cut-short gzip members both go through it. */
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_write("in-idx3-ubyte", data, size);
    clae_dataset *ds = NULL;
    if (clae_dataset_load_idx(path, &ds) == CLAE_OK) fuzz_check_dataset(ds);
    return 0;
}
