/* vitd-bus-source.h — connects to a bus and runs the sd_bus connection from a GLib main context. */
#pragma once

#include <glib.h>
#include <systemd/sd-bus.h>

/* Connects to the system bus, or the session bus when USER_BUS; DESCRIPTION names the
 * connection in logs. Logs and returns a negative errno on failure. */
int vitd_bus_connect(gboolean user_bus, const char *description, sd_bus **ret);

/* Called once when the connection fails (the bus went away); the source is then removed. */
typedef void (*VitdBusLost)(sd_bus *bus, gpointer user_data);

/* Attaches BUS to the default main context: its fd, events and timeout drive sd_bus_process().
 * The source holds a reference on BUS. Returns the source id. */
guint vitd_bus_source_attach(sd_bus *bus, VitdBusLost on_lost, gpointer user_data);
/* Removes the source ID if it is still attached (it removes itself when the bus fails). */
void vitd_bus_source_detach(guint id);
