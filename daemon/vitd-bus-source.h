/* vitd-bus-source.h — runs an sd_bus connection from a GLib main context. */
#pragma once

#include <glib.h>
#include <systemd/sd-bus.h>

/* Attaches BUS to the default main context: its fd, events and timeout drive sd_bus_process().
 * The source holds a reference on BUS. Returns the source id. */
guint vitd_bus_source_attach(sd_bus *bus);
