/* cache.c — the on-disk program cache: one checksummed file per key, written atomically.
 * A damaged or foreign entry is deleted and reported as CLAE_ERR_FORMAT so the caller rebuilds. */
#include "runtime/runtime.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <nettle/sha2.h>
#include <nettle/version.h>
#include <zlib.h>

static const char cache_magic[] = "CLAECACHE1\n";
#define MAGIC_LEN (sizeof cache_magic - 1)
#define HEADER_FIXED (MAGIC_LEN + 8 + 8 + 4)

void clae_sha256_hex(const void *data, size_t size, char hex[65])
{
    struct sha256_ctx ctx;
    uint8_t digest[SHA256_DIGEST_SIZE];
    sha256_init(&ctx);
    sha256_update(&ctx, size, (const uint8_t *)data);
#if NETTLE_VERSION_MAJOR >= 4
    sha256_digest(&ctx, digest);
#else
    sha256_digest(&ctx, SHA256_DIGEST_SIZE, digest);
#endif
    static const char digits[] = "0123456789abcdef";
    for (int i = 0; i < SHA256_DIGEST_SIZE; i++) {
        hex[2 * i] = digits[digest[i] >> 4];
        hex[2 * i + 1] = digits[digest[i] & 15];
    }
    hex[64] = '\0';
}

void clae_cache_entry_path(const char *dir, const char *key, char *path, size_t cap)
{
    char hex[65];
    clae_sha256_hex(key, strlen(key), hex);
    snprintf(path, cap, "%s/%s.bin", dir, hex);
}

/* zlib's crc32 takes a uInt length; feed it in chunks so payloads of any size work. */
static uint32_t payload_crc(const unsigned char *p, size_t n)
{
    uLong crc = crc32(0L, Z_NULL, 0);
    while (n > 0) {
        uInt chunk = n > (1u << 30) ? (1u << 30) : (uInt)n;
        crc = crc32(crc, p, chunk);
        p += chunk;
        n -= chunk;
    }
    return (uint32_t)crc;
}

/* Integers are stored little-endian so an entry means the same on any host. */
static void put_u64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++) p[i] = (unsigned char)(v >> (8 * i));
}

static void put_u32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) p[i] = (unsigned char)(v >> (8 * i));
}

static uint64_t get_u64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}

static uint32_t get_u32(const unsigned char *p)
{
    uint32_t v = 0;
    for (int i = 3; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}

static clae_status reject(const char *path, const char *why, unsigned char *buf)
{
    free(buf);
    unlink(path);
    return clae_fail(CLAE_ERR_FORMAT, "%s: corrupt program cache entry (%s); deleted", path, why);
}

clae_status clae_cache_load(const char *dir, const char *key, unsigned char **data, size_t *size)
{
    if (!dir || !*dir || !key || !data || !size)
        return clae_fail(CLAE_ERR_ARG, "clae_cache_load: missing directory, key or output");
    *data = NULL;
    *size = 0;
    char path[2048];
    clae_cache_entry_path(dir, key, path, sizeof path);

    FILE *f = fopen(path, "rb");
    if (!f) return clae_fail(CLAE_ERR_CACHE, "%s: no program cache entry (%s)", path, strerror(errno));
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || st.st_size < 0) {
        fclose(f);
        return clae_fail(CLAE_ERR_CACHE, "%s: cannot stat program cache entry", path);
    }
    size_t fsize = (size_t)st.st_size;
    unsigned char *buf = malloc(fsize ? fsize : 1);
    if (!buf) {
        fclose(f);
        return clae_fail(CLAE_ERR_NOMEM, "%s: out of memory reading %zu bytes", path, fsize);
    }
    size_t got = fread(buf, 1, fsize, f);
    int read_err = ferror(f);
    fclose(f);
    if (read_err) {
        free(buf);
        return clae_fail(CLAE_ERR_CACHE, "%s: cannot read program cache entry", path);
    }
    if (got != fsize) return reject(path, "file shorter than its size", buf);

    size_t keylen = strlen(key);
    if (fsize < HEADER_FIXED) return reject(path, "shorter than the header", buf);
    if (memcmp(buf, cache_magic, MAGIC_LEN) != 0) return reject(path, "bad magic", buf);
    uint64_t stored_keylen = get_u64(buf + MAGIC_LEN);
    if (stored_keylen != keylen || fsize - HEADER_FIXED < keylen)
        return reject(path, "key does not match", buf);
    const unsigned char *p = buf + MAGIC_LEN + 8;
    if (memcmp(p, key, keylen) != 0) return reject(path, "key does not match", buf);
    p += keylen;
    uint64_t psize = get_u64(p);
    uint32_t crc = get_u32(p + 8);
    p += 12;
    if (psize != (uint64_t)(fsize - HEADER_FIXED - keylen))
        return reject(path, "payload size does not match file size", buf);
    if (payload_crc(p, (size_t)psize) != crc) return reject(path, "checksum mismatch", buf);

    /* Move the payload to the front so the caller owns a plain malloc'd block. */
    memmove(buf, p, (size_t)psize);
    *data = buf;
    *size = (size_t)psize;
    return CLAE_OK;
}

/* mkdir -p: the cache directory may be several levels below an existing one. */
static int make_dirs(const char *dir)
{
    char tmp[2048];
    size_t len = strlen(dir);
    if (len == 0 || len >= sizeof tmp) return -1;
    memcpy(tmp, dir, len + 1);
    for (char *s = tmp + 1; *s; s++) {
        if (*s != '/') continue;
        *s = '\0';
        if (mkdir(tmp, 0755) != 0 && errno != EEXIST) return -1;
        *s = '/';
    }
    if (mkdir(tmp, 0755) != 0 && errno != EEXIST) return -1;
    struct stat st;
    return (stat(tmp, &st) == 0 && S_ISDIR(st.st_mode)) ? 0 : -1;
}

clae_status clae_cache_store(const char *dir, const char *key, const unsigned char *data, size_t size)
{
    /* Distinguishes temporary files of concurrent stores from threads of one process. */
    static atomic_uint store_counter;

    if (!dir || !*dir || !key || (!data && size))
        return clae_fail(CLAE_ERR_ARG, "clae_cache_store: missing directory, key or data");
    if (make_dirs(dir) != 0)
        return clae_fail(CLAE_ERR_IO, "%s: cannot create cache directory (%s)", dir, strerror(errno));
    char path[2048], tmp[2100];
    clae_cache_entry_path(dir, key, path, sizeof path);
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld.%u", path, (long)getpid(), atomic_fetch_add(&store_counter, 1u));

    size_t keylen = strlen(key);
    unsigned char head[MAGIC_LEN + 8];
    memcpy(head, cache_magic, MAGIC_LEN);
    put_u64(head + MAGIC_LEN, keylen);
    unsigned char mid[12];
    put_u64(mid, size);
    put_u32(mid + 8, payload_crc(data, size));

    FILE *f = fopen(tmp, "wb");
    if (!f) return clae_fail(CLAE_ERR_IO, "%s: cannot create (%s)", tmp, strerror(errno));
    int ok = fwrite(head, 1, sizeof head, f) == sizeof head && fwrite(key, 1, keylen, f) == keylen &&
             fwrite(mid, 1, sizeof mid, f) == sizeof mid && (size == 0 || fwrite(data, 1, size, f) == size);
    if (fclose(f) != 0) ok = 0;
    if (!ok) {
        int e = errno;
        unlink(tmp);
        return clae_fail(CLAE_ERR_IO, "%s: cannot write (%s)", tmp, strerror(e));
    }
    if (rename(tmp, path) != 0) {
        int e = errno;
        unlink(tmp);
        return clae_fail(CLAE_ERR_IO, "%s: cannot rename into place (%s)", path, strerror(e));
    }
    return CLAE_OK;
}
