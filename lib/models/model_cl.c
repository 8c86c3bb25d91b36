/* model_cl.c — a model's calls on the caller's OpenCL buffers (companions of clae_runtime_wrap): rows come from
 * and results go to cl_mem objects, copied on the device through the very passes of the host-array calls. */
#include "models/model_internal.h"

/* The caller's buffer must be a memory object of this runtime's context holding floats [off, off + n). */
static clae_status check_mem(clae_model *m, cl_mem mem, size_t off, size_t n, const char *what, const char *name)
{
    if (m->rt->is_ref)
        return clae_fail(CLAE_ERR_ARG, "%s: cpu-ref has no OpenCL buffers; use the host-array call", what);
    if (!mem) return clae_fail(CLAE_ERR_ARG, "%s: %s is NULL", what, name);
    size_t bytes = 0;
    cl_context ctx = NULL;
    if (clGetMemObjectInfo(mem, CL_MEM_SIZE, sizeof bytes, &bytes, NULL) != CL_SUCCESS ||
        clGetMemObjectInfo(mem, CL_MEM_CONTEXT, sizeof ctx, &ctx, NULL) != CL_SUCCESS)
        return clae_fail(CLAE_ERR_ARG, "%s: %s is not a valid cl_mem", what, name);
    if (ctx != m->rt->ctx)
        return clae_fail(CLAE_ERR_ARG, "%s: %s belongs to another OpenCL context than the model's runtime", what, name);
    if (off > bytes / sizeof(float) || n > bytes / sizeof(float) - off)
        return clae_fail(CLAE_ERR_ARG, "%s: %s holds %zu floats; floats [%zu, %zu) were asked for", what, name,
                         bytes / sizeof(float), off, off + n);
    return CLAE_OK;
}

static clae_status train_step_cl(clae_model *m, cl_mem x, size_t x_off, size_t rows, float *loss)
{
    TRY(clae_model_check_usable(m, 1, "train_step_cl"));
    if (rows < 1 || rows > (size_t)m->cfg.batch)
        return clae_fail(CLAE_ERR_ARG, "train_step_cl: %zu rows; expected 1..%d (the model's batch size)", rows,
                         m->cfg.batch);
    TRY(check_mem(m, x, x_off, rows * m->arch.input, "train_step_cl", "x"));
    m->in_mem = x;
    m->in_off = x_off;
    clae_status s = clae_model_run_step(m, NULL, NULL, rows, loss);
    m->in_mem = NULL;
    return s;
}

clae_status clae_model_train_step_cl(clae_model *m, cl_mem x, size_t x_offset, size_t rows, float *loss)
{
    if (!m) return clae_fail(CLAE_ERR_ARG, "train_step_cl: model is NULL");
    WITH_PASS(m, 1, train_step_cl(m, x, x_offset, rows, loss));
}

/* What an inference call on buffers writes: the value after layer `upto` (width w), the reconstruction or the
 * per-row errors, at out_off floats into out. */
typedef struct infer_cl {
    int upto;
    size_t w;
    enum { OUT_VALUES, OUT_RECON, OUT_ERRORS } kind;
    cl_mem out;
    size_t out_off;
} infer_cl;

static clae_status infer_chunks_cl(clae_model *m, cl_mem x, size_t x_off, size_t rows, const infer_cl *o,
                                   const char *what)
{
    TRY(clae_model_check_usable(m, 0, what));
    const size_t B = (size_t)m->cfg.batch, D = m->arch.input, n_net = (size_t)m->net.n;
    const size_t per_row = o->kind == OUT_VALUES ? o->w : o->kind == OUT_RECON ? D : 1;
    TRY(check_mem(m, x, x_off, rows * D, what, "x"));
    TRY(check_mem(m, o->out, o->out_off, rows * per_row, what, "the output"));
    clae_net_pass *p = &m->net.infer;
    clae_status s = CLAE_OK;
    for (size_t first = 0; s == CLAE_OK && first < rows; first += B) {
        size_t n = rows - first < B ? rows - first : B;
        m->in_mem = x;
        m->in_off = x_off + first * D;
        s = clae_model_run_infer(m, NULL, n, o->upto);
        m->in_mem = NULL;
        if (s != CLAE_OK) break;
        const size_t dst = o->out_off + first * per_row;
        if (o->kind == OUT_VALUES) {
            s = clae_buf_copy_to_mem(m->rt, p->val[o->upto + 1], 0, o->out, dst, n * o->w);
            continue;
        }
        /* The host call's output position, with the row errors divided on the device as the host divides. */
        s = clae_model_enter(m, "infer output");
        if (s == CLAE_OK && o->kind == OUT_ERRORS)
            s = clae_op_row_mse(m->rt, p->val[n_net], p->val[0], n, D, m->pass[0].row_out);
        if (s == CLAE_OK)
            s = o->kind == OUT_ERRORS ? clae_buf_copy_to_mem(m->rt, m->pass[0].row_out, 0, o->out, dst, n)
                                      : clae_buf_copy_to_mem(m->rt, p->val[n_net], 0, o->out, dst, n * D);
        if (s == CLAE_OK) s = clae_model_pass_end(m);
    }
    return s;
}

clae_status clae_model_encode_cl(clae_model *m, cl_mem x, size_t x_offset, size_t rows, cl_mem codes,
                                 size_t codes_offset)
{
    if (!m) return clae_fail(CLAE_ERR_ARG, "encode_cl: model is NULL");
    infer_cl o = {m->arch.code, m->arch.layer[m->arch.code].out, OUT_VALUES, codes, codes_offset};
    WITH_PASS(m, 0, infer_chunks_cl(m, x, x_offset, rows, &o, "encode_cl"));
}

clae_status clae_model_reconstruct_cl(clae_model *m, cl_mem x, size_t x_offset, size_t rows, cl_mem out,
                                      size_t out_offset)
{
    if (!m) return clae_fail(CLAE_ERR_ARG, "reconstruct_cl: model is NULL");
    infer_cl o = {m->net.n - 1, 0, OUT_RECON, out, out_offset};
    WITH_PASS(m, 0, infer_chunks_cl(m, x, x_offset, rows, &o, "reconstruct_cl"));
}

clae_status clae_model_row_errors_cl(clae_model *m, cl_mem x, size_t x_offset, size_t rows, cl_mem err,
                                     size_t err_offset)
{
    if (!m) return clae_fail(CLAE_ERR_ARG, "row_errors_cl: model is NULL");
    infer_cl o = {m->net.n - 1, 0, OUT_ERRORS, err, err_offset};
    WITH_PASS(m, 0, infer_chunks_cl(m, x, x_offset, rows, &o, "row_errors_cl"));
}
