/* clae_png_draw.h — what the CLI's picture files share (clae_png.c, clae_png_grid.c, clae_png_chart.c): the RGB
 * canvas, its pixel, rectangle and text primitives, the error helper and the atomic PNG writer. */
#ifndef CLAE_PNG_DRAW_H
#define CLAE_PNG_DRAW_H

#include <stddef.h>

/* The largest picture accepted, per side: far beyond any useful grid, and
 * small enough that width·height·3 cannot overflow. */
#define PNG_MAX_SIDE 30000

typedef struct rgb {
    unsigned char r, g, b;
} rgb;

/* The colours more than one kind of picture uses. */
static const rgb WHITE = {255, 255, 255};
static const rgb INK = {40, 40, 40}; /* text and axes */

typedef struct canvas {
    int w, h;
    unsigned char *px; /* w·h RGB triples, row-major */
} canvas;

/* Writes the message into err (when errcap allows) and returns 1, the failure
 * value of every clae_png_* function, so callers can `return pic_fail(...)`. */
int pic_fail(char *err, size_t errcap, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* A w × h canvas filled with bg. 0 when a side is 0 or above PNG_MAX_SIDE, or
 * when out of memory; on success the caller frees c->px. */
int pic_canvas_init(canvas *c, size_t w, size_t h, rgb bg);

/* One pixel; a pixel outside the canvas is ignored, so shapes clip at its edge. */
void pic_put(canvas *c, int x, int y, rgb col);

/* Fills [x0, x1) × [y0, y1). */
void pic_fill(canvas *c, int x0, int y0, int x1, int y1, rgb col);

/* A 1-pixel rectangle outline around [x0, x1] × [y0, y1] (inclusive). */
void pic_frame(canvas *c, int x0, int y0, int x1, int y1, rgb col);

/* Width in pixels of s at scale: 5 columns per glyph plus 1 of spacing. */
int pic_text_width(const char *s, int scale);

/* Draws s in the built-in 5×7 font at ×scale with its top-left corner at (x, y). */
void pic_text(canvas *c, int x, int y, const char *s, int scale, rgb col);

/* Writes c as an RGB PNG to "<path>.tmp.<pid>" and renames it to path: 0, or
 * 1 with a message naming path in err (the temporary file is removed). */
int pic_save(const char *path, const canvas *c, char *err, size_t errcap);

#endif
