"""Headless Chromium on media-edge's test-call page (GET /demo), driven through the
DevTools protocol, with media_peer.py's RTP echo as the enterprise side.

Usage: demo_page.py '<plan JSON>'

The plan: {"api": "http://127.0.0.1:PORT", "token": "...", "mode": "relay" | "all",
           "chromium": "/usr/bin/chromium", "screenshot": "/path/to/file.png",
           "samples": N}

Chromium opens /demo with the token, the echo's address, the ICE mode and autostart in
the URL fragment (what an operator types into the form). The script reads the page's DOM
every half second until its chart holds N samples (or 60 s passed), takes a screenshot of
the page (Page.captureScreenshot, written to "screenshot"), counts the chart's line pixels
in it (the PNG decoded here, stdlib only), hangs up through the page's button and prints one
JSON report: the DOM readings in order, the pixel counts, and the echo's report.
"""

import asyncio
import base64
import json
import os
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
import zlib

from media_peer import Echo

# The page's line colours (demo/index.html): the browser leg and the enterprise leg.
BLUE = (0x1F, 0x5F, 0xBF)
ORANGE = (0xE0, 0x70, 0x00)


class DevTools:
    """A minimal WebSocket (RFC 6455) client speaking the DevTools protocol."""

    def __init__(self, reader, writer):
        self.reader, self.writer = reader, writer
        self.next_id = 0

    @classmethod
    async def connect(cls, url):
        host_port, path = url[len("ws://"):].split("/", 1)
        host, port = host_port.split(":")
        reader, writer = await asyncio.open_connection(host, int(port))
        key = base64.b64encode(os.urandom(16)).decode()
        writer.write(
            (f"GET /{path} HTTP/1.1\r\nHost: {host_port}\r\nUpgrade: websocket\r\n"
             f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
             "Sec-WebSocket-Version: 13\r\n\r\n").encode()
        )
        head = await reader.readuntil(b"\r\n\r\n")
        if b" 101 " not in head.split(b"\r\n")[0]:
            raise RuntimeError(f"no WebSocket upgrade: {head!r}")
        return cls(reader, writer)

    def _send(self, text):
        data = text.encode()
        mask = os.urandom(4)
        n = len(data)
        if n < 126:
            header = struct.pack("!BB", 0x81, 0x80 | n)
        elif n < 65536:
            header = struct.pack("!BBH", 0x81, 0xFE, n)
        else:
            header = struct.pack("!BBQ", 0x81, 0xFF, n)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(data))
        self.writer.write(header + mask + masked)

    async def _receive(self):
        message = b""
        while True:
            b0, b1 = await self.reader.readexactly(2)
            n = b1 & 0x7F
            if n == 126:
                (n,) = struct.unpack("!H", await self.reader.readexactly(2))
            elif n == 127:
                (n,) = struct.unpack("!Q", await self.reader.readexactly(8))
            payload = await self.reader.readexactly(n)
            if b0 & 0x0F in (0x1, 0x0):
                message += payload
                if b0 & 0x80:
                    return json.loads(message)

    async def call(self, method, **params):
        """Sends one command and returns its result (events in between are skipped)."""
        self.next_id += 1
        mine = self.next_id
        self._send(json.dumps({"id": mine, "method": method, "params": params}))
        while True:
            message = await self._receive()
            if message.get("id") == mine:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message["result"]

    async def evaluate(self, expression):
        result = await self.call(
            "Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True
        )
        return result["result"].get("value")


def png_pixels(png):
    """Width, height and rows of RGB(A) tuples of an 8-bit RGB or RGBA PNG."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat = 8, b""
    while pos < len(png):
        (length,) = struct.unpack("!I", png[pos:pos + 4])
        kind = png[pos + 4:pos + 8]
        body = png[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, colour = struct.unpack("!IIBB", body[:10])
            assert depth == 8 and colour in (2, 6), f"PNG depth {depth} colour {colour}"
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    channels = 4 if colour == 6 else 3
    raw = zlib.decompress(idat)
    stride = width * channels
    rows, previous = [], bytearray(stride)
    for y in range(height):
        kind = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            left = line[i - channels] if i >= channels else 0
            up = previous[i]
            corner = previous[i - channels] if i >= channels else 0
            if kind == 1:
                line[i] = (line[i] + left) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + up) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + (left + up) // 2) & 0xFF
            elif kind == 4:
                p = left + up - corner
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
                pred = left if pa <= pb and pa <= pc else (up if pb <= pc else corner)
                line[i] = (line[i] + pred) & 0xFF
        rows.append(line)
        previous = line
    return width, height, channels, rows


def count_colour(image, colour, box):
    """Pixels within 40 of `colour` per channel inside box (x0, y0, x1, y1)."""
    width, height, channels, rows = image
    x0, y0, x1, y1 = box
    count = 0
    for y in range(max(0, y0), min(height, y1)):
        row = rows[y]
        for x in range(max(0, x0), min(width, x1)):
            px = row[x * channels:x * channels + 3]
            if all(abs(px[c] - colour[c]) <= 40 for c in range(3)):
                count += 1
    return count


READ_DOM = """JSON.stringify((() => {
  const $ = id => document.getElementById(id);
  const c = $('chart'), r = c.getBoundingClientRect();
  return {state: $('status').dataset.state, status: $('status').textContent,
          samples: Number(c.dataset.samples), session: $('session').textContent,
          packets_browser: $('packets-browser').textContent,
          packets_enterprise: $('packets-enterprise').textContent,
          chart: [Math.round(r.left), Math.round(r.top), Math.round(r.right), Math.round(r.bottom)]};
})())"""


class Chromium:
    """Headless Chromium with a fresh profile and the DevTools protocol on its first page;
    `async with Chromium(path) as tools:` kills it and removes the profile afterwards;
    `extra_args` are added to its command line (a fake camera, for instance)."""

    def __init__(self, path, extra_args=()):
        self.path = path
        self.extra_args = list(extra_args)

    async def __aenter__(self):
        self.profile = tempfile.mkdtemp(prefix="media-edge-chromium-")
        self.process = subprocess.Popen(
            [self.path, "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic",
             "--no-first-run", "--disable-background-networking", "--disable-component-update",
             "--disable-sync", "--autoplay-policy=no-user-gesture-required",
             "--allow-loopback-in-peer-connection", "--window-size=900,1000",
             "--remote-debugging-port=0", f"--user-data-dir={self.profile}", *self.extra_args,
             "about:blank"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            # Its own process group (killed whole in _stop: a renderer outliving the main
            # process would write into the removed profile), and its temporary files in the
            # profile, removed with it.
            env={**os.environ, "TMPDIR": self.profile}, start_new_session=True,
        )
        try:
            port_file = os.path.join(self.profile, "DevToolsActivePort")
            deadline = time.monotonic() + 30
            while not os.path.exists(port_file) or not open(port_file).read().count("\n"):
                if time.monotonic() > deadline:
                    raise RuntimeError("Chromium wrote no DevToolsActivePort within 30 s")
                await asyncio.sleep(0.1)
            port = open(port_file).read().split("\n")[0]
            opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
            listing = opener.open(f"http://127.0.0.1:{port}/json/list", timeout=30).read()
            page = next(t for t in json.loads(listing) if t["type"] == "page")
            return await DevTools.connect(page["webSocketDebuggerUrl"])
        except BaseException:
            self._stop()
            raise

    async def __aexit__(self, *_):
        self._stop()

    def _stop(self):
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.wait()
        shutil.rmtree(self.profile, ignore_errors=True)


async def main():
    plan = json.loads(sys.argv[1])
    echo = Echo(False)
    await echo.start()
    report = {"readings": []}
    try:
        async with Chromium(plan["chromium"]) as tools:
            await drive(plan, echo, tools, report)
    finally:
        echo.close()
    report["echo"] = echo.report()
    report["echo"]["frames"] = len(report["echo"]["frames"])
    print(json.dumps(report))


async def drive(plan, echo, tools, report):
    """The call through the page, the readings, the screenshot and the hang-up."""
    fragment = urllib.parse.urlencode({
        "token": plan["token"], "rtp": "%s:%d" % echo.rtp_addr, "mode": plan["mode"],
        "autostart": "1",
    })
    await tools.call("Page.navigate", url=f"{plan['api']}/demo#{fragment}")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        await asyncio.sleep(0.5)
        reading = json.loads(await tools.evaluate(READ_DOM) or "null")
        report["readings"].append(reading)
        if reading and (reading["state"] == "error" or reading["samples"] >= plan["samples"]):
            break
    shot = await tools.call("Page.captureScreenshot", format="png")
    png = base64.b64decode(shot["data"])
    with open(plan["screenshot"], "wb") as f:
        f.write(png)
    image = png_pixels(png)
    left, top, right, bottom = report["readings"][-1]["chart"]
    # The first of the chart's four panels: RTP packets of both legs.
    panel = (left, top, right, top + (bottom - top) // 4)
    report["screenshot"] = {
        "width": image[0], "height": image[1],
        "blue_in_packets_panel": count_colour(image, BLUE, panel),
        "orange_in_packets_panel": count_colour(image, ORANGE, panel),
        "blue_outside_chart": count_colour(image, BLUE, (0, 0, image[0], top)),
    }
    await tools.evaluate("document.getElementById('hangup').click(), 1")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        await asyncio.sleep(0.2)
        state = await tools.evaluate("document.getElementById('status').dataset.state")
        if state == "ended":
            break
    report["after_hangup"] = state


if __name__ == "__main__":
    asyncio.run(main())
