/* vit_build.c — the ViT family's build: timm's VisionTransformer variants (vit.h) read from
 * the tensors, config.json's model_args and, for what the weights do not reveal, the
 * architecture name the way timm's registered names set it.
 *
 * From the tensors: embed dim, depth, patch, in_chans, mlp width, classes, class / dist /
 * register tokens, qkv and proj biases, qk_norm, layer scale, norm_pre, norm vs fc_norm, the
 * attention-pool head. From model_args (else the name): heads, image size, global_pool,
 * act_layer, no_embed_class (else from pos_embed's row count). Every model_args key must be
 * one of timm's VisionTransformer arguments; a feature libvit lacks is refused by name, and
 * any tensor left unused is an error (an unsupported variant must not run silently wrong). */
#include <errno.h>
#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/suggest.h"
#include "families/vit.h"
#include "ops/ops.h"

/* timm's VisionTransformer arguments (and vitd's stem_chans / distilled). */
static const char *const known_args[] = {
    "img_size",
    "patch_size",
    "in_chans",
    "num_classes",
    "global_pool",
    "embed_dim",
    "depth",
    "num_heads",
    "mlp_ratio",
    "qkv_bias",
    "qk_norm",
    "scale_attn_norm",
    "scale_mlp_norm",
    "proj_bias",
    "init_values",
    "class_token",
    "pos_embed",
    "no_embed_class",
    "reg_tokens",
    "pre_norm",
    "final_norm",
    "fc_norm",
    "pool_include_prefix",
    "dynamic_img_size",
    "dynamic_img_pad",
    "drop_rate",
    "pos_drop_rate",
    "patch_drop_rate",
    "proj_drop_rate",
    "attn_drop_rate",
    "drop_path_rate",
    "weight_init",
    "fix_init",
    "embed_layer",
    "embed_norm_layer",
    "norm_layer",
    "act_layer",
    "block_fn",
    "mlp_layer",
    "attn_layer",
    "stem_chans",
    "distilled",
    NULL,
};

/* Features libvit lacks, given away by a registered timm name (glob; their keys look like a
 * plain ViT's or would only fail as an unused tensor) or by a tensor (TENSOR). */
#define TENSOR "="
static const char *const lacking[][2] = {
    {"*_xp_*", "parallel blocks with RmsNorm (ParallelScalingBlock)"},
    {"*_18x2_*", "parallel blocks (ParallelThingsBlock)"},
    {"vit_*pwee_*", "parallel blocks (ParallelScalingBlock)"},
    {"*_rpn_*", "post-norm residual blocks (ResPostBlock)"},
    {"vit_d*wee_*", "differential attention"},
    {"vit_dlittle_*", "differential attention"},
    {"*_rope_*", "rotary position embeddings (RoPE)"},
    {"vit_giant_patch14_*dinov2*", "SwiGLU MLP"},
    {"*tipsv2*", "SwiGLU MLP"},
    {TENSOR "blocks.0.attn.norm.weight", "scale_attn_norm (a norm before attn.proj)"},
    {TENSOR "blocks.0.mlp.norm.weight", "scale_mlp_norm (a norm inside the MLP)"},
    {TENSOR "blocks.0.attn.gate.weight", "gated attention"},
    {TENSOR "blocks.0.mlp.fc1_g.weight", "SwiGLU MLP"},
    {TENSOR "blocks.0.attn.lambda_q1", "differential attention"},
    {TENSOR "blocks.0.attn.q_proj.weight", "separate q/k/v projections (EVA)"},
    {TENSOR "rope.freq", "rotary position embeddings (RoPE)"},
    {TENSOR "patch_embed.norm.weight", "a norm in the patch embedding (embed_norm_layer)"},
    {TENSOR "attn_pool.pos_embed", "a position embedding in the attention pool"},
};

/* Names whose activation timm sets: the SigLIP 2 towers use tanh GELU (the other SigLIPs exact
 * GELU), `*quickgelu*` QuickGELU. */
static const char *const tanh_gelu_names[] = {
    "vit_base_patch32_siglip_*",
    "vit_large_patch16_siglip_*512",
    "vit_so400m_patch16_siglip_*",
    "vit_giantopt_*siglip*",
};

static int name_is(const char *arch, const char *const *patterns, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (fnmatch(patterns[i], arch, 0) == 0)
            return 1;
    return 0;
}

/* A tensor the build reads sizes from, if present with ndim dims; not marked used. */
static const vit_st_tensor *peek(vit_binder *b, const char *name, int ndim)
{
    const vit_st_tensor *t = vit_binder_peek(b, "%s", name);
    return t && t->ndim == ndim ? t : NULL;
}

static int unsupported(vit_error *err, const vit_config *cfg, const char *feature)
{
    return vit_errorf(err, -ENOTSUP, "%s: %.100s: %s: not supported", cfg->source,
                      cfg->architecture, feature);
}

/* The features the name, model_args or tensors ask for that libvit does not have; the
 * activation and the LayerNorm epsilon, which the weights do not reveal. */
static int check_features(vit_binder *b, vit_net *n)
{
    vit_config *cfg = &b->model->config;
    int r = vit_suggest_check_args(cfg, known_args, "a ViT (timm VisionTransformer)", b->err);
    if (r < 0)
        return r;
    for (size_t i = 0; i < sizeof(lacking) / sizeof(lacking[0]); i++) {
        const char *what = lacking[i][0], *feature = lacking[i][1];
        if (what[0] != TENSOR[0] && fnmatch(what, cfg->architecture, 0) == 0)
            return unsupported(b->err, cfg, feature);
        if (what[0] == TENSOR[0] && vit_binder_peek(b, "%s", what + 1))
            return vit_errorf(b->err, -ENOTSUP, "%s: tensor %s: %s: not supported",
                              b->model->weights->path, what + 1, feature);
    }
    static const char *const flags[] = {"scale_attn_norm", "scale_mlp_norm", "dynamic_img_pad"};
    for (size_t i = 0; i < 3; i++) {
        r = vit_arg_bool(cfg, flags[i], 0, b->err);
        if (r != 0)
            return r < 0 ? r : unsupported(b->err, cfg, flags[i]);
    }
    static const char *const layers[] = {"block_fn", "mlp_layer", "attn_layer", "embed_layer",
                                         "embed_norm_layer"};
    for (size_t i = 0; i < 5; i++) {
        const char *v = vit_config_arg_string(cfg, layers[i]);
        if (v && *v && strcmp(v, "attn") && strcmp(v, "Block") && strcmp(v, "Mlp") &&
            strcmp(v, "PatchEmbed"))
            return vit_errorf(b->err, -ENOTSUP, "%s: model_args.%s \"%.40s\": not supported",
                              cfg->source, layers[i], v);
    }
    const char *act = vit_config_arg_string(cfg, "act_layer");
    n->act = VIT_ACT_GELU;
    if (strstr(cfg->architecture, "quickgelu"))
        n->act = VIT_ACT_QUICK_GELU;
    else if (name_is(cfg->architecture, tanh_gelu_names,
                     sizeof(tanh_gelu_names) / sizeof(tanh_gelu_names[0])))
        n->act = VIT_ACT_GELU_TANH;
    if (act && !strcmp(act, "quick_gelu"))
        n->act = VIT_ACT_QUICK_GELU;
    else if (act && (!strcmp(act, "gelu_tanh") || !strcmp(act, "gelu_pytorch_tanh")))
        n->act = VIT_ACT_GELU_TANH;
    else if (act && strcmp(act, "gelu"))
        return vit_errorf(b->err, -ENOTSUP,
                          "%s: activation %.40s: not supported (gelu, gelu_tanh, quick_gelu)",
                          cfg->source, act);
    const char *norm = vit_config_arg_string(cfg, "norm_layer");
    if (norm && strcmp(norm, "layernorm"))
        return vit_errorf(b->err, -ENOTSUP, "%s: norm_layer %.40s: not supported (layernorm)",
                          cfg->source, norm);
    n->eps = strstr(cfg->architecture, "_clip_") ? 1e-5f : 1e-6f;
    return 0;
}

/* ---- blocks ------------------------------------------------------------------------------ */

/* A LayerNorm pair <prefix>.{weight,bias} of width C; both NULL when absent. */
static int get_norm(vit_binder *b, const float **w, const float **bias, int64_t C,
                    const char *prefix)
{
    int r = vit_binder_get_opt(b, w, VIT_SHAPE(C), "%s.weight", prefix);
    if (r == 0 && *w)
        r = vit_binder_get(b, bias, VIT_SHAPE(C), "%s.bias", prefix);
    return r;
}

/* head_dim from blocks.0.attn.q_norm.weight (qk_norm), 0 without one. */
static int qk_norm_dim(vit_binder *b, const char *prefix)
{
    const vit_st_tensor *t = vit_binder_peek(b, "%sq_norm.weight", prefix);
    return t && t->ndim == 1 && t->shape[0] >= 1 ? (int)t->shape[0] : 0;
}

static int build_block(vit_binder *b, vit_net *n, int i)
{
    vit_block *blk = &n->blocks[i];
    int64_t D = n->dim, H = n->hidden, d = D / n->heads;
    char p[64];
#define GET(field, key, ...)                                                                       \
    do {                                                                                           \
        int r_ = vit_binder_get(b, &blk->field, VIT_SHAPE(__VA_ARGS__), "blocks.%d." key, i);      \
        if (r_ < 0)                                                                                \
            return r_;                                                                             \
    } while (0)
#define OPT(field, key, ...)                                                                       \
    do {                                                                                           \
        int r_ = vit_binder_get_opt(b, &blk->field, VIT_SHAPE(__VA_ARGS__), "blocks.%d." key, i);  \
        if (r_ < 0)                                                                                \
            return r_;                                                                             \
    } while (0)
    GET(norm1_w, "norm1.weight", D);
    GET(norm1_b, "norm1.bias", D);
    GET(qkv_w, "attn.qkv.weight", 3 * D, D);
    OPT(qkv_b, "attn.qkv.bias", 3 * D);
    GET(proj_w, "attn.proj.weight", D, D);
    OPT(proj_b, "attn.proj.bias", D);
    GET(norm2_w, "norm2.weight", D);
    GET(norm2_b, "norm2.bias", D);
    GET(fc1_w, "mlp.fc1.weight", H, D);
    OPT(fc1_b, "mlp.fc1.bias", H);
    GET(fc2_w, "mlp.fc2.weight", D, H);
    OPT(fc2_b, "mlp.fc2.bias", D);
    OPT(ls1, "ls1.gamma", D);
    OPT(ls2, "ls2.gamma", D);
#undef GET
#undef OPT
    snprintf(p, sizeof(p), "blocks.%d.attn.q_norm", i);
    int r = get_norm(b, &blk->q_norm_w, &blk->q_norm_b, d, p);
    snprintf(p, sizeof(p), "blocks.%d.attn.k_norm", i);
    if (r == 0)
        r = get_norm(b, &blk->k_norm_w, &blk->k_norm_b, d, p);
    if (r == 0 && !blk->q_norm_w != !blk->k_norm_w)
        r = vit_errorf(b->err, -EINVAL, "%s: block %d has only one of attn.q_norm / attn.k_norm",
                       b->model->weights->path, i);
    return r;
}

static int build_blocks(vit_binder *b, vit_net *n)
{
    for (n->depth = 0; n->depth < 10000; n->depth++)
        if (!vit_binder_peek(b, "blocks.%d.norm1.weight", n->depth))
            break;
    if (n->depth == 0)
        return vit_binder_get(b, NULL, VIT_SHAPE(n->dim), "blocks.0.norm1.weight");
    const vit_st_tensor *fc1 = peek(b, "blocks.0.mlp.fc1.weight", 2);
    if (!fc1)
        return vit_binder_get(b, NULL, VIT_SHAPE(-1, n->dim), "blocks.0.mlp.fc1.weight");
    if (fc1->shape[0] < 1 || fc1->shape[0] > 1 << 20)
        return vit_errorf(b->err, -EINVAL,
                          "%s: tensor blocks.0.mlp.fc1.weight has an "
                          "unsupported shape",
                          b->model->weights->path);
    const vit_st_tensor *fc2 = peek(b, "blocks.0.mlp.fc2.weight", 2);
    if (fc2 && fc2->shape[1] * 2 == fc1->shape[0])
        return vit_errorf(b->err, -ENOTSUP,
                          "%s: tensor blocks.0.mlp.fc1.weight: a packed "
                          "SwiGLU MLP (fc1 twice fc2's width): not supported",
                          b->model->weights->path);
    n->hidden = (int)fc1->shape[0];
    n->blocks = calloc((size_t)n->depth, sizeof(vit_block));
    if (!n->blocks)
        return vit_errorf(b->err, -ENOMEM, "out of memory");
    for (int i = 0; i < n->depth; i++) {
        int r = build_block(b, n, i);
        if (r < 0)
            return r;
    }
    return 0;
}

/* ---- head ------------------------------------------------------------------------------- */

static int build_attn_pool(vit_binder *b, vit_net *n)
{
    vit_attn_pool *a = &n->map;
    int64_t D = n->dim, d = D / n->heads;
    const vit_st_tensor *fc1 = peek(b, "attn_pool.mlp.fc1.weight", 2);
    if (!fc1 || fc1->shape[0] < 1 || fc1->shape[0] > 1 << 20)
        return vit_binder_get(b, NULL, VIT_SHAPE(-1, D), "attn_pool.mlp.fc1.weight");
    a->hidden = (int)fc1->shape[0];
    int64_t H = a->hidden;
    int r = vit_binder_get(b, &a->latent, VIT_SHAPE(1, 1, D), "attn_pool.latent");
    if (r == 0)
        r = vit_binder_get(b, &a->q_w, VIT_SHAPE(D, D), "attn_pool.q.weight");
    if (r == 0)
        r = vit_binder_get_opt(b, &a->q_b, VIT_SHAPE(D), "attn_pool.q.bias");
    if (r == 0)
        r = vit_binder_get(b, &a->kv_w, VIT_SHAPE(2 * D, D), "attn_pool.kv.weight");
    if (r == 0)
        r = vit_binder_get_opt(b, &a->kv_b, VIT_SHAPE(2 * D), "attn_pool.kv.bias");
    if (r == 0)
        r = get_norm(b, &a->q_norm_w, &a->q_norm_b, d, "attn_pool.q_norm");
    if (r == 0)
        r = get_norm(b, &a->k_norm_w, &a->k_norm_b, d, "attn_pool.k_norm");
    if (r == 0)
        r = vit_binder_get(b, &a->proj_w, VIT_SHAPE(D, D), "attn_pool.proj.weight");
    if (r == 0)
        r = vit_binder_get(b, &a->proj_b, VIT_SHAPE(D), "attn_pool.proj.bias");
    if (r == 0)
        r = vit_binder_get(b, &a->norm_w, VIT_SHAPE(D), "attn_pool.norm.weight");
    if (r == 0)
        r = vit_binder_get(b, &a->norm_b, VIT_SHAPE(D), "attn_pool.norm.bias");
    if (r == 0)
        r = vit_binder_get(b, &a->fc1_w, VIT_SHAPE(H, D), "attn_pool.mlp.fc1.weight");
    if (r == 0)
        r = vit_binder_get(b, &a->fc1_b, VIT_SHAPE(H), "attn_pool.mlp.fc1.bias");
    if (r == 0)
        r = vit_binder_get(b, &a->fc2_w, VIT_SHAPE(D, H), "attn_pool.mlp.fc2.weight");
    if (r == 0)
        r = vit_binder_get(b, &a->fc2_b, VIT_SHAPE(D), "attn_pool.mlp.fc2.bias");
    return r;
}

/* global_pool: model_args or config.json's top level, else token with a class token, map with
 * an attention pool, avg otherwise. */
static int choose_pool(vit_binder *b, vit_net *n)
{
    vit_config *cfg = &b->model->config;
    static const char *const names[] = {"token", "avg", "max", "avgmax", "map"};
    const char *pool = vit_config_string(cfg, "global_pool");
    if (!pool)
        pool = n->cls_token ? "token" : vit_binder_peek(b, "attn_pool.latent") ? "map" : "avg";
    size_t i = 0;
    while (i < 5 && strcmp(pool, names[i]))
        i++;
    if (i == 5)
        return vit_errorf(b->err, -ENOTSUP,
                          "%s: global_pool \"%.40s\": not supported (token, avg, max, avgmax, "
                          "map)",
                          cfg->source, pool);
    n->pool = (vit_pool)i;
    if (n->pool == VIT_POOL_TOKEN && !n->cls_token)
        return vit_errorf(b->err, -EINVAL, "%s: global_pool token without a cls_token tensor",
                          cfg->source);
    if (n->dist_token && n->pool != VIT_POOL_TOKEN)
        return vit_errorf(b->err, -ENOTSUP, "%s: a distilled model needs token pooling",
                          cfg->source);
    int r = vit_arg_bool(cfg, "pool_include_prefix", 0, b->err);
    if (r < 0)
        return r;
    n->pool_first = r ? 0 : n->num_prefix;
    return n->pool == VIT_POOL_MAP ? build_attn_pool(b, n) : 0;
}

static int build_head(vit_binder *b, vit_net *n)
{
    vit_config *cfg = &b->model->config;
    int64_t D = n->dim;
    int r = choose_pool(b, n);
    if (r == 0)
        r = get_norm(b, &n->norm_pre_w, &n->norm_pre_b, D, "norm_pre");
    if (r == 0)
        r = get_norm(b, &n->norm_w, &n->norm_b, D, "norm");
    if (r == 0)
        r = get_norm(b, &n->fc_norm_w, &n->fc_norm_b, D, "fc_norm");
    if (r < 0)
        return r;
    const vit_st_tensor *hw = peek(b, "head.weight", 2);
    int args_classes = -1;
    if (vit_config_arg_int(cfg, "num_classes", &args_classes, b->err) < 0)
        args_classes = -1;
    if (!hw && (cfg->num_classes == 0 || args_classes == 0))
        return vit_errorf(b->err, -ENOTSUP,
                          "%s: num_classes is 0: a feature extractor without a classifier "
                          "head (head.weight); libvit runs classifiers only",
                          cfg->source);
    if (!hw)
        return vit_binder_get(b, NULL, VIT_SHAPE(-1, D), "head.weight");
    if (hw->shape[0] < 1 || hw->shape[0] > 1000000)
        return vit_errorf(b->err, -EINVAL, "%s: tensor head.weight has an unsupported shape",
                          b->model->weights->path);
    n->num_classes = (int)hw->shape[0];
    int64_t K = n->num_classes;
    r = vit_binder_get(b, &n->head_w, VIT_SHAPE(K, D), "head.weight");
    if (r == 0)
        r = vit_binder_get(b, &n->head_b, VIT_SHAPE(K), "head.bias");
    if (r == 0 && n->dist_token)
        r = vit_binder_get(b, &n->head_dist_w, VIT_SHAPE(K, D), "head_dist.weight");
    if (r == 0 && n->dist_token)
        r = vit_binder_get(b, &n->head_dist_b, VIT_SHAPE(K), "head_dist.bias");
    return r;
}

/* ---- config ----------------------------------------------------------------------------- */

/* Heads: model_args.num_heads, qk_norm's head width, else head_dim 64 (16 heads for the
 * huge / gigantic / so400m / giantopt sizes). */
static int choose_heads(vit_binder *b, vit_net *n)
{
    vit_config *cfg = &b->model->config;
    int heads = 0, qd = qk_norm_dim(b, "blocks.0.attn.");
    int r = vit_config_arg_int(cfg, "num_heads", &heads, b->err);
    if (r == -ENOENT) {
        static const char *const sixteen[] = {"huge", "gigantic", "so400m", "giantopt"};
        heads = n->dim % 64 == 0 ? n->dim / 64 : 0;
        for (size_t i = 0; i < 4; i++)
            if (strstr(cfg->architecture, sixteen[i]))
                heads = 16;
        if (qd > 0 && n->dim % qd == 0)
            heads = n->dim / qd;
    } else if (r < 0) {
        return r;
    }
    if (heads < 1 || n->dim % heads)
        return vit_errorf(b->err, -EINVAL,
                          "%s: %d heads do not divide embed dim %d (set model_args.num_heads)",
                          cfg->source, heads, n->dim);
    n->heads = heads;
    return 0;
}

static int check_config(vit_binder *b, vit_net *n)
{
    vit_config *cfg = &b->model->config;
    static const char *const int_args[] = {"embed_dim", "depth",      "patch_size",
                                           "in_chans",  "reg_tokens", "num_classes"};
    int values[] = {n->dim, n->depth, n->patch, n->in_chans, n->num_reg, n->num_classes};
    for (int i = 0; i < 6; i++) {
        int v;
        int r = vit_config_arg_int(cfg, int_args[i], &v, b->err);
        if (r == -ENOENT)
            continue;
        if (r < 0)
            return r;
        if (v != values[i])
            return vit_errorf(b->err, -EINVAL, "%s: model_args.%s is %d but the weights have %d",
                              cfg->source, int_args[i], v, values[i]);
    }
    int cls = vit_arg_bool(cfg, "class_token", !!n->cls_token, b->err);
    if (cls < 0)
        return cls;
    if (cls != !!n->cls_token)
        return vit_errorf(b->err, -EINVAL,
                          "%s: model_args.class_token is %s but tensor cls_token "
                          "is %s",
                          cfg->source, cls ? "true" : "false",
                          n->cls_token ? "present" : "missing");
    if (cfg->num_classes > 0 && cfg->num_classes != n->num_classes)
        return vit_errorf(b->err, -EINVAL,
                          "%s: num_classes is %d but tensor head.weight has %d "
                          "rows",
                          cfg->source, cfg->num_classes, n->num_classes);
    if (cfg->input_h > 0 && cfg->input_c != n->in_chans)
        return vit_errorf(b->err, -EINVAL,
                          "%s: pretrained_cfg.input_size has %d channels but tensor "
                          "patch_embed.proj.weight reads %d",
                          cfg->source, cfg->input_c, n->in_chans);
    return 0;
}

double vit_net_gflops(const vit_net *n)
{
    double N = n->tokens, D = n->dim, H = n->hidden;
    double embed = vit_patch_embed_macs(&n->pe, n->num_patches);
    double block = N * D * 3 * D + 2 * N * N * D + N * D * D + 2 * N * D * H;
    double head = D * n->num_classes * (n->dist_token ? 2 : 1);
    if (n->pool == VIT_POOL_MAP)
        head += N * D * 2 * D + 2 * D * D + 2 * N * D + 2 * D * n->map.hidden;
    return 2.0 * (embed + n->depth * block + head) * 1e-9;
}

void vit_net_free(vit_net *n)
{
    if (n) {
        free(n->blocks);
        free(n->pos_owned);
    }
    free(n);
}

int vit_net_build(vit_model *m, vit_net **ret, vit_error *err)
{
    vit_net *n = calloc(1, sizeof(*n));
    vit_binder b = {0};
    int r = n ? vit_binder_init(&b, m, err) : vit_errorf(err, -ENOMEM, "out of memory");
    if (r == 0)
        r = check_features(&b, n);
    if (r == 0)
        r = vit_build_embed(&b, n);
    if (r == 0)
        r = choose_heads(&b, n);
    if (r == 0)
        r = build_blocks(&b, n);
    if (r == 0)
        r = build_head(&b, n);
    if (r == 0)
        r = check_config(&b, n);
    if (r == 0)
        r = vit_binder_check_all_used(&b, "a ViT (unsupported variant of %.100s)",
                                      m->config.architecture);
    vit_binder_clear(&b);
    if (r < 0) {
        vit_net_free(n);
        return r;
    }
    *ret = n;
    return 0;
}
