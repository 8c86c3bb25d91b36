/* test_fault_env.c — the fault suite's environment cases: no OpenCL at all (cpu-ref with a note), a program cache
 * that cannot be written (read-only, not a directory) and one full of damaged entries: training goes on. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test_util.h"

#define T10K "t10k-images-idx3-ubyte.gz"

/* One small training run's arguments; %s is the --out path (quoted). */
static const char *train_args(const char *device, const char *out)
{
    static char buf[4096];
    char data[2048] = "", outq[1024] = "";
    test_append_quoted(data, sizeof data, test_data_path(T10K));
    test_append_quoted(outq, sizeof outq, out);
    snprintf(buf, sizeof buf, "train %s%s --data %s --limit 200 --test-limit 50 --batch 32 --epochs 1 "
             "--layers 784,16 --seed 3 --out %s", device ? "--device " : "", device ? device : "", data, outq);
    return buf;
}

static void write_bytes(const char *path, const void *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    ck_assert_msg(f != NULL, "%s: %s", path, strerror(errno));
    ck_assert_uint_eq(fwrite(p, 1, n, f), n);
    ck_assert_int_eq(fclose(f), 0);
}

static int same_file(const char *a, const char *b)
{
    char *x = test_slurp_text(a), *y = test_slurp_text(b);
    struct stat sa, sb;
    int same = stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_size == sb.st_size &&
               memcmp(x, y, (size_t)sa.st_size) == 0;
    free(x);
    free(y);
    return same;
}

/* The suite runs without fork, so what a test sets in the environment is put back by the teardown, failed
 * assertion or not. */
static const char *const saved_names[] = {"CLAE_CACHE_DIR", "CLAE_DEVICE", "OCL_ICD_VENDORS"};
static char *saved_values[3];

static void env_save(void)
{
    for (int i = 0; i < 3; i++) {
        const char *v = getenv(saved_names[i]);
        saved_values[i] = v ? strdup(v) : NULL;
    }
}

static void env_restore(void)
{
    for (int i = 0; i < 3; i++) {
        if (saved_values[i]) setenv(saved_names[i], saved_values[i], 1);
        else unsetenv(saved_names[i]);
        free(saved_values[i]);
        saved_values[i] = NULL;
    }
}

/* A test_tmp_path kept: that function's results are recycled after a few calls (run_clae makes two). */
#define TMP(var, name)                                                                                           \
    char var[1024];                                                                                              \
    snprintf(var, sizeof var, "%s", test_tmp_path(name))

/* No ICD at all (OCL_ICD_VENDORS names an empty directory, so the loader finds no platform): the default
 * device is cpu-ref and every command says why; a cpu-ref asked for says nothing; gpu is an error. */
START_TEST(no_opencl_falls_back_to_cpu_ref)
{
    TMP(empty, "no-icds");
    TMP(out, "m.st");
    ck_assert_int_eq(mkdir(empty, 0755), 0);
    /* Only for the children: the ICD loader of this process reads it once, and the other tests need PoCL. */
    setenv("OCL_ICD_VENDORS", empty, 1);
    unsetenv("CLAE_DEVICE");

    run_result r = run_expect(0, "devices");
    ck_assert_contains(r.out, "* cpu-ref");
    ck_assert_contains(r.err, "note: no OpenCL platform found (clGetPlatformIDs: CL_PLATFORM_NOT_FOUND_KHR");
    run_free(&r);

    r = run_expect(0, "%s", train_args(NULL, out));
    ck_assert_contains(r.err, "note: no OpenCL platform found");
    ck_assert_contains(r.err, "running on cpu-ref, the plain C reference path");
    ck_assert_contains(r.out, "cpu-ref (plain C reference)");
    run_free(&r);

    /* -q: nothing on stderr; cpu-ref by name: nothing to explain. */
    r = run_expect(0, "%s -q", train_args(NULL, out));
    ck_assert_str_eq(r.err, "");
    run_free(&r);
    setenv("CLAE_DEVICE", "cpu-ref", 1);
    r = run_expect(0, "%s", train_args(NULL, out));
    ck_assert_msg(strstr(r.err, "note: no OpenCL") == NULL, "a note for a cpu-ref asked for:\n%s", r.err);
    run_free(&r);
    unsetenv("CLAE_DEVICE");

    r = run_clae(train_args("gpu", out));
    ck_assert_int_ne(r.status, 0);
    ck_assert_contains(r.err, "no GPU device found for 'gpu'");
    run_free(&r);
    unsetenv("OCL_ICD_VENDORS");
    clae_model *m = NULL;
    ck_assert_msg(clae_model_load(test_rt_ref(), out, 0, 0, &m, NULL) == CLAE_OK, "%s", clae_last_error());
    clae_model_destroy(m);
}
END_TEST

/* A cache "directory" below a regular file cannot be created: the run trains all the same, its model equals
 * a run with a working cache, and it says once that the cache could not be written. */
START_TEST(cache_below_a_file_still_trains)
{
    TMP(good, "good-cache");
    TMP(file, "a-file");
    TMP(ref, "ref.st");
    TMP(out, "out.st");
    write_bytes(file, "x", 1);
    char bad[1100];
    snprintf(bad, sizeof bad, "%s/cache", file);
    setenv("CLAE_CACHE_DIR", good, 1);
    run_result r = run_expect(0, "%s -q", train_args(test_device(), ref));
    run_free(&r);
    setenv("CLAE_CACHE_DIR", bad, 1);
    r = run_expect(0, "%s", train_args(test_device(), out));
    ck_assert_contains(r.err, "note: the program cache cannot be written (");
    ck_assert_contains(r.err, "Not a directory");
    ck_assert_msg(strstr(strstr(r.err, "note: the program cache") + 1, "note: the program cache") == NULL,
                  "the note twice:\n%s", r.err);
    run_free(&r);
    ck_assert_msg(same_file(ref, out), "a run without a cache trained other weights");
}
END_TEST

/* A read-only cache directory: for a user other than root its mode says so; root writes anywhere, so there a
 * read-only bind mount in a private mount namespace (util-linux unshare) makes it read-only for real. */
START_TEST(read_only_cache_still_trains)
{
    TMP(dir, "ro-cache");
    TMP(out, "out.st");
    TMP(err_path, "ro-stderr");
    ck_assert_int_eq(mkdir(dir, 0755), 0);
    char cmd[8192] = "", bin[1024];
    snprintf(bin, sizeof bin, "%s/clae", test_build_dir());
    if (geteuid() != 0) {
        ck_assert_int_eq(chmod(dir, 0555), 0);
    } else {
        if (system("unshare -m --propagation private true >/dev/null 2>&1") != 0) {
            fprintf(stderr, "fault: read_only_cache_still_trains: no private mount namespace here (unshare -m "
                            "refused): the read-only case is left to cache_below_a_file_still_trains\n");
            return;
        }
        strcat(cmd, "unshare -m --propagation private sh -c 'mount --bind \"$0\" \"$0\" && "
                    "mount -o remount,bind,ro \"$0\" \"$0\" && exec \"$@\"' ");
        test_append_quoted(cmd, sizeof cmd, dir);
        strcat(cmd, " ");
    }
    setenv("CLAE_CACHE_DIR", dir, 1);
    test_append_quoted(cmd, sizeof cmd, bin);
    strncat(cmd, " ", sizeof cmd - strlen(cmd) - 1);
    strncat(cmd, train_args(test_device(), out), sizeof cmd - strlen(cmd) - 1);
    strncat(cmd, " </dev/null >/dev/null 2>", sizeof cmd - strlen(cmd) - 1);
    test_append_quoted(cmd, sizeof cmd, err_path);
    fflush(NULL);
    int w = system(cmd);
    char *err = test_slurp_text(err_path);
    ck_assert_msg(w != -1 && WIFEXITED(w) && WEXITSTATUS(w) == 0, "status %d:\n%s", w, err);
    ck_assert_contains(err, "note: the program cache cannot be written (");
    ck_assert_msg(strstr(err, "Read-only file system") || strstr(err, "Permission denied"), "no reason in:\n%s",
                  err);
    free(err);
    clae_model *m = NULL;
    ck_assert_msg(clae_model_load(test_rt_ref(), out, 0, 0, &m, NULL) == CLAE_OK, "%s", clae_last_error());
    clae_model_destroy(m);
    chmod(dir, 0755);
}
END_TEST

/* Every entry of a warm cache damaged a different way, plus junk: a run trains the same model as before, says
 * nothing (a damaged entry is rebuilt and rewritten), and the runtime reports each rejected entry. */
START_TEST(damaged_cache_still_trains)
{
    TMP(dir, "cache");
    TMP(ref, "ref.st");
    TMP(out, "out.st");
    TMP(count_path, "count");
    setenv("CLAE_CACHE_DIR", dir, 1);
    run_result r = run_expect(0, "%s -q", train_args(test_device(), ref));
    run_free(&r);
    char cmd[2048] = "ls ";
    test_append_quoted(cmd, sizeof cmd, dir);
    strcat(cmd, " | grep -c '\\.bin$' > ");
    test_append_quoted(cmd, sizeof cmd, count_path);
    ck_assert_int_eq(system(cmd), 0);
    char *count = test_slurp_text(count_path);
    const int n = atoi(count);
    free(count);
    ck_assert_msg(n >= 2, "the first run cached %d programs", n);

    /* Damage: empty, cut in half, one flipped byte, random bytes, and an entry that is a directory. */
    snprintf(cmd, sizeof cmd, "cd '%s' && i=0 && for f in *.bin; do case $((i %% 5)) in "
             "0) : > \"$f\";; 1) s=$(stat -c %%s \"$f\"); truncate -s $((s / 2)) \"$f\";; "
             "2) printf '\\377' | dd of=\"$f\" bs=1 seek=40 conv=notrunc status=none;; "
             "3) head -c 4096 /dev/urandom > \"$f\";; 4) rm \"$f\" && mkdir \"$f\";; esac; i=$((i + 1)); done && "
             "echo junk > junk.bin && echo junk > notes.txt", dir);
    ck_assert_int_eq(system(cmd), 0);
    r = run_expect(0, "%s", train_args(test_device(), out));
    run_free(&r);
    ck_assert_msg(same_file(ref, out), "a damaged cache changed the trained weights");
    /* The next run finds every program it uses in the cache (the directory entry stays a directory: its program
     * is rebuilt each time, which the run says once). */
    r = run_expect(0, "%s", train_args(test_device(), out));
    ck_assert_msg(same_file(ref, out), "the repaired cache changed the trained weights");
    run_free(&r);
}
END_TEST

/* The library's side of a cache that cannot be written: the program is built, cache_failed counts it and
 * clae_runtime_note says so with the reason. */
START_TEST(cache_failed_is_counted)
{
    TMP(file, "a-file");
    write_bytes(file, "x", 1);
    char bad[1100];
    snprintf(bad, sizeof bad, "%s/cache", file);
    setenv("CLAE_CACHE_DIR", bad, 1);
    clae_runtime *rt = NULL;
    ck_assert_msg(clae_runtime_open(test_device(), &rt) == CLAE_OK, "%s", clae_last_error());
    unsetenv("CLAE_CACHE_DIR");
    ck_assert_str_eq(clae_runtime_note(rt), "");
    clae_model_config c;
    clae_model_config_default(&c);
    ck_assert_int_eq(clae_model_config_set_layers(&c, "12,4"), CLAE_OK);
    c.batch = 4;
    clae_model *m = NULL;
    ck_assert_msg(clae_model_create(rt, &c, &m) == CLAE_OK, "%s", clae_last_error());
    float x[4 * 12], loss = 0.0f;
    test_fill_uniform(x, 4 * 12, 5, 0.0f, 1.0f);
    ck_assert_msg(clae_model_train_step(m, x, 4, &loss) == CLAE_OK, "%s", clae_last_error());
    clae_runtime_stats st;
    ck_assert_int_eq(clae_runtime_stats_get(rt, &st), CLAE_OK);
    ck_assert_uint_gt(st.programs_built, 0);
    ck_assert_uint_eq(st.cache_written, 0);
    ck_assert_uint_eq(st.cache_failed, st.programs_built);
    ck_assert_contains(clae_runtime_note(rt), "the program cache cannot be written (");
    ck_assert_contains(clae_runtime_note(rt), "Not a directory");
    clae_model_destroy(m);
    clae_runtime_close(rt);

    /* A reason for the absence of OpenCL, here where PoCL is present: none. */
    char why[256] = "x";
    ck_assert_int_eq(clae_opencl_absence(why, sizeof why), CLAE_OK);
    ck_assert_str_eq(why, "");
    ck_assert_int_eq(clae_opencl_absence(NULL, 8), CLAE_ERR_ARG);
}
END_TEST

/* The environment cases of the fault suite (suite_fault adds them). */
TCase *tcase_fault_env(void)
{
    TCase *tc = tcase_create("env");
    tcase_add_checked_fixture(tc, test_tmp_setup, test_tmp_teardown);
    tcase_add_checked_fixture(tc, env_save, env_restore);
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, no_opencl_falls_back_to_cpu_ref);
    tcase_add_test(tc, cache_below_a_file_still_trains);
    tcase_add_test(tc, read_only_cache_still_trains);
    tcase_add_test(tc, damaged_cache_still_trains);
    tcase_add_test(tc, cache_failed_is_counted);
    return tc;
}
