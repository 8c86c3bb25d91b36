/* fuzz_cache.c — libFuzzer harness for the program-cache entry parser (clae_cache_load): the input is
 * the entry file stored under FUZZ_CACHE_KEY, the key the seed corpus was written with. */
#include "fuzz_common.h"
#include "runtime/runtime.h"

/* Any key works; this one is fixed so that entries written for it (the seeds) parse all the way. */
#define FUZZ_CACHE_KEY "clae fuzz key: program=fuzz.cl options=-cl-std=CL1.2 device=none"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *dir = fuzz_folder();
    char path[2048];
    clae_cache_entry_path(dir, FUZZ_CACHE_KEY, path, sizeof path);
    const char *slash = strrchr(path, '/');
    fuzz_write(slash + 1, data, size);
    unsigned char *bin = NULL;
    size_t n = 0;
    if (clae_cache_load(dir, FUZZ_CACHE_KEY, &bin, &n) == CLAE_OK) {
        volatile unsigned char sink = 0;
        for (size_t k = 0; k < n; k++) sink ^= bin[k];
        (void)sink;
        free(bin);
    } else if (bin) {
        abort(); /* a failed load hands out nothing */
    }
    return 0;
}
