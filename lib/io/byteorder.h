/* byteorder.h — the host byte-order test the file readers and writers share: every format clae writes is
 * little-endian (safetensors, NPY '<f4'), so only a big-endian host swaps bytes on the way in and out. */
#ifndef CLAE_BYTEORDER_H
#define CLAE_BYTEORDER_H

#include <stdint.h>
#include <string.h>

static inline int clae_host_little_endian(void)
{
    const uint16_t one = 1;
    unsigned char b;
    memcpy(&b, &one, 1);
    return b == 1;
}

#endif
