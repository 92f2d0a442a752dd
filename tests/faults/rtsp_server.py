#!/usr/bin/python3
"""A real RTSP server for the fault tests (gst-rtsp-server through python3-gi): serves a live
test pattern as RTP/JPEG (jpegenc and rtpjpegpay are in gst-plugins-good, so no x264 is needed)
at rtsp://127.0.0.1:PORT/cam, shared by every client. Prints "ready" on stdout once it listens.

    rtsp_server.py PORT [FPS]

The tests kill it (SIGKILL) mid-stream and start it again on the same port: the listening socket
is bound with SO_REUSEADDR, so the restart does not wait for TIME_WAIT."""
import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402


def main():
    port = int(sys.argv[1])
    fps = int(sys.argv[2]) if len(sys.argv) > 2 else 15
    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(str(port))
    factory = GstRtspServer.RTSPMediaFactory()
    factory.set_launch("( videotestsrc is-live=true pattern=ball ! video/x-raw,format=I420,width=160,height=120,"
                       "framerate=%d/1 ! jpegenc quality=60 ! rtpjpegpay name=pay0 pt=26 )" % fps)
    factory.set_shared(True)
    server.get_mount_points().add_factory("/cam", factory)
    if server.attach(None) == 0:
        print("cannot listen on 127.0.0.1:%d" % port, file=sys.stderr)
        return 1
    print("ready", flush=True)
    GLib.MainLoop().run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
