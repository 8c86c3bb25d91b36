/* clae_png_grid.c — image grids for the CLI: n grayscale images in rows, and originals above their
 * reconstructions with row labels, framed by separator lines no gray pixel can be mistaken for. */
#include "clae_png.h"

#include <math.h>
#include <stdlib.h>

#include "clae_png_draw.h"

static const rgb SEP = {70, 100, 150}; /* image separators: blue grey, never a gray pixel value */

static unsigned char to_byte(float v)
{
    if (!(v > 0.0f)) return 0; /* also NaN */
    if (v >= 1.0f) return 255;
    return (unsigned char)lrintf(v * 255.0f);
}

/* Draws one h × w image at ×zoom with its top-left pixel at (x0, y0). */
static void blit(canvas *c, int x0, int y0, const float *img, size_t h, size_t w, int zoom)
{
    for (size_t y = 0; y < h; y++)
        for (size_t x = 0; x < w; x++) {
            unsigned char g = to_byte(img[y * w + x]);
            rgb col = {g, g, g};
            int px = x0 + (int)x * zoom, py = y0 + (int)y * zoom;
            pic_fill(c, px, py, px + zoom, py + zoom, col);
        }
}

/* The shared argument checks; returns 0 when fine. */
static int grid_args(const char *path, const void *a, const void *b, size_t n, size_t h, size_t w, char *err,
                     size_t errcap)
{
    if (!path) return pic_fail(err, errcap, "png: no output path");
    if (!a || !b) return pic_fail(err, errcap, "%s: no images", path);
    if (n == 0) return pic_fail(err, errcap, "%s: no images to draw", path);
    if (h == 0 || w == 0 || h > 4096 || w > 4096)
        return pic_fail(err, errcap, "%s: image size %zux%zu out of range (1 to 4096 per side)", path, h, w);
    return 0;
}

static int zoom_for(size_t h, size_t w) { return h <= 32 && w <= 32 ? 2 : 1; }

int clae_png_write_gray_grid(const char *path, const float *images, size_t n, size_t h, size_t w, size_t cols,
                             char *err, size_t errcap)
{
    if (grid_args(path, images, images, n, h, w, err, errcap)) return 1;
    if (cols == 0) {
        cols = (size_t)ceil(sqrt((double)n));
        if (cols == 0) cols = 1;
    }
    if (cols > n) cols = n;
    size_t grows = (n + cols - 1) / cols;
    int zoom = zoom_for(h, w);
    size_t cw = w * (size_t)zoom, ch = h * (size_t)zoom;
    if (cols > PNG_MAX_SIDE / (cw + 1) || grows > PNG_MAX_SIDE / (ch + 1))
        return pic_fail(err, errcap, "%s: a grid of %zu x %zu images of %zux%zu is too large", path, grows, cols, h, w);
    canvas c;
    /* The separator colour as background: every gap between images is a line. */
    if (!pic_canvas_init(&c, cols * (cw + 1) + 1, grows * (ch + 1) + 1, SEP))
        return pic_fail(err, errcap, "%s: out of memory", path);
    for (size_t i = 0; i < n; i++) {
        int x0 = 1 + (int)((i % cols) * (cw + 1)), y0 = 1 + (int)((i / cols) * (ch + 1));
        blit(&c, x0, y0, images + i * h * w, h, w, zoom);
    }
    /* Cells of an unfilled last row stay white, not separator-coloured, so
     * they do not read as a very dark image. */
    for (size_t i = n; i < grows * cols; i++) {
        int x0 = 1 + (int)((i % cols) * (cw + 1)), y0 = 1 + (int)((i / cols) * (ch + 1));
        pic_fill(&c, x0, y0, x0 + (int)cw, y0 + (int)ch, WHITE);
    }
    int rc = pic_save(path, &c, err, errcap);
    free(c.px);
    return rc;
}

int clae_png_write_pairs(const char *path, const float *orig, const float *recon, size_t n, size_t h, size_t w,
                         size_t per_row, char *err, size_t errcap)
{
    if (grid_args(path, orig, recon, n, h, w, err, errcap)) return 1;
    if (per_row == 0) per_row = 10;
    if (per_row > n) per_row = n;
    size_t groups = (n + per_row - 1) / per_row;
    int zoom = zoom_for(h, w);
    size_t cw = w * (size_t)zoom, ch = h * (size_t)zoom;
    const int margin = 4, gap = 6;
    const int gutter = pic_text_width("RECON", 1) + 8; /* room for the row labels */
    size_t block = 2 * ch + 3;                     /* frame, originals, line, reconstructions, frame */
    if (per_row > PNG_MAX_SIDE / (cw + 1) || groups > PNG_MAX_SIDE / (block + (size_t)gap))
        return pic_fail(err, errcap, "%s: %zu pairs of %zux%zu images are too many for one picture", path, n, h, w);
    size_t W = (size_t)gutter + per_row * (cw + 1) + 1 + (size_t)margin;
    size_t H = 2 * (size_t)margin + groups * block + (groups - 1) * (size_t)gap;
    canvas c;
    if (!pic_canvas_init(&c, W, H, WHITE)) return pic_fail(err, errcap, "%s: out of memory", path);
    for (size_t g = 0; g < groups; g++) {
        size_t first = g * per_row, k = n - first < per_row ? n - first : per_row;
        int top = margin + (int)(g * (block + (size_t)gap));
        pic_fill(&c, gutter, top, gutter + (int)(k * (cw + 1) + 1), top + (int)block, SEP);
        for (size_t j = 0; j < k; j++) {
            int x0 = gutter + 1 + (int)(j * (cw + 1));
            blit(&c, x0, top + 1, orig + (first + j) * h * w, h, w, zoom);
            blit(&c, x0, top + 2 + (int)ch, recon + (first + j) * h * w, h, w, zoom);
        }
        pic_text(&c, 3, top + 1 + (int)ch / 2 - 3, "ORIG", 1, INK);
        pic_text(&c, 3, top + 2 + (int)ch + (int)ch / 2 - 3, "RECON", 1, INK);
    }
    int rc = pic_save(path, &c, err, errcap);
    free(c.px);
    return rc;
}
