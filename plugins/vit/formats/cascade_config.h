/* cascade_config.h — reading a cascade's exit thresholds and budgets from config.json into the
 * model (see cascade_config.c for the keys). */
#ifndef VIT_CASCADE_CONFIG_H
#define VIT_CASCADE_CONFIG_H

#include "core/model.h"

/* Fills model->exit_thresholds and model->budgets; model->num_exits must be set. Errors name
 * the config file and the key. */
int vit_cascade_config_load(vit_model *model, vit_error *err);

#endif
