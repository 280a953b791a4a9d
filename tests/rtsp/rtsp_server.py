#!/usr/bin/python3
"""A real RTSP server (gst-rtsp-server) with test cameras, for the stream tests.

Protected mounts: /auth wants the viewer's credentials (Basic or Digest), /token a token in the URL's query string.

Run by Debian's /usr/bin/python3 (python3-gi, gir1.2-gst-rtsp-server-1.0; scripts/install-test-deps.sh installs
them), never by a pyenv or venv python, which has no gi.

    /usr/bin/python3 tests/rtsp/rtsp_server.py --port 0 [--bench-mounts K] [--max-seconds S] [--address 127.0.0.1] [--hold /path]

When listening it prints one line,
    READY {"rtsp": <port>, "silent": <port>, "mounts": ["/h264-1080p", ...], "protected": ["/auth"], "shared": ["/cam/0000", ...]}
("mounts": every mount with a pipeline of its own; "protected": those that need the viewer's credentials; "shared": the
bench mounts, which all play one pipeline). It reads commands from stdin, one per line, and answers each on stdout:
    stop /path     removes the mount and closes the clients playing it (a player sees its stream end) -> OK stop /path
    start /path    adds the mount again                                                                -> OK start /path
    hold /path     the next client of the mount waits: its media stays unprepared (a camera slow to   -> OK hold /path
                   start), so its DESCRIBE gets no answer; prints HELD /path when a client waits
    release /path  lets the held media (if any) start, and ends the hold                             -> OK release /path
It exits when stdin reaches EOF (a test process that dies never leaves it behind), on SIGTERM/SIGINT, and after
--max-seconds in any case.

The "silent" port accepts TCP connections and never answers: a camera that hangs.
"""

import argparse
import ctypes
import json
import os
import signal
import socket
import sys
import threading

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
gi.require_version("GstRtsp", "1.0")
from gi.repository import GLib, Gst, GstRtsp, GstRtspServer  # noqa: E402

AUTH_USER = "viewer"
AUTH_PASSWORD = "s3cret!"
# /token lets in only requests whose query carries token=AUTH_TOKEN, as cameras and NVRs that take credentials in the
# URL's query string do (rtsp://host/token?channel=1&token=...).
AUTH_TOKEN = "t0ken-in-query"
MOVING = "videotestsrc is-live=true pattern=smpte horizontal-speed=4"


def raw(width, height, fps):
    # I420 pinned: left free, x264enc may negotiate Y444 (High 4:4:4), which many decoders refuse.
    return f"video/x-raw,format=I420,width={width},height={height},framerate={fps}/1"


def h264(source, width, height, fps, bitrate=None):
    rate = f" bitrate={bitrate}" if bitrate else ""
    # config-interval=1: SPS/PPS in-band each second, i.e. before each keyframe. Not -1 ("with every IDR"): zerolatency
    # makes x264 cut each frame into slices, and rtph264pay 1.22 then repeats SPS/PPS before every IDR *slice*, which
    # ffmpeg reads as a frame boundary ("corrupt decoded frame", "non monotonically increasing dts" each second).
    return (f"( {source} ! {raw(width, height, fps)} ! x264enc tune=zerolatency speed-preset=ultrafast "
            f"key-int-max={fps}{rate} ! rtph264pay name=pay0 pt=96 config-interval=1 )")


def h265(source, width, height, fps):
    # pools=none: x265's own thread pool makes its first frame take 6-11 s instead of 0.4 s when the CPU is busy (two
    # cores, four busy processes: measured here), and a DESCRIBE waits for that first frame.
    return (f"( {source} ! {raw(width, height, fps)} ! x265enc tune=zerolatency speed-preset=ultrafast "
            f"key-int-max={fps} option-string=pools=none ! rtph265pay name=pay0 pt=96 config-interval=1 )")


LAUNCH = {
    "/h264-1080p": h264(MOVING, 1920, 1080, 15, 2048),
    "/h264-720p": h264(MOVING, 1280, 720, 25, 1024),
    # 5 fps: x265 at 1080p encodes about 10 frames a second on one busy core here (x264: 60), so a 10 fps mount had no
    # headroom while the rest of the suite ran.
    "/h265-1080p": h265(MOVING, 1920, 1080, 5),
    "/h264-360p": h264(MOVING, 640, 360, 30),
    "/black": h264("videotestsrc is-live=true pattern=black", 1280, 720, 10),
    # One frame repeated: a still smpte pattern is not enough, its bottom-right corner is live noise.
    "/frozen": h264("videotestsrc pattern=smpte num-buffers=1 ! imagefreeze is-live=true", 1280, 720, 10),
    # Moving but with almost no detail: the picture is drawn at 16x9 and blown up to 720p.
    "/lowdetail": h264(f"{MOVING} ! video/x-raw,format=I420,width=16,height=9,framerate=10/1 ! videoscale",
                       1280, 720, 10),
    "/stoppable": h264(MOVING, 640, 360, 10),
    "/auth": h264(MOVING, 640, 360, 30),
    "/token": h264(MOVING, 640, 360, 30),
}

# Roles: anonymous clients carry the server's default token (role "anonymous"), which every open mount lets in;
# /auth lets in only the "viewer" role, which only the viewer's credentials carry.
ANONYMOUS_ROLE = "anonymous"
VIEWER_ROLE = "viewer"
PROTECTED = {"/auth"}


def permissions(role):
    perms = GstRtspServer.RTSPPermissions()
    perms.add_permission_for_role(role, "media.factory.access", True)
    perms.add_permission_for_role(role, "media.factory.construct", True)
    return perms


def token(role):
    t = GstRtspServer.RTSPToken()
    t.set_string("media.factory.role", role)
    return t


def set_auth_methods(auth, names):
    """Which schemes the 401 offers (one WWW-Authenticate header each).

    GstRTSPAuthMethod is a bit set in C but an enum in the introspection data, so PyGObject refuses BASIC | DIGEST:
    the combination goes through ctypes.
    """
    bits = {"basic": int(GstRtsp.RTSPAuthMethod.BASIC), "digest": int(GstRtsp.RTSPAuthMethod.DIGEST)}
    methods = 0
    for name in names.split(","):
        methods |= bits[name.strip().lower()]
    lib = ctypes.CDLL("libgstrtspserver-1.0.so.0")
    lib.gst_rtsp_auth_set_supported_methods.argtypes = [ctypes.c_void_p, ctypes.c_int]
    get_pointer = ctypes.pythonapi.PyCapsule_GetPointer
    get_pointer.restype = ctypes.c_void_p
    get_pointer.argtypes = [ctypes.py_object, ctypes.c_char_p]
    lib.gst_rtsp_auth_set_supported_methods(get_pointer(auth.__gpointer__, None), methods)
    assert int(auth.get_supported_methods()) == methods


class MixedAuth(GstRtspServer.RTSPAuth):
    """Anonymous clients play the open mounts; a protected one answers them 401, as a camera would.

    Left alone, gst-rtsp-server gives a client without (valid) credentials the default token and then answers 404
    on a mount that token may not access: a client would never learn it should send credentials. Failing the
    authentication instead makes the server answer 401 with its WWW-Authenticate challenges.
    """

    # Connections that showed /token's query token (kept for the server's short life; tests open few connections).
    token_clients = set()

    def do_authenticate(self, ctx):
        if not GstRtspServer.RTSPAuth.do_authenticate(self, ctx):
            return False
        path = ctx.uri.abspath.rstrip("/") if ctx.uri is not None else ""
        if path == "/token" or path.startswith("/token/"):
            # The token comes with the URL the player was given (OPTIONS, DESCRIBE); SETUP and PLAY go to the control
            # URL the SDP names, without the query, on the connection that showed the token.
            if f"token={AUTH_TOKEN}" in (ctx.uri.query or "").split("&"):
                self.token_clients.add(ctx.client)
                return True
            return ctx.client in self.token_clients
        anonymous = ctx.token is None or ctx.token.get_string("media.factory.role") == ANONYMOUS_ROLE
        return not (anonymous and path in PROTECTED)


class Holds:
    """hold/release: the next media of a held mount is blocked before its payloader until released.

    A DESCRIBE waits until the media has prepared (its first buffer reached the payloader), so a blocked media is a
    camera that is slow to start: its client gets no answer until the release. Other clients, on other threads, are
    not held up.
    """

    def __init__(self):
        self._lock = threading.Lock()
        self._pending = set()   # paths whose next media is to be held
        self._blocked = {}      # path -> [(pad, probe id)]

    def hold(self, path):
        with self._lock:
            self._pending.add(path)

    def release(self, path):
        with self._lock:
            self._pending.discard(path)
            blocked = self._blocked.pop(path, [])
        for pad, probe in blocked:
            pad.remove_probe(probe)

    def configure(self, path, media):
        with self._lock:
            if path not in self._pending:
                return
            self._pending.discard(path)
            pad = media.get_element().get_by_name("pay0").get_static_pad("sink")
            announced = []

            def blocked(pad, info):
                if not announced:
                    announced.append(True)
                    reply(f"HELD {path}")
                return Gst.PadProbeReturn.OK  # stays blocked until the probe is removed

            probe = pad.add_probe(Gst.PadProbeType.BLOCK_DOWNSTREAM | Gst.PadProbeType.BUFFER, blocked)
            self._blocked.setdefault(path, []).append((pad, probe))


HOLDS = Holds()


def make_factory(path):
    factory = GstRtspServer.RTSPMediaFactory()
    factory.set_launch(LAUNCH[path])
    # Not shared: every client gets its own pipeline, so no encoder runs while nobody is connected.
    factory.set_shared(False)
    factory.set_permissions(permissions(VIEWER_ROLE if path in PROTECTED else ANONYMOUS_ROLE))
    factory.connect("media-configure", lambda _factory, media: HOLDS.configure(path, media))
    return factory


class BenchFactory(GstRtspServer.RTSPMediaFactory):
    """One media for every /cam/NNNN path: the key ignores the URL, so all paths find the same prepared media."""

    def do_gen_key(self, url):
        return "bench"


def make_bench_factory():
    factory = BenchFactory()
    factory.set_launch(h264(MOVING, 640, 360, 5))
    factory.set_shared(True)
    # Keep the pipeline (and its encoder) running between the many short DESCRIBE connections.
    factory.set_stop_on_disconnect(False)
    factory.set_permissions(permissions(ANONYMOUS_ROLE))
    return factory


def keep_prepared(factory, url):
    """Prepares the shared bench media once and never lets go of it.

    Every RTSP client that DESCRIBEs prepares the media and unprepares it when it disconnects; with nothing else
    holding it, each short DESCRIBE connection would tear the pipeline down and the next one, arriving while it is
    unpreparing, gets 503 Service Unavailable (over half of 1000 sequential DESCRIBEs did). Our own prepare keeps
    the count above zero, so a DESCRIBE only writes an SDP.
    """
    ok, parsed = GstRtsp.RTSPUrl.parse(url)
    assert ok == GstRtsp.RTSPResult.OK, url
    media = factory.construct(parsed)  # shared: the factory caches it under the constant key
    if media is None or not media.prepare(None):
        print("cannot prepare the bench media", file=sys.stderr, flush=True)
        os._exit(1)
    return media


def close_clients_of(server, path):
    """Closes every client with a session on path, so its player sees the stream end now rather than time out."""

    def media_on_path(session, session_media):
        matched, length = session_media.matches(path)
        if matched and length == len(path):
            found.append(True)
        return GstRtspServer.RTSPFilterResult.KEEP

    def session_filter(client, session):
        session.filter(media_on_path)
        return GstRtspServer.RTSPFilterResult.KEEP

    def client_filter(srv, client):
        found.clear()
        client.session_filter(session_filter)
        return GstRtspServer.RTSPFilterResult.REMOVE if found else GstRtspServer.RTSPFilterResult.KEEP

    found = []
    server.client_filter(client_filter)


def silent_listener(address):
    """A TCP port that accepts and then says nothing, ever; the accepted sockets are kept so they stay open."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind((address, 0))
    listener.listen(64)
    held = []

    def accept_forever():
        while True:
            conn, _ = listener.accept()
            held.append(conn)

    threading.Thread(target=accept_forever, name="silent", daemon=True).start()
    return listener.getsockname()[1]


_stdout_lock = threading.Lock()


def reply(line):
    with _stdout_lock:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, default=0, help="RTSP port; 0 picks a free one")
    parser.add_argument("--bench-mounts", type=int, default=0, help="adds /cam/0000.. sharing one pipeline")
    parser.add_argument("--max-seconds", type=int, default=1800, help="exits by itself after this long")
    parser.add_argument("--address", default="127.0.0.1")
    parser.add_argument("--auth-methods", default="basic,digest", help="schemes /auth offers: basic, digest or both")
    parser.add_argument("--hold", action="append", default=[], choices=list(LAUNCH), help="starts with this mount held")
    args = parser.parse_args()
    for path in args.hold:
        HOLDS.hold(path)

    Gst.init(None)
    loop = GLib.MainLoop()

    server = GstRtspServer.RTSPServer()
    server.set_address(args.address)
    server.set_service(str(args.port))
    # A thread per client (up to 32), not gst-rtsp-server's default of one thread for every client: a DESCRIBE
    # waits in its client's thread until the media has prepared (the encoder's first frame), and with one thread a
    # mount slow to start held up every other client. Measured here with two cores busy: the /h265-1080p prepare
    # (2-9 s) made every DESCRIBE queued behind it time out, even OPTIONS on other mounts.
    server.get_thread_pool().set_max_threads(32)

    auth = MixedAuth()
    set_auth_methods(auth, args.auth_methods)
    auth.set_default_token(token(ANONYMOUS_ROLE))
    auth.add_basic(GstRtspServer.RTSPAuth.make_basic(AUTH_USER, AUTH_PASSWORD), token(VIEWER_ROLE))
    auth.add_digest(AUTH_USER, AUTH_PASSWORD, token(VIEWER_ROLE))
    server.set_auth(auth)

    mounts = server.get_mount_points()
    factories = {path: make_factory(path) for path in LAUNCH}
    if args.bench_mounts > 0:
        bench = make_bench_factory()
        for i in range(args.bench_mounts):
            factories[f"/cam/{i:04d}"] = bench
    for path, factory in factories.items():
        mounts.add_factory(path, factory)

    if server.attach(None) == 0:
        sys.exit(f"cannot listen on {args.address}:{args.port}")

    def command(line):
        verb, _, path = line.strip().partition(" ")
        path = path.strip()
        if verb == "stop" and path:
            mounts.remove_factory(path)
            close_clients_of(server, path)
            reply(f"OK stop {path}")
        elif verb == "start" and path in factories:
            mounts.add_factory(path, factories[path])
            reply(f"OK start {path}")
        elif verb == "hold" and path in LAUNCH:
            HOLDS.hold(path)
            reply(f"OK hold {path}")
        elif verb == "release" and path in LAUNCH:
            HOLDS.release(path)
            reply(f"OK release {path}")
        elif line.strip():
            reply(f"ERR {line.strip()}")
        return GLib.SOURCE_REMOVE

    def read_stdin():
        for line in sys.stdin:
            GLib.idle_add(command, line)
        GLib.idle_add(loop.quit)

    threading.Thread(target=read_stdin, name="stdin", daemon=True).start()
    for sig in (signal.SIGTERM, signal.SIGINT):
        GLib.unix_signal_add(GLib.PRIORITY_HIGH, sig, loop.quit)
    GLib.timeout_add_seconds(args.max_seconds, loop.quit)

    ready = "READY " + json.dumps({
        "rtsp": server.get_bound_port(),
        "silent": silent_listener(args.address),
        "mounts": list(LAUNCH),
        "protected": sorted(PROTECTED),
        "shared": [path for path in factories if path not in LAUNCH],
    })
    if args.bench_mounts > 0:
        url = f"rtsp://{args.address}:{server.get_bound_port()}/cam/0000"

        def prepare_bench():
            held.append(keep_prepared(bench, url))
            reply(ready)

        # prepare() waits for the pipeline to preroll, which needs the main loop running: wait in a thread.
        held = []
        threading.Thread(target=prepare_bench, name="bench", daemon=True).start()
    else:
        reply(ready)
    loop.run()
    sys.stdout.flush()
    # Skip the interpreter's teardown: pipelines may still be running in GStreamer's threads.
    os._exit(0)


if __name__ == "__main__":
    main()
