#!/usr/bin/python3
"""A D-Bus subscriber in its own process for the stuck-subscriber test: connects to the bus at
ADDRESS, subscribes to every Classification signal, prints "ready", then prints "PATH SEQ" for
each signal as it reads it. The test SIGSTOPs it, so for a while it reads nothing from its socket.

    subscriber.py ADDRESS"""
import sys

from gi.repository import Gio, GLib


def main():
    flags = (Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT |
             Gio.DBusConnectionFlags.MESSAGE_BUS_CONNECTION)
    conn = Gio.DBusConnection.new_for_address_sync(sys.argv[1], flags, None, None)

    def on_signal(conn, sender, path, iface, member, params):
        sys.stdout.write("%s %d\n" % (path, params.get_child_value(0).get_uint64()))
        sys.stdout.flush()

    conn.signal_subscribe(None, "org.vitd1.Pipeline", "Classification", None, None,
                          Gio.DBusSignalFlags.NONE, on_signal)
    # A round trip to the bus: once it returns, the AddMatch is in force.
    conn.call_sync("org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
                   "GetId", None, None, Gio.DBusCallFlags.NONE, 5000, None)
    print("ready", flush=True)
    GLib.MainLoop().run()


if __name__ == "__main__":
    main()
