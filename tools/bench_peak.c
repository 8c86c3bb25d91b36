/* bench_peak.c — the machine's measured FMA peak (single-precision GFLOP/s on 1 thread and on every core), the
 * yardstick of "a training step at N % of peak" in `make bench`. Not a test; built for the host it runs on. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#if defined(__AVX512F__)
#include <immintrin.h>
#define ISA "avx512"
#define LANES 16
typedef __m512 vec;
#define VSET(x) _mm512_set1_ps(x)
#define VFMA(a, b, c) _mm512_fmadd_ps(a, b, c)
#define VSUM(v) _mm512_reduce_add_ps(v)
#elif defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#define ISA "avx2"
#define LANES 8
typedef __m256 vec;
#define VSET(x) _mm256_set1_ps(x)
#define VFMA(a, b, c) _mm256_fmadd_ps(a, b, c)
static float vsum(__m256 v)
{
    float t[8];
    _mm256_storeu_ps(t, v);
    return t[0] + t[1] + t[2] + t[3] + t[4] + t[5] + t[6] + t[7];
}
#define VSUM(v) vsum(v)
#else
#define ISA "scalar"
#define LANES 1
typedef float vec;
#define VSET(x) (x)
#define VFMA(a, b, c) ((a) * (b) + (c))
#define VSUM(v) (v)
#endif

/* Sixteen independent FMA chains, twice the latency × throughput of any current core, so the FMA units and not
 * the dependencies set the pace; the sum keeps the compiler from dropping the work. */
#define CHAINS 16
static volatile float sink;

static void *fma_loop(void *arg)
{
    long n = *(const long *)arg;
    vec a[CHAINS], b = VSET(1.0000001f), c = VSET(1e-7f);
    for (int i = 0; i < CHAINS; i++) a[i] = VSET((float)i);
    for (long k = 0; k < n; k++)
        for (int i = 0; i < CHAINS; i++) a[i] = VFMA(a[i], b, c);
    float s = 0.0f;
    for (int i = 0; i < CHAINS; i++) s += VSUM(a[i]);
    sink = s;
    return NULL;
}

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* The best GFLOP/s of `rounds` runs of `threads` threads. */
static double peak(int threads, long n, int rounds)
{
    double best = 0.0;
    pthread_t t[256];
    for (int r = 0; r < rounds; r++) {
        double t0 = now();
        int started = 0;
        for (int i = 0; i < threads; i++) started += pthread_create(&t[i], NULL, fma_loop, &n) == 0;
        for (int i = 0; i < started; i++) pthread_join(t[i], NULL);
        double g = (double)started * (double)n * CHAINS * LANES * 2.0 / (now() - t0) / 1e9;
        if (g > best) best = g;
    }
    return best;
}

int main(int argc, char **argv)
{
    int json = argc > 1 && !strcmp(argv[1], "--json");
    if (argc > 1 && !json) {
        fprintf(stderr, "usage: bench_peak [--json]\n\nThe single-precision FMA peak of this machine: %d chains of %s "
                        "fmas per thread, best of 3 runs, on 1 thread and on every core.\n", CHAINS, ISA);
        return strcmp(argv[1], "--help") ? 2 : 0;
    }
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    if (cores < 1) cores = 1;
    if (cores > 256) cores = 256;
    const long n = 20000000;
    double one = peak(1, n, 3), all = peak((int)cores, n, 3);
    if (json)
        printf("{\"isa\": \"%s\", \"threads\": %ld, \"gflops_1\": %.1f, \"gflops\": %.1f}\n", ISA, cores, one, all);
    else
        printf("FMA peak (%s, best of 3): %.1f GFLOP/s on 1 thread, %.1f GFLOP/s on %ld threads\n", ISA, one, all, cores);
    return 0;
}
