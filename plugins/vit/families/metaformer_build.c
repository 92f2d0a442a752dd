/* metaformer_build.c — what the hierarchical families' builders share (metaformer.h): the
 * net's allocations, the whole-build wrapper, binder lookups of convs, BatchNorms (folded at
 * load), LayerNorm blocks and classifier heads, model_args checks, the input size, and the
 * stage helpers (grid sizes from the downsample convs, the config check of depths and widths).
 * Nothing here runs per frame; the block run is metaformer.c. */
#include "families/metaformer.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/family.h"
/* ---- building ---------------------------------------------------------------------------- */

void *vit_mf_calloc(vit_mf_allocs *a, size_t count, size_t size)
{
    if (a->n == a->cap) {
        int cap = a->cap ? 2 * a->cap : 16;
        void **ptrs = realloc(a->ptrs, (size_t)cap * sizeof(*ptrs));
        if (!ptrs)
            return NULL;
        a->ptrs = ptrs;
        a->cap = cap;
    }
    void *p = calloc(count, size);
    if (p)
        a->ptrs[a->n++] = p;
    return p;
}

void vit_mf_net_free(void *net)
{
    vit_mf_allocs *a = net; /* the net's first member */
    if (a) {
        for (int i = 0; i < a->n; i++)
            free(a->ptrs[i]);
        free(a->ptrs);
    }
    free(net);
}

int vit_mf_build(vit_model *m, size_t net_size, int (*build)(vit_binder *b, void *net),
                 double (*gflops)(const void *net), vit_error *err)
{
    vit_mf_net *net = calloc(1, net_size);
    vit_binder b;
    int r = net ? vit_binder_init(&b, m, err) : vit_errorf(err, -ENOMEM, "out of memory");
    if (r < 0) {
        free(net);
        return r;
    }
    r = build(&b, net);
    vit_binder_clear(&b);
    if (r < 0) {
        vit_mf_net_free(net);
        return r;
    }
    vit_family_set_net(m, net, net->in_chans, net->img_h, net->img_w, net->num_classes,
                       gflops(net));
    return 0;
}

int vit_mf_check_all_used(vit_binder *b, const char *family_name)
{
    return vit_binder_check_all_used(b, "a %s network (unsupported variant of %.100s)", family_name,
                                     b->model->config.architecture);
}

int vit_mf_get_ln_block(vit_binder *b, vit_mf_block *blk, const char *p, int64_t C, float eps,
                        int k, int *stage_hidden)
{
    const vit_st_tensor *fc1 = vit_binder_peek(b, "%s.mlp.fc1.weight", p);
    if (!fc1 || fc1->ndim != 2 || fc1->shape[0] < 1 || fc1->shape[0] > 1 << 16)
        return vit_binder_get(b, &blk->mlp.fc1_w, VIT_SHAPE(-1, C), "%s.mlp.fc1.weight", p);
    int64_t Hd = fc1->shape[0];
    if (k > 0 && Hd != *stage_hidden)
        return vit_errorf(b->err, -ENOTSUP,
                          "%s: tensor %s.mlp.fc1.weight: MLP width differs "
                          "within a stage",
                          b->model->weights->path, p);
    *stage_hidden = (int)Hd;
    blk->norm1 = (vit_mf_norm){VIT_MF_NORM_LAYER, NULL, NULL, eps};
    blk->norm2 = blk->norm1;
    blk->mlp.hidden = (int)Hd;
    int r = vit_binder_get(b, &blk->norm1.weight, VIT_SHAPE(C), "%s.norm1.weight", p);
    if (r == 0)
        r = vit_binder_get(b, &blk->norm1.bias, VIT_SHAPE(C), "%s.norm1.bias", p);
    if (r == 0)
        r = vit_binder_get(b, &blk->norm2.weight, VIT_SHAPE(C), "%s.norm2.weight", p);
    if (r == 0)
        r = vit_binder_get(b, &blk->norm2.bias, VIT_SHAPE(C), "%s.norm2.bias", p);
    if (r == 0)
        r = vit_binder_get(b, &blk->mlp.fc1_w, VIT_SHAPE(Hd, C), "%s.mlp.fc1.weight", p);
    if (r == 0)
        r = vit_binder_get(b, &blk->mlp.fc1_b, VIT_SHAPE(Hd), "%s.mlp.fc1.bias", p);
    return r;
}

int vit_mf_get_head(vit_binder *b, int64_t C, const char *prefix, int *ret_num_classes,
                    const float **ret_w, const float **ret_b)
{
    const vit_st_tensor *hw = vit_binder_peek(b, "%s.weight", prefix);
    if (!hw || hw->ndim != 2 || hw->shape[0] < 1 || hw->shape[0] > 1000000) {
        /* the binder's error names what is missing or misshapen; else the count is out of range */
        int r = vit_binder_get(b, ret_w, VIT_SHAPE(-1, C), "%s.weight", prefix);
        if (r < 0)
            return r;
        return vit_errorf(b->err, -EINVAL, "%s: tensor %s.weight: %lld classes (max 1000000)",
                          b->model->weights->path, prefix, (long long)hw->shape[0]);
    }
    *ret_num_classes = (int)hw->shape[0];
    int r = vit_binder_get(b, ret_w, VIT_SHAPE(hw->shape[0], C), "%s.weight", prefix);
    return r < 0 ? r : vit_binder_get(b, ret_b, VIT_SHAPE(hw->shape[0]), "%s.bias", prefix);
}

int vit_mf_get_distilled_heads(vit_binder *b, int64_t C, int *ret_num_classes,
                               const float **ret_head_w, const float **ret_head_b,
                               const float **ret_dist_w, const float **ret_dist_b)
{
    int dist_classes = 0;
    int r = vit_mf_get_head(b, C, "head", ret_num_classes, ret_head_w, ret_head_b);
    if (r == 0)
        r = vit_mf_get_head(b, C, "head_dist", &dist_classes, ret_dist_w, ret_dist_b);
    if (r == 0 && dist_classes != *ret_num_classes)
        return vit_errorf(b->err, -EINVAL, "%s: tensor head_dist.weight has %d rows, head has %d",
                          b->model->weights->path, dist_classes, *ret_num_classes);
    return r;
}

int vit_mf_get_conv(vit_binder *b, vit_conv2d *ret, int cin, int cout, int stride, int pad,
                    int groups, int with_bias, const char *fmt, ...)
{
    char prefix[140];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof(prefix), fmt, ap);
    va_end(ap);
    const vit_st_tensor *t = vit_binder_peek(b, "%s.weight", prefix);
    if (!t || t->ndim != 4)
        return vit_binder_get(b, &ret->weight, VIT_SHAPE(cout, cin / groups, -1, -1), "%s.weight",
                              prefix);
    if (t->shape[2] < 1 || t->shape[2] > 64 || t->shape[3] != t->shape[2] || t->shape[0] < 1 ||
        t->shape[0] > 1 << 16 || t->shape[1] < 1 || t->shape[1] > 1 << 16)
        return vit_errorf(b->err, -EINVAL, "%s: tensor %s.weight: unsupported shape",
                          b->model->weights->path, prefix);
    vit_conv2d c = {
        .cin = cin > 0 ? cin : (int)t->shape[1] * groups,
        .cout = cout > 0 ? cout : (int)t->shape[0],
        .kh = (int)t->shape[2],
        .kw = (int)t->shape[3],
        .stride_h = stride,
        .stride_w = stride,
        .pad_h = pad,
        .pad_w = pad,
        .groups = groups,
    };
    if (c.cin % groups || c.cout % groups)
        return vit_errorf(b->err, -EINVAL,
                          "%s: tensor %s.weight: %d groups do not divide %d -> "
                          "%d channels",
                          b->model->weights->path, prefix, groups, c.cin, c.cout);
    int r = vit_binder_get(b, &c.weight, VIT_SHAPE(c.cout, c.cin / groups, c.kh, c.kw), "%s.weight",
                           prefix);
    if (r == 0 && with_bias)
        r = vit_binder_get(b, &c.bias, VIT_SHAPE(c.cout), "%s.bias", prefix);
    if (r < 0)
        return r;
    *ret = c;
    return 0;
}

int vit_mf_get_bn(vit_binder *b, vit_mf_bn *bn, int C, const char *prefix)
{
    int r = vit_binder_get(b, &bn->gamma, VIT_SHAPE(C), "%s.weight", prefix);
    if (r == 0)
        r = vit_binder_get(b, &bn->beta, VIT_SHAPE(C), "%s.bias", prefix);
    if (r == 0)
        r = vit_binder_get(b, &bn->mean, VIT_SHAPE(C), "%s.running_mean", prefix);
    if (r == 0)
        r = vit_binder_get(b, &bn->var, VIT_SHAPE(C), "%s.running_var", prefix);
    vit_binder_ignore(b, "%s.num_batches_tracked", prefix);
    return r;
}

int vit_mf_fold_bn(vit_binder *b, vit_mf_allocs *a, vit_conv2d *c, float eps, const char *fmt, ...)
{
    char p[140];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p, sizeof(p), fmt, ap);
    va_end(ap);
    vit_mf_bn bn;
    int r = vit_mf_get_bn(b, &bn, c->cout, p);
    if (r < 0)
        return r;
    size_t wf = vit_conv2d_weight_floats(c);
    float *buf = vit_mf_calloc(a, wf + (size_t)c->cout, sizeof(float));
    if (!buf)
        return vit_errorf(b->err, -ENOMEM, "out of memory");
    vit_conv2d_fold_bn(c, bn.gamma, bn.beta, bn.mean, bn.var, eps, buf, buf + wf);
    return 0;
}

int vit_mf_conv_khwc(vit_binder *b, vit_mf_allocs *a, vit_conv2d *c)
{
    if ((c->kh == 1 && c->kw == 1) || vit_conv2d_is_depthwise(c) || c->weight_khwc)
        return 0;
    float *w = vit_mf_calloc(a, vit_conv2d_weight_floats(c), sizeof(float));
    if (!w)
        return vit_errorf(b->err, -ENOMEM, "out of memory");
    vit_conv2d_to_khwc(c, w);
    return 0;
}

int vit_mf_alloc_blocks(vit_binder *b, vit_mf_allocs *a, const char *prefix, int stage,
                        vit_mf_block **ret, int *ret_depth)
{
    int depth = vit_binder_count(b, prefix, ".");
    if (depth < 1)
        return vit_errorf(b->err, -EINVAL, "%s: stage %d has no blocks (%s0.*)",
                          b->model->weights->path, stage, prefix);
    *ret = vit_mf_calloc(a, (size_t)depth, sizeof(vit_mf_block));
    if (!*ret)
        return vit_errorf(b->err, -ENOMEM, "out of memory");
    *ret_depth = depth;
    return 0;
}

int vit_mf_config_int_list(const vit_model *m, const char *key, int *out, int max, int lo, int hi,
                           int *ret_n, vit_error *err)
{
    json_t *args = m->config.model_args;
    json_t *v = args ? json_object_get(args, key) : NULL;
    if (!v || json_is_null(v))
        return -ENOENT;
    size_t n = json_is_array(v) ? json_array_size(v) : 0;
    if (n < 1 || n > (size_t)max)
        return vit_errorf(err, -EINVAL, "%s: model_args.%s must be a list of 1 to %d integers",
                          m->config.source, key, max);
    for (size_t i = 0; i < n; i++) {
        json_t *e = json_array_get(v, i);
        double d = json_number_value(e);
        if (!json_is_number(e) || d != floor(d) || d < lo || d > hi)
            return vit_errorf(err, -EINVAL,
                              "%s: model_args.%s[%zu] must be an integer in "
                              "[%d, %d]",
                              m->config.source, key, i, lo, hi);
        out[i] = (int)d;
    }
    *ret_n = (int)n;
    return 0;
}

int vit_mf_check_arg_list(const vit_model *m, const char *key, const int *actual, int n,
                          vit_error *err)
{
    int v[16], nv = 0;
    int r = vit_mf_config_int_list(m, key, v, 16, 0, 1 << 20, &nv, err);
    if (r == -ENOENT)
        return 0;
    if (r < 0)
        return r;
    int same = nv == n;
    for (int i = 0; same && i < n; i++)
        same = v[i] == actual[i];
    if (same)
        return 0;
    char buf[128];
    size_t off = 0;
    for (int i = 0; i < n && off < sizeof(buf) - 16; i++)
        off += (size_t)snprintf(buf + off, sizeof(buf) - off, "%s%d", i ? "," : "", actual[i]);
    return vit_errorf(err, -EINVAL, "%s: model_args.%s does not match the weights' [%s]",
                      m->config.source, key, buf);
}

int vit_mf_check_arg_lists(const vit_model *m, const char *key1, const int *actual1,
                           const char *key2, const int *actual2, int n, vit_error *err)
{
    int r = vit_mf_check_arg_list(m, key1, actual1, n, err);
    return r < 0 ? r : vit_mf_check_arg_list(m, key2, actual2, n, err);
}

int vit_mf_input_size(vit_model *m, int in_chans, int default_side, int num_classes, int *ret_h,
                      int *ret_w, vit_error *err)
{
    vit_config *cfg = &m->config;
    int h = default_side, w = default_side;
    int r = vit_config_arg_size(cfg, "img_size", &h, &w, err);
    if (r == -ENOENT && cfg->input_h > 0) {
        h = cfg->input_h;
        w = cfg->input_w;
    } else if (r < 0 && r != -ENOENT) {
        return r;
    }
    if (in_chans != 1 && in_chans != 3)
        return vit_errorf(err, -ENOTSUP, "%s: %d input channels (1 or 3 are supported)",
                          m->weights->path, in_chans);
    if (h < 1 || w < 1 || h > 8192 || w > 8192)
        return vit_errorf(err, -EINVAL, "%s: image size %dx%d is out of range", cfg->source, h, w);
    if (cfg->input_h > 0 && (cfg->input_c != in_chans || cfg->input_h != h || cfg->input_w != w))
        return vit_errorf(err, -EINVAL,
                          "%s: pretrained_cfg.input_size [%d,%d,%d] does not match "
                          "the model's [%d,%d,%d]",
                          cfg->source, cfg->input_c, cfg->input_h, cfg->input_w, in_chans, h, w);
    if (cfg->num_classes > 0 && cfg->num_classes != num_classes)
        return vit_errorf(err, -EINVAL, "%s: num_classes is %d but the head has %d rows",
                          cfg->source, cfg->num_classes, num_classes);
    int v;
    r = vit_config_arg_int(cfg, "in_chans", &v, err);
    if (r == 0 && v != in_chans)
        return vit_errorf(err, -EINVAL, "%s: model_args.in_chans is %d but the weights have %d",
                          cfg->source, v, in_chans);
    if (r < 0 && r != -ENOENT)
        return r;
    *ret_h = h;
    *ret_w = w;
    return 0;
}

/* ---- stages ------------------------------------------------------------------------------ */

int vit_mf_stage_sizes(vit_binder *b, const vit_mf_net *net, vit_mf_stage *stages, int n, int H,
                       int W)
{
    for (int i = 0; i < n; i++) {
        const vit_conv2d *d = &stages[i].down;
        if (stages[i].has_down) {
            H = vit_conv_out_size(H, d->kh, d->stride_h, d->pad_h);
            W = vit_conv_out_size(W, d->kw, d->stride_w, d->pad_w);
        }
        if (H < 1 || W < 1)
            return vit_errorf(b->err, -EINVAL, "%s: image %dx%d is too small for %d stages",
                              b->model->config.source, net->img_h, net->img_w, n);
        stages[i].H = H;
        stages[i].W = W;
    }
    return 0;
}

int vit_mf_check_stages(vit_binder *b, const vit_mf_stage *stages, int n, const char *dims_key,
                        const char *family_name)
{
    int depths[16], dims[16];
    if (n > 16)
        return vit_errorf(b->err, -EINVAL, "%s: %d stages (at most 16)", b->model->weights->path,
                          n);
    for (int i = 0; i < n; i++) {
        depths[i] = stages[i].depth;
        dims[i] = stages[i].dim;
    }
    int r = vit_mf_check_arg_lists(b->model, "depths", depths, dims_key, dims, n, b->err);
    return r < 0 ? r : vit_mf_check_all_used(b, family_name);
}
