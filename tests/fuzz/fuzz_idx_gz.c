/* fuzz_idx_gz.c — libFuzzer harness for the IDX reader through its gzip path: the harness compresses
 * the input, so mutations reach the IDX header and data behind zlib instead of breaking the CRC. */
#include <zlib.h>

#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* The first byte picks where to cut the compressed member (0: keep it whole), so truncated
     * gzip streams of valid IDX files are fuzzed too; the rest is the IDX file. */
    if (size < 1) return 0;
    const unsigned cut = data[0];
    data++;
    size--;
    z_stream z;
    memset(&z, 0, sizeof z);
    if (deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) abort();
    uLong cap = deflateBound(&z, (uLong)size) + 32;
    unsigned char *gz = malloc(cap);
    if (!gz) abort();
    z.next_in = (Bytef *)data;
    z.avail_in = (uInt)size;
    z.next_out = gz;
    z.avail_out = (uInt)cap;
    if (deflate(&z, Z_FINISH) != Z_STREAM_END) abort();
    size_t n = z.total_out;
    deflateEnd(&z);
    if (cut) n = n * cut / 256;
    const char *path = fuzz_write("in-idx3-ubyte.gz", gz, n);
    free(gz);
    clae_dataset *ds = NULL;
    if (clae_dataset_load_idx(path, &ds) == CLAE_OK) fuzz_check_dataset(ds);
    return 0;
}
