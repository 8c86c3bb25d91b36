/* mathf.c — host twins of the float log and cos(2πu) polynomials in cl/common.h.
 * Every line mirrors the device code operation for operation (no FMA: -std=c11 keeps gcc from
 * contracting), so the two paths round identically; change both files together. */
#include "ops/mathf.h"

#include <math.h>
#include <string.h>

/* gcc in ISO C mode never fuses a*b+c into an FMA; clang does by default where the target has
 * one, which would round differently from the OpenCL kernels (FP_CONTRACT OFF in cl/common.h). */
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#endif

static float float_of_bits(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static uint32_t bits_of_float(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

/* x = 2^k·m with m in [√2/2, √2): adding 1 − 0x3f3504f3 (the bits of √2/2) to the exponent
 * field carries into it exactly when the mantissa is past √2/2's. Then with f = m − 1 (exact)
 * and s = f/(2+f), log m = 2·atanh s = 2s + s·R(s²), and 2s = f − hfsq + s·hfsq, so
 * log m = f − hfsq + s·(hfsq + R): the large terms f and hfsq enter exactly and the rounding
 * errors sit in the small correction. |s| ≤ 0.1716, so the atanh series cut after s^9 errs by
 * under 2e-9 relative. k·ln2 is split so that k·ln2_hi is exact (ln2_hi has 16 bits). */
float clae_logf(float x)
{
    uint32_t ix = bits_of_float(x) + (0x3f800000u - 0x3f3504f3u);
    int k = (int)(ix >> 23) - 0x7f;
    float m = float_of_bits((ix & 0x007fffffu) + 0x3f3504f3u);
    float f = m - 1.0f;
    float s = f / (2.0f + f);
    float z = s * s;
    /* 2/3, 2/5, 2/7, 2/9: the atanh series, 2·atanh(s) = 2s + s·z·(2/3 + z·(2/5 + ...)). */
    float R = z * (0x1.555556p-1f + z * (0x1.99999ap-2f + z * (0x1.24924ap-2f + z * 0x1.c71c72p-3f)));
    float hfsq = 0.5f * f * f;
    float dk = (float)k;
    /* ln2_lo = 0x1.7f7d1cp-20 (1.4286068e-6), ln2_hi = 0x1.62e4p-1 (0.693145751953125). */
    return (((s * (hfsq + R) + dk * 0x1.7f7d1cp-20f) - hfsq) + f) + dk * 0x1.62e4p-1f;
}

/* Taylor series of cos(2πw) and sin(2πw) in w for w in [0, 1/8] (angle ≤ π/4), (2π)^n/n! folded
 * into the coefficients; the first dropped terms are below 1.1e-10 and 1.8e-9. */
static float cos2pi_poly(float w)
{
    float z = w * w;
    return 1.0f + z * (-0x1.3bd3ccp+4f +
                       z * (0x1.03c1f0p+6f + z * (-0x1.55d3c8p+6f + z * (0x1.e1f506p+5f + z * -0x1.a6d1f2p+4f))));
}

static float sin2pi_poly(float w)
{
    float z = w * w;
    return w * (0x1.921fb6p+2f +
                z * (-0x1.4abbcep+5f + z * (0x1.466bc6p+6f + z * (-0x1.32d2ccp+6f + z * 0x1.507834p+5f))));
}

/* Folding by the symmetries cos(2π(1−u)) = cos(2πu), cos(2π(½−u)) = −cos(2πu) and
 * cos(2πu) = sin(2π(¼−u)) leaves an angle ≤ π/4. Every subtraction is exact (Sterbenz:
 * the operands are within a factor 2), so the zeros at u = ¼ and ¾ keep full relative accuracy. */
float clae_cos2pif(float u)
{
    float sign = 1.0f;
    if (u > 0.5f) u = 1.0f - u;
    if (u > 0.25f) {
        u = 0.5f - u;
        sign = -1.0f;
    }
    float r = u > 0.125f ? sin2pi_poly(0.25f - u) : cos2pi_poly(u);
    return sign * r;
}

float clae_u01_open(uint32_t w) { return (float)((w >> 9) * 2u + 1u) * 0x1p-24f; }

/* sqrtf is correctly rounded (IEEE), as the device's sqrt is under
 * -cl-fp32-correctly-rounded-divide-sqrt; −2·log u1 is exact scaling. */
float clae_normal_bm(uint32_t w2, uint32_t w3)
{
    float r = sqrtf(-2.0f * clae_logf(clae_u01_open(w2)));
    return r * clae_cos2pif(clae_u01_open(w3));
}
