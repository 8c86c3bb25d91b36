/* test_util.c — shared fixtures for the Check suite (see test_util.h).
 * Runtimes are opened lazily once and closed at exit. */
#include "test_util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

static clae_runtime *rt_ref;
static clae_runtime *rt_cl;

static void close_runtimes(void)
{
    clae_runtime_close(rt_cl);
    clae_runtime_close(rt_ref);
    rt_cl = rt_ref = NULL;
}

static void register_close(void)
{
    static int registered;
    if (!registered) {
        atexit(close_runtimes);
        registered = 1;
    }
}

clae_runtime *test_rt_ref(void)
{
    if (!rt_ref) {
        clae_status s = clae_runtime_open("cpu-ref", &rt_ref);
        ck_assert_msg(s == CLAE_OK, "cannot open cpu-ref: %s", clae_last_error());
        register_close();
    }
    return rt_ref;
}

clae_runtime *test_rt_cl(void)
{
    if (!rt_cl) {
        const char *spec = getenv("CLAE_TEST_DEVICE");
        if (!spec || !*spec) spec = "cpu";
        clae_status s = clae_runtime_open(spec, &rt_cl);
        ck_assert_msg(s == CLAE_OK, "cannot open OpenCL device '%s': %s", spec, clae_last_error());
        register_close();
    }
    return rt_cl;
}

clae_runtime *test_rt(int i) { return i == 0 ? test_rt_ref() : test_rt_cl(); }

void test_fill_uniform(float *x, size_t n, uint32_t seed, float lo, float hi)
{
    const uint32_t key[2] = {seed, 0x7e57u};
    for (size_t i = 0; i < n; i += 4) {
        uint32_t ctr[4] = {(uint32_t)i, (uint32_t)((uint64_t)i >> 32), 0, 0x7e57u}, out[4];
        clae_philox4x32_10(ctr, key, out);
        for (size_t j = 0; j < 4 && i + j < n; j++) {
            float u = (float)(out[j] >> 8) * 0x1p-24f;
            x[i + j] = lo + (hi - lo) * u;
        }
    }
}

long test_first_mismatch(const float *a, const float *ref, size_t n, double atol, double rtol)
{
    for (size_t i = 0; i < n; i++) {
        if (isnan(a[i]) || isnan(ref[i])) {
            if (isnan(a[i]) && isnan(ref[i])) continue;
            return (long)i;
        }
        if (fabs((double)a[i] - (double)ref[i]) > atol + rtol * fabs((double)ref[i])) return (long)i;
    }
    return -1;
}

const char *test_data_path(const char *file)
{
    static char buf[4][1024];
    static int slot;
    const char *dir = getenv("CLAE_DATA_DIR");
    if (!dir || !*dir) dir = "/usr/share/datasets/fashion-mnist";
    slot = (slot + 1) % 4;
    snprintf(buf[slot], sizeof buf[slot], "%s/%s", dir, file);
    return buf[slot];
}

const char *test_build_dir(void)
{
    const char *b = getenv("CLAE_BUILD");
    return (b && *b) ? b : "build";
}
