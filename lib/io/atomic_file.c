/* atomic_file.c — the temp-file-and-rename writer every clae file writer goes through (safetensors, CSV,
 * NPY), so a reader sees either the old file or the complete new one, never half of either. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io/safetensors.h"
#include "runtime/error.h"

static void atomic_release(clae_atomic_file *af)
{
    free(af->path);
    free(af->tmp_path);
    memset(af, 0, sizeof *af);
}

clae_status clae_atomic_open(clae_atomic_file *af, const char *path)
{
    memset(af, 0, sizeof *af);
    size_t cap = strlen(path) + 32;
    af->path = strdup(path);
    af->tmp_path = malloc(cap);
    if (!af->path || !af->tmp_path) {
        atomic_release(af);
        return clae_fail(CLAE_ERR_NOMEM, "%s: out of memory", path);
    }
    /* The pid keeps two processes writing the same file from sharing a
     * temporary; the final rename decides which complete file wins. */
    snprintf(af->tmp_path, cap, "%s.tmp.%ld", path, (long)getpid());
    af->fp = fopen(af->tmp_path, "wb");
    if (!af->fp) {
        clae_status st = clae_fail(CLAE_ERR_IO, "%s: cannot create %s: %s", path, af->tmp_path, strerror(errno));
        atomic_release(af);
        return st;
    }
    return CLAE_OK;
}

int clae_atomic_note(clae_atomic_file *af)
{
    if (!ferror(af->fp)) return 0;
    if (!af->err) af->err = errno ? errno : EIO;
    return 1;
}

void clae_atomic_write(clae_atomic_file *af, const void *data, size_t size)
{
    if (size == 0) return;
    /* errno is cleared first so a stale value is never taken for this write's reason. */
    errno = 0;
    fwrite(data, 1, size, af->fp);
    clae_atomic_note(af);
}

void clae_atomic_abort(clae_atomic_file *af)
{
    if (!af || !af->tmp_path) return;
    if (af->fp) fclose(af->fp);
    remove(af->tmp_path);
    atomic_release(af);
}

clae_status clae_atomic_commit(clae_atomic_file *af)
{
    /* A full disk often shows only when the buffer is flushed, so the flush
     * and close results count as much as every fwrite's. */
    int bad = clae_atomic_note(af);
    int err = bad ? af->err : 0;
    if (fflush(af->fp) != 0 && !bad) {
        bad = 1;
        err = errno;
    }
    if (fclose(af->fp) != 0 && !bad) {
        bad = 1;
        err = errno;
    }
    af->fp = NULL;
    if (bad) {
        clae_status st = clae_fail(CLAE_ERR_IO, "%s: write error: %s", af->path, strerror(err));
        remove(af->tmp_path);
        atomic_release(af);
        return st;
    }
    if (rename(af->tmp_path, af->path) != 0) {
        clae_status st = clae_fail(CLAE_ERR_IO, "%s: cannot rename %s to it: %s", af->path, af->tmp_path,
                                   strerror(errno));
        remove(af->tmp_path);
        atomic_release(af);
        return st;
    }
    atomic_release(af);
    return CLAE_OK;
}
