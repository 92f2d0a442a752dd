/* vitd-bus.h — the D-Bus surface of vitd on the control connection: org.vitd1.Manager at
 * /org/vitd1 and org.vitd1.Pipeline at /org/vitd1/pipeline/<encoded name>. */
#pragma once

#include <systemd/sd-bus.h>
#include "vitd-manager.h"

/* Registers the objects of M on M->bus. */
int vitd_bus_register(VitdManager *m);
/* PropertiesChanged for the properties of P that emit it (State, LastError, Restarts, Model,
 * Source). */
void vitd_bus_emit_pipeline_changed(VitdManager *m, VitdPipeline *p);
void vitd_bus_emit_pipeline_added(VitdManager *m, VitdPipeline *p);
void vitd_bus_emit_pipeline_removed(VitdManager *m, VitdPipeline *p);
