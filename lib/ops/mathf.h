/* mathf.h — clae's own float log and cos(2πu), the host twins of those in cl/common.h.
 * Box–Muller noise goes through these on both paths, so cpu-ref and OpenCL draw the same bits. */
#ifndef CLAE_MATHF_H
#define CLAE_MATHF_H

#include <stdint.h>

/* Natural log of a positive, normal, finite float (the only inputs Box–Muller gives it);
 * within 1 ulp of the true value. */
float clae_logf(float x);

/* cos(2πu) for u in [0, 1], within 2 ulp (relative, also near the zeros at u = ¼, ¾). */
float clae_cos2pif(float u);

/* Uniform in (0,1) from one Philox word: ((w >> 9)·2 + 1)·2^-24, exact in float. */
float clae_u01_open(uint32_t w);

/* One standard normal from two Philox words by Box–Muller (Box & Muller 1958):
 * sqrt(−2·log u1)·cos(2π·u2), u1 and u2 the open-interval uniforms of w2 and w3. */
float clae_normal_bm(uint32_t w2, uint32_t w3);

#endif
