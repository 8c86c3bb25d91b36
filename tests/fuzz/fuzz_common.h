/* fuzz_common.h — what every libFuzzer harness in tests/fuzz shares: the input written to a file that
 * the readers' own path API opens (on tmpfs where there is one), and the sanitizer options they run with. */
#ifndef CLAE_FUZZ_COMMON_H
#define CLAE_FUZZ_COMMON_H

#include <dirent.h>
#include <fcntl.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clae.h"

/* The IDX and NPY readers allocate rows x cols floats at the header's word, before the data arrives,
 * and report CLAE_ERR_NOMEM when malloc says no. Under ASan a request it cannot serve would abort the
 * process instead, so it is made to return NULL as glibc would; and since every byte ASan hands out
 * has shadow to map and poison, a few-byte input asking for gigabytes costs a second per execution,
 * so requests above 64 MB are refused (no fuzz input's data is that large: -max_len is a few KB),
 * sending the fuzzer down the library's own NOMEM path quickly. libFuzzer's own tables stay below it. */
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
    return "allocator_may_return_null=1:max_allocation_size_mb=64";
}

static char fuzz_dir[512];

/* Removes the folder at exit (a crash leaves it, with the input that crashed, for a look). */
static inline void fuzz_cleanup(void)
{
    DIR *d = fuzz_dir[0] ? opendir(fuzz_dir) : NULL;
    if (!d) return;
    char path[1024];
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
        snprintf(path, sizeof path, "%s/%s", fuzz_dir, e->d_name);
        unlink(path);
    }
    closedir(d);
    rmdir(fuzz_dir);
}

/* A private folder for this process's input files, made once: tmpfs (/dev/shm) keeps the per-input
 * write off the disk; TMPDIR or /tmp where there is none. */
static inline const char *fuzz_folder(void)
{
    if (fuzz_dir[0]) return fuzz_dir;
    const char *bases[] = {"/dev/shm", getenv("TMPDIR"), "/tmp"};
    for (size_t i = 0; i < sizeof bases / sizeof bases[0]; i++) {
        if (!bases[i]) continue;
        snprintf(fuzz_dir, sizeof fuzz_dir, "%s/clae-fuzz-%ld", bases[i], (long)getpid());
        if (mkdir(fuzz_dir, 0700) == 0 || access(fuzz_dir, W_OK) == 0) {
            atexit(fuzz_cleanup);
            return fuzz_dir;
        }
    }
    fprintf(stderr, "fuzz: no writable folder for input files\n");
    abort();
}

/* Writes data to <folder>/name (replacing the last input) and returns the path; aborts on failure,
 * since a harness that cannot write its input would fuzz nothing. */
static inline const char *fuzz_write(const char *name, const uint8_t *data, size_t size)
{
    static char path[700];
    snprintf(path, sizeof path, "%s/%s", fuzz_folder(), name);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0) {
        perror(path);
        abort();
    }
    size_t done = 0;
    while (done < size) {
        ssize_t w = write(fd, data + done, size - done);
        if (w <= 0) {
            perror(path);
            abort();
        }
        done += (size_t)w;
    }
    close(fd);
    return path;
}

/* Reads every float a reader handed out, so ASan checks the whole block it claims to hold; the sum
 * goes to a volatile so the reads are not optimised away. */
static inline void fuzz_touch_floats(const float *x, size_t n)
{
    volatile float sink = 0.0f;
    float s = 0.0f;
    for (size_t k = 0; k < n; k++) s += x[k];
    sink = s;
    (void)sink;
}

/* A loaded dataset must be what the readers promise: rows and columns, every value finite (each
 * reader refuses NaN and infinity), then freed. Anything else is a bug the fuzzer should report. */
static inline void fuzz_check_dataset(clae_dataset *ds)
{
    if (!ds || !ds->x || ds->rows == 0 || ds->cols == 0) abort();
    for (size_t k = 0; k < ds->rows * ds->cols; k++)
        if (!isfinite(ds->x[k])) abort();
    fuzz_touch_floats(ds->x, ds->rows * ds->cols);
    for (size_t j = 0; ds->names && j < ds->cols; j++)
        if (!ds->names[j] || strlen(ds->names[j]) > (size_t)1 << 30) abort();
    clae_dataset_free(ds);
}

#endif
