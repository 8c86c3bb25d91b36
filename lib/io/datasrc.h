/* datasrc.h — the byte source every data reader takes: a file or standard input ("-"), plain or gzip,
 * read through zlib with a look-ahead buffer, so a pipe's format can be told from its first bytes. */
#ifndef CLAE_DATASRC_H
#define CLAE_DATASRC_H

#include <stddef.h>

#include <zlib.h>

#include "clae.h"

/* The name messages use for standard input. */
#define CLAE_STDIN_NAME "<stdin>"

typedef struct clae_src {
    gzFile f;
    char name[1024];    /* the path, or CLAE_STDIN_NAME */
    unsigned char *buf; /* bytes read ahead: [pos, len) not yet consumed */
    size_t pos, len;
    int eof;            /* the stream has nothing more after buf */
    clae_status st;     /* CLAE_OK, or the read error already reported with clae_fail */
} clae_src;

/* Opens path ("-": a duplicate of standard input, which stays open).
 * CLAE_ERR_IO naming the path (errno's text) or CLAE_ERR_NOMEM. */
clae_status clae_src_open(clae_src *s, const char *path);

/* Copies up to n bytes into dst and returns the count: short only at the end
 * of the data or on an error, which s->st then holds (already reported). A
 * gzip stream cut short reads as an early end: the callers say "truncated"
 * with the byte counts, which tells more than zlib's message. */
size_t clae_src_read(clae_src *s, void *dst, size_t n);

/* Up to n (at most 4096) bytes from the current position without consuming
 * them; *p points into the source's buffer until the next call. */
size_t clae_src_peek(clae_src *s, const unsigned char **p, size_t n);

/* The next line, its '\n' included, in *line (grown as getline does); the
 * length, or -1 at the end of the data or on an error (s->st). */
long clae_src_getline(clae_src *s, char **line, size_t *cap);

/* The IDX reader on an open source (clae_dataset_load_idx opens one). */
clae_status clae_idx_load_src(clae_src *s, clae_dataset **out);

/* Closes the source (for "-" only the duplicate). NULL fields are fine. */
void clae_src_close(clae_src *s);

#endif
