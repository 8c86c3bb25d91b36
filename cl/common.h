/* common.h — device code every kernel program starts with: build-define defaults, the
 * accumulator, Philox4x32-10 (Salmon et al. 2011), clae's float log/cos for Box–Muller and the
 * numerically stable σ and softplus. */

/* The runtime passes these as -D options; the defaults let a file compile on its own. */
#ifndef CLAE_HAS_FP64
#define CLAE_HAS_FP64 0
#endif
#ifndef CLAE_VEC_FLOAT
#define CLAE_VEC_FLOAT 1
#endif
#ifndef CLAE_MAX_WG
#define CLAE_MAX_WG 256
#endif
#ifndef CLAE_DEVICE_IS_CPU
#define CLAE_DEVICE_IS_CPU 0
#endif
#ifndef CLAE_WG
#define CLAE_WG 64
#endif

/* The C reference is compiled without fused multiply-add; contracting a*b+c here would make
 * the two paths round differently, so every expression rounds once per operation as written. */
#pragma OPENCL FP_CONTRACT OFF

/* Sums (loss rows, squared errors, column sums) accumulate in double where the device has it,
 * matching the double-accumulating reference; otherwise in float with Kahan compensation so the
 * error stays O(ε) instead of O(n·ε). The order is always the plain index order. */
#if CLAE_HAS_FP64
#pragma OPENCL EXTENSION cl_khr_fp64 : enable
typedef double acc_t;
#else
typedef float acc_t;
#endif

typedef struct clae_sum {
    acc_t s; /* running sum */
    acc_t c; /* Kahan compensation (unused with fp64) */
} clae_sum;

void clae_sum_add(clae_sum *k, acc_t x)
{
#if CLAE_HAS_FP64
    k->s = k->s + x;
#else
    acc_t y = x - k->c;
    acc_t t = k->s + y;
    k->c = (t - k->s) - y;
    k->s = t;
#endif
}

/* ---- Philox4x32-10: 10 rounds, key bumped before rounds 2..10 ---------------------------- */

/* Calls left in a kernel stop PoCL from vectorizing a work-group's items, and its inliner
 * judges Box–Muller too big: ask for inlining where the compiler is clang (PoCL, most vendors). */
#if defined(__clang__)
#define CLAE_INLINE __attribute__((always_inline))
#else
#define CLAE_INLINE
#endif

uint4 clae_philox4x32_10(uint4 c, uint2 k)
{
    /* mul_hi through a 64-bit product: the same bits, but inlined, so a work-group's items vectorize. */
#pragma unroll
    for (int r = 0; r < 10; r++) {
        ulong p0 = (ulong)0xD2511F53u * c.x, p1 = (ulong)0xCD9E8D57u * c.z;
        c = (uint4)((uint)(p1 >> 32) ^ c.y ^ k.x, (uint)p1, (uint)(p0 >> 32) ^ c.w ^ k.y, (uint)p0);
        k.x += 0x9E3779B9u;
        k.y += 0xBB67AE85u;
    }
    return c;
}

/* Uniform in [0,1): 24 bits times 2^-24, exact in float, so bit-identical to the host. */
float clae_u01(uint w) { return (float)(w >> 8) * 5.9604644775390625e-8f; }

/* Uniform in (0,1) for logs: ((w >> 9)·2 + 1)·2^-24 stays below 2^24, so it is exact. */
float clae_u01_open(uint w) { return (float)((w >> 9) * 2u + 1u) * 0x1p-24f; }

/* ---- clae's own float log and cos(2πu) (twins of lib/ops/mathf.c, operation for operation) */

/* The builtins may differ from glibc by an ulp (more without correctly rounded options), and
 * Gaussian noise must be bit-identical on every path, so Box–Muller uses these polynomials;
 * only +, −, ×, / and sqrt remain, all correctly rounded under the runtime's build options.
 * log: x = 2^k·m with m in [√2/2, √2) by integer arithmetic on the bits, f = m − 1 (exact),
 * s = f/(2+f), log m = f − hfsq + s·(hfsq + R) with R the atanh series after 2s (2/3, 2/5, 2/7,
 * 2/9), k·ln2 split so k·ln2_hi is exact. Positive normal finite x only; < 1 ulp. */
CLAE_INLINE float clae_logf(float x)
{
    uint ix = as_uint(x) + (0x3f800000u - 0x3f3504f3u);
    int k = (int)(ix >> 23) - 0x7f;
    float m = as_float((ix & 0x007fffffu) + 0x3f3504f3u);
    float f = m - 1.0f;
    float s = f / (2.0f + f);
    float z = s * s;
    float R = z * (0x1.555556p-1f + z * (0x1.99999ap-2f + z * (0x1.24924ap-2f + z * 0x1.c71c72p-3f)));
    float hfsq = 0.5f * f * f;
    float dk = (float)k;
    return (((s * (hfsq + R) + dk * 0x1.7f7d1cp-20f) - hfsq) + f) + dk * 0x1.62e4p-1f;
}

/* Taylor series of cos(2πw) and sin(2πw) for w in [0, 1/8], (2π)^n/n! in the coefficients. */
float clae_cos2pi_poly(float w)
{
    float z = w * w;
    return 1.0f + z * (-0x1.3bd3ccp+4f +
                       z * (0x1.03c1f0p+6f + z * (-0x1.55d3c8p+6f + z * (0x1.e1f506p+5f + z * -0x1.a6d1f2p+4f))));
}

float clae_sin2pi_poly(float w)
{
    float z = w * w;
    return w * (0x1.921fb6p+2f +
                z * (-0x1.4abbcep+5f + z * (0x1.466bc6p+6f + z * (-0x1.32d2ccp+6f + z * 0x1.507834p+5f))));
}

/* cos(2πu), u in [0, 1]: folded by symmetry to an angle ≤ π/4 with exact subtractions
 * (Sterbenz), so the zeros at u = ¼, ¾ keep their relative accuracy; < 2 ulp. */
CLAE_INLINE float clae_cos2pif(float u)
{
    float sign = 1.0f;
    if (u > 0.5f) u = 1.0f - u;
    if (u > 0.25f) {
        u = 0.5f - u;
        sign = -1.0f;
    }
    float r = u > 0.125f ? clae_sin2pi_poly(0.25f - u) : clae_cos2pi_poly(u);
    return sign * r;
}

/* One standard normal from Philox words w2, w3 by Box–Muller: sqrt(−2·log u1)·cos(2π·u2). */
CLAE_INLINE float clae_normal_bm(uint w2, uint w3)
{
    float r = sqrt(-2.0f * clae_logf(clae_u01_open(w2)));
    return r * clae_cos2pif(clae_u01_open(w3));
}

/* ---- numerically stable building blocks ------------------------------------------ */

/* Only one exp, never of a positive argument, so it neither overflows nor returns NaN. */
float clae_sigmoid(float z)
{
    if (z >= 0.0f) return 1.0f / (1.0f + exp(-z));
    float e = exp(z);
    return e / (1.0f + e);
}

/* softplus(z) = max(z,0) + log1p(exp(−|z|)), in the accumulator precision for the loss sums. */
acc_t clae_softplus(acc_t z)
{
    acc_t m = z > (acc_t)0 ? z : (acc_t)0;
    return m + log1p(exp(-fabs(z)));
}

/* Activation codes: the clae_activation enum of clae.h. */
#define CLAE_ACT_LINEAR 0
#define CLAE_ACT_SIGMOID 1
#define CLAE_ACT_TANH 2
#define CLAE_ACT_RELU 3

/* Loss codes: the clae_loss enum of clae.h. */
#define CLAE_LOSS_SSE 0
#define CLAE_LOSS_BCE 1

/* f'(z) expressed through the cached output a = f(z) (σ: a(1−a), tanh: 1−a²); relu' is 0 at a = 0.
 * Inlined so the loops that call it (act_backward_colsum's rows) stay vectorizable on PoCL. */
CLAE_INLINE float clae_act_deriv(int f, float a)
{
    switch (f) {
    case CLAE_ACT_SIGMOID: return a * (1.0f - a);
    case CLAE_ACT_TANH: return 1.0f - a * a;
    case CLAE_ACT_RELU: return a > 0.0f ? 1.0f : 0.0f;
    default: return 1.0f;
    }
}
