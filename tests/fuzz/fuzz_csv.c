/* fuzz_csv.c — libFuzzer harness for the CSV reader (clae_dataset_load_csv): separators, header
 * detection, quoting, numbers and the line reader behind it; the input is the whole file. */
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_write("in.csv", data, size);
    clae_dataset *ds = NULL;
    if (clae_dataset_load_csv(path, &ds) == CLAE_OK) fuzz_check_dataset(ds);
    return 0;
}
