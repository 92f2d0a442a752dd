/* cascade_config.c — a cascade's exit policy from config.json: the per-exit default thresholds
 * and the compute budgets, plus the public queries over them.
 *
 *   "exit_threshold": 0.9                          one default for every exit
 *   "exit_thresholds": [0.9, 0.9, 0.0]             per exit (wins over exit_threshold)
 *   "budgets": [{"thresholds": [0.99, 0.97, 0.0], "val_mean_gflops": 0.031, ...}, ...]
 *
 * Budgets are written by tools/train/train_dvt.py: thresholds chosen on the validation split
 * for exit proportions pi_k ~ q^k, and the mean GFLOPs per image they cost there. The session
 * picks one with vit_session_set_budget (session.c). */
#include <errno.h>
#include <math.h>
#include <stdio.h>

#include "formats/cascade_config.h"
#include "core/error.h"

static int read_thresholds(const vit_config *cfg, json_t *arr, const char *what, int num_exits,
                           float *ret, vit_error *err)
{
    if (!json_is_array(arr) || (int)json_array_size(arr) != num_exits)
        return vit_errorf(err, -EINVAL, "%s: %s must be an array of %d numbers (one per exit)",
                          cfg->source, what, num_exits);
    float t[VIT_MAX_EXITS];
    for (int k = 0; k < num_exits; k++) {
        json_t *v = json_array_get(arr, (size_t)k);
        if (!json_is_number(v) || !isfinite(json_number_value(v)))
            return vit_errorf(err, -EINVAL, "%s: %s[%d] is not a number", cfg->source, what, k);
        t[k] = (float)json_number_value(v);
    }
    for (int k = 0; k < num_exits; k++)
        ret[k] = t[k];
    return 0;
}

static int read_budgets(vit_model *m, json_t *arr, vit_error *err)
{
    const vit_config *cfg = &m->config;
    if (!json_is_array(arr))
        return vit_errorf(err, -EINVAL, "%s: budgets must be an array", cfg->source);
    if (json_array_size(arr) > VIT_MAX_BUDGETS)
        return vit_errorf(err, -EINVAL, "%s: %zu budgets, at most %d are supported", cfg->source,
                          json_array_size(arr), VIT_MAX_BUDGETS);
    int n = (int)json_array_size(arr);
    for (int b = 0; b < n; b++) {
        json_t *o = json_array_get(arr, (size_t)b);
        json_t *g = json_object_get(o, "val_mean_gflops");
        char what[48];
        snprintf(what, sizeof(what), "budgets[%d].thresholds", b);
        if (!json_is_object(o) || !json_is_number(g) || !(json_number_value(g) >= 0.0))
            return vit_errorf(err, -EINVAL,
                              "%s: budgets[%d] needs \"thresholds\" and a "
                              "non-negative \"val_mean_gflops\"",
                              cfg->source, b);
        int r = read_thresholds(cfg, json_object_get(o, "thresholds"), what, m->num_exits,
                                m->budgets[b].thresholds, err);
        if (r < 0)
            return r;
        m->budgets[b].gflops = json_number_value(g);
    }
    m->num_budgets = n;
    return 0;
}

int vit_cascade_config_load(vit_model *m, vit_error *err)
{
    const vit_config *cfg = &m->config;
    for (int k = 0; k < VIT_MAX_EXITS; k++)
        m->exit_thresholds[k] = cfg->exit_threshold;
    json_t *per_exit = json_object_get(cfg->root, "exit_thresholds");
    if (per_exit) {
        int r = read_thresholds(cfg, per_exit, "exit_thresholds", m->num_exits, m->exit_thresholds,
                                err);
        if (r < 0)
            return r;
    }
    json_t *budgets = json_object_get(cfg->root, "budgets");
    return budgets ? read_budgets(m, budgets, err) : 0;
}

int vit_model_num_budgets(const vit_model *model)
{
    return model->num_budgets;
}

double vit_model_budget_gflops(const vit_model *model, int budget)
{
    if (budget < 0 || budget >= model->num_budgets)
        return 0.0;
    return model->budgets[budget].gflops;
}

float vit_model_exit_threshold(const vit_model *model, int budget, int exit_index)
{
    if (exit_index < 0 || exit_index >= model->num_exits)
        return 0.0f;
    if (model->num_exits == 1 || exit_index == model->num_exits - 1)
        return 0.0f; /* the last exit always answers */
    if (budget >= 0 && budget < model->num_budgets)
        return model->budgets[budget].thresholds[exit_index];
    return model->exit_thresholds[exit_index];
}
