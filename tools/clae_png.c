/* clae_png.c — the canvas under the CLI's pictures: pixels, rectangles and text in a built-in 5×7 font on an
 * RGB buffer, written by libpng to a temporary file that is renamed into place. */
#include "clae_png_draw.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <png.h>

/* 5×7 glyphs for ASCII 32..95, one byte per row, bit 4 the leftmost pixel.
 * Lower case is drawn with the capitals; an all-zero entry other than the
 * space has no glyph and is drawn as '?'. */
static const unsigned char FONT[64][7] = {
    {0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00}, /* ' ' */
    {0x04, 0x04, 0x04, 0x04, 0x04, 0x00, 0x04}, /* '!' */
    {0}, /* '"': none, drawn as '?' */
    {0x0a, 0x0a, 0x1f, 0x0a, 0x1f, 0x0a, 0x0a}, /* '#' */
    {0}, /* '$': none, drawn as '?' */
    {0x18, 0x19, 0x02, 0x04, 0x08, 0x13, 0x03}, /* '%' */
    {0}, /* '&': none, drawn as '?' */
    {0x04, 0x04, 0x08, 0x00, 0x00, 0x00, 0x00}, /* '\'' */
    {0x02, 0x04, 0x08, 0x08, 0x08, 0x04, 0x02}, /* '(' */
    {0x08, 0x04, 0x02, 0x02, 0x02, 0x04, 0x08}, /* ')' */
    {0x00, 0x04, 0x15, 0x0e, 0x15, 0x04, 0x00}, /* '*' */
    {0x00, 0x04, 0x04, 0x1f, 0x04, 0x04, 0x00}, /* '+' */
    {0x00, 0x00, 0x00, 0x00, 0x0c, 0x04, 0x08}, /* ',' */
    {0x00, 0x00, 0x00, 0x1f, 0x00, 0x00, 0x00}, /* '-' */
    {0x00, 0x00, 0x00, 0x00, 0x00, 0x0c, 0x0c}, /* '.' */
    {0x00, 0x01, 0x02, 0x04, 0x08, 0x10, 0x00}, /* '/' */
    {0x0e, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0e}, /* '0' */
    {0x04, 0x0c, 0x04, 0x04, 0x04, 0x04, 0x0e}, /* '1' */
    {0x0e, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1f}, /* '2' */
    {0x1f, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0e}, /* '3' */
    {0x02, 0x06, 0x0a, 0x12, 0x1f, 0x02, 0x02}, /* '4' */
    {0x1f, 0x10, 0x1e, 0x01, 0x01, 0x11, 0x0e}, /* '5' */
    {0x06, 0x08, 0x10, 0x1e, 0x11, 0x11, 0x0e}, /* '6' */
    {0x1f, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08}, /* '7' */
    {0x0e, 0x11, 0x11, 0x0e, 0x11, 0x11, 0x0e}, /* '8' */
    {0x0e, 0x11, 0x11, 0x0f, 0x01, 0x02, 0x0c}, /* '9' */
    {0x00, 0x0c, 0x0c, 0x00, 0x0c, 0x0c, 0x00}, /* ':' */
    {0}, /* ';': none, drawn as '?' */
    {0x02, 0x04, 0x08, 0x10, 0x08, 0x04, 0x02}, /* '<' */
    {0x00, 0x00, 0x1f, 0x00, 0x1f, 0x00, 0x00}, /* '=' */
    {0x08, 0x04, 0x02, 0x01, 0x02, 0x04, 0x08}, /* '>' */
    {0x0e, 0x11, 0x01, 0x02, 0x04, 0x00, 0x04}, /* '?' */
    {0}, /* '@': none, drawn as '?' */
    {0x0e, 0x11, 0x11, 0x1f, 0x11, 0x11, 0x11}, /* 'A' */
    {0x1e, 0x11, 0x11, 0x1e, 0x11, 0x11, 0x1e}, /* 'B' */
    {0x0e, 0x11, 0x10, 0x10, 0x10, 0x11, 0x0e}, /* 'C' */
    {0x1c, 0x12, 0x11, 0x11, 0x11, 0x12, 0x1c}, /* 'D' */
    {0x1f, 0x10, 0x10, 0x1e, 0x10, 0x10, 0x1f}, /* 'E' */
    {0x1f, 0x10, 0x10, 0x1e, 0x10, 0x10, 0x10}, /* 'F' */
    {0x0e, 0x11, 0x10, 0x17, 0x11, 0x11, 0x0f}, /* 'G' */
    {0x11, 0x11, 0x11, 0x1f, 0x11, 0x11, 0x11}, /* 'H' */
    {0x0e, 0x04, 0x04, 0x04, 0x04, 0x04, 0x0e}, /* 'I' */
    {0x07, 0x02, 0x02, 0x02, 0x02, 0x12, 0x0c}, /* 'J' */
    {0x11, 0x12, 0x14, 0x18, 0x14, 0x12, 0x11}, /* 'K' */
    {0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x1f}, /* 'L' */
    {0x11, 0x1b, 0x15, 0x15, 0x11, 0x11, 0x11}, /* 'M' */
    {0x11, 0x11, 0x19, 0x15, 0x13, 0x11, 0x11}, /* 'N' */
    {0x0e, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0e}, /* 'O' */
    {0x1e, 0x11, 0x11, 0x1e, 0x10, 0x10, 0x10}, /* 'P' */
    {0x0e, 0x11, 0x11, 0x11, 0x15, 0x12, 0x0d}, /* 'Q' */
    {0x1e, 0x11, 0x11, 0x1e, 0x14, 0x12, 0x11}, /* 'R' */
    {0x0f, 0x10, 0x10, 0x0e, 0x01, 0x01, 0x1e}, /* 'S' */
    {0x1f, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04}, /* 'T' */
    {0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0e}, /* 'U' */
    {0x11, 0x11, 0x11, 0x11, 0x11, 0x0a, 0x04}, /* 'V' */
    {0x11, 0x11, 0x11, 0x15, 0x15, 0x15, 0x0a}, /* 'W' */
    {0x11, 0x11, 0x0a, 0x04, 0x0a, 0x11, 0x11}, /* 'X' */
    {0x11, 0x11, 0x0a, 0x04, 0x04, 0x04, 0x04}, /* 'Y' */
    {0x1f, 0x01, 0x02, 0x04, 0x08, 0x10, 0x1f}, /* 'Z' */
    {0x0e, 0x08, 0x08, 0x08, 0x08, 0x08, 0x0e}, /* '[' */
    {0}, /* '\\': none, drawn as '?' */
    {0x0e, 0x02, 0x02, 0x02, 0x02, 0x02, 0x0e}, /* ']' */
    {0}, /* '^': none, drawn as '?' */
    {0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x1f}, /* '_' */
};

/* ------------------------------------------------------------------------ */
/* Errors and the canvas                                                     */
/* ------------------------------------------------------------------------ */

int pic_fail(char *err, size_t errcap, const char *fmt, ...)
{
    if (err && errcap > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errcap, fmt, ap);
        va_end(ap);
    }
    return 1;
}

int pic_canvas_init(canvas *c, size_t w, size_t h, rgb bg)
{
    c->px = NULL;
    if (w == 0 || h == 0 || w > PNG_MAX_SIDE || h > PNG_MAX_SIDE) return 0;
    c->w = (int)w;
    c->h = (int)h;
    c->px = malloc(w * h * 3);
    if (!c->px) return 0;
    for (size_t k = 0; k < w * h; k++) {
        c->px[3 * k] = bg.r;
        c->px[3 * k + 1] = bg.g;
        c->px[3 * k + 2] = bg.b;
    }
    return 1;
}

void pic_put(canvas *c, int x, int y, rgb col)
{
    if (x < 0 || y < 0 || x >= c->w || y >= c->h) return;
    unsigned char *p = c->px + 3 * ((size_t)y * (size_t)c->w + (size_t)x);
    p[0] = col.r;
    p[1] = col.g;
    p[2] = col.b;
}

/* Fills [x0, x1) × [y0, y1). */
void pic_fill(canvas *c, int x0, int y0, int x1, int y1, rgb col)
{
    for (int y = y0; y < y1; y++)
        for (int x = x0; x < x1; x++) pic_put(c, x, y, col);
}

/* A 1-pixel rectangle outline around [x0, x1] × [y0, y1] (inclusive). */
void pic_frame(canvas *c, int x0, int y0, int x1, int y1, rgb col)
{
    pic_fill(c, x0, y0, x1 + 1, y0 + 1, col);
    pic_fill(c, x0, y1, x1 + 1, y1 + 1, col);
    pic_fill(c, x0, y0, x0 + 1, y1 + 1, col);
    pic_fill(c, x1, y0, x1 + 1, y1 + 1, col);
}

static const unsigned char *glyph(char ch)
{
    int code = (unsigned char)ch;
    if (code >= 'a' && code <= 'z') code -= 'a' - 'A';
    if (code < 32 || code > 95) code = '?';
    const unsigned char *g = FONT[code - 32];
    int empty = 1;
    for (int r = 0; r < 7; r++) empty &= g[r] == 0;
    if (empty && code != ' ') g = FONT['?' - 32];
    return g;
}

/* Width in pixels of s at scale: 5 columns per glyph plus 1 of spacing. */
int pic_text_width(const char *s, int scale)
{
    size_t n = strlen(s);
    return n ? (int)n * 6 * scale - scale : 0;
}

/* Draws s with its top-left corner at (x, y). */
void pic_text(canvas *c, int x, int y, const char *s, int scale, rgb col)
{
    for (; *s; s++, x += 6 * scale) {
        const unsigned char *g = glyph(*s);
        for (int r = 0; r < 7; r++)
            for (int b = 0; b < 5; b++)
                if (g[r] >> (4 - b) & 1) pic_fill(c, x + b * scale, y + r * scale, x + (b + 1) * scale, y + (r + 1) * scale, col);
    }
}

/* ------------------------------------------------------------------------ */
/* Writing the file                                                          */
/* ------------------------------------------------------------------------ */

typedef struct png_err {
    char msg[256];
} png_err;

static void png_error_fn(png_structp png, png_const_charp msg)
{
    png_err *e = png_get_error_ptr(png);
    snprintf(e->msg, sizeof e->msg, "%s", msg);
    png_longjmp(png, 1);
}

/* libpng warnings (e.g. about ancillary chunks) do not affect what we write. */
static void png_warning_fn(png_structp png, png_const_charp msg)
{
    (void)png;
    (void)msg;
}

/* Everything libpng does happens here, between one setjmp and its end, so no
 * local variable is changed after the setjmp (a longjmp would clobber it). */
static int png_encode(FILE *fp, const canvas *c, png_err *e)
{
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, e, png_error_fn, png_warning_fn);
    if (!png) {
        snprintf(e->msg, sizeof e->msg, "out of memory");
        return 0;
    }
    png_infop info = png_create_info_struct(png);
    if (!info) {
        png_destroy_write_struct(&png, NULL);
        snprintf(e->msg, sizeof e->msg, "out of memory");
        return 0;
    }
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        return 0;
    }
    png_init_io(png, fp);
    png_set_IHDR(png, info, (png_uint_32)c->w, (png_uint_32)c->h, 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    for (int y = 0; y < c->h; y++) png_write_row(png, c->px + 3 * (size_t)y * (size_t)c->w);
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    return 1;
}

/* Writes c to "<path>.tmp.<pid>" and renames it to path. */
int pic_save(const char *path, const canvas *c, char *err, size_t errcap)
{
    size_t cap = strlen(path) + 32;
    char *tmp = malloc(cap);
    if (!tmp) return pic_fail(err, errcap, "%s: out of memory", path);
    snprintf(tmp, cap, "%s.tmp.%ld", path, (long)getpid());
    FILE *fp = fopen(tmp, "wb");
    if (!fp) {
        pic_fail(err, errcap, "%s: cannot create %s: %s", path, tmp, strerror(errno));
        free(tmp);
        return 1;
    }
    png_err e = {""};
    int ok = png_encode(fp, c, &e);
    int werr = 0;
    if (ok && (fflush(fp) != 0 || ferror(fp))) {
        ok = 0;
        werr = errno;
    }
    if (fclose(fp) != 0 && ok) {
        ok = 0;
        werr = errno;
    }
    if (!ok) {
        if (werr) pic_fail(err, errcap, "%s: write error: %s", path, strerror(werr));
        else pic_fail(err, errcap, "%s: PNG encoding failed: %s", path, e.msg);
        remove(tmp);
        free(tmp);
        return 1;
    }
    if (rename(tmp, path) != 0) {
        pic_fail(err, errcap, "%s: cannot rename %s to it: %s", path, tmp, strerror(errno));
        remove(tmp);
        free(tmp);
        return 1;
    }
    free(tmp);
    return 0;
}
