#!/usr/bin/env python3
"""Checks for the call tests of the SIPp suite, on files the tests leave behind.

  calltool.py cdr FILE CALLEE [EXPECT...]
      The CDR (one JSON object per line) of the call to CALLEE (the dialled number;
      the test config writes unredacted numbers), which must be the only one for
      that number in FILE; CALLEE "c17" instead names the conversation (an
      originated one has no dialled number). EXPECT is KEY=VALUE, KEY>=NUMBER,
      KEY<=NUMBER or KEY~=TEXT (the value contains TEXT), KEY a dotted path
      ("media_a.rtp_packets"; a number indexes a list: "legs.1.media.sent" is the
      second leg's); VALUE "null" means JSON null.
      Exit 0 when every expectation holds; otherwise one line says which failed.
      `--wait S`: poll up to S seconds for the record to appear (default 5).

  calltool.py calls URL [EXPECT...]
      GET URL (the admin /calls) must list exactly one call, whose fields meet
      EXPECT (KEY=VALUE). `--wait S`: poll until it does (default 5 s).
      `--empty`: instead, poll until the list is empty.

  calltool.py topology CALLER_LOG CALLEE_LOG --caller-ip IP --callee-ip IP
      The SIPp message logs (-trace_msg) of a caller and a callee that talked
      through voxgate. Everything identifying one leg -- the caller's Via
      (address and branch), Contact, Call-ID, From tag, its SDP's o=, c= and
      m= values and its IP address -- must appear in no message the callee
      received, and likewise the callee's in nothing the caller received.

  calltool.py refresh LOG --min S --max S
      In a SIPp message log (caller or callee): the time from the 200 to the
      initial INVITE (sent or received) to the first UPDATE or re-INVITE
      received must be within [min, max] seconds.

  calltool.py delay LOG --from PREFIX --to PREFIX --max S
      In a SIPp message log: the first message (sent or received) whose first
      line starts with the --from PREFIX, then the first message received after
      it whose first line starts with the --to PREFIX, at most S seconds later.

  calltool.py rtp CAPTURE_FIELDS --to IP:PORT --from-ip IP --min N [--max M]
      CAPTURE_FIELDS: `tshark -T fields -e ip.src -e udp.srcport -e ip.dst
      -e udp.dstport` output. At least N (and at most M) datagrams went to
      IP:PORT, and every one of them came from --from-ip (voxgate's media
      address, not the other party directly). `--not-length L`: with a fifth
      field (udp.length), no datagram of UDP length L reached IP:PORT (the
      intruder's, see spray).

  calltool.py spray IP:PORT... --from IP:PORT [--count N] [--interval S] [--payload B]
      An RTP hijack attempt: N PCMA-headed packets with a 12 + B byte UDP
      payload (69 by default: no codec frame has that size) to each target.

  calltool.py conversation EVENTS NUMBER [--wait S]
      EVENTS: the API's event stream as wsclient.py writes it (one JSON message a
      line). Prints the id of the conversation whose conversation_started has
      request_user NUMBER, polling up to S seconds (default 5) for it.

  calltool.py event EVENTS CONVERSATION TYPE [KEY=VALUE...] [--wait S]
      Waits (up to S seconds, default 5) for an event of CONVERSATION of that TYPE
      whose fields match (KEY=VALUE as for cdr) and prints it.

  calltool.py sequence EVENTS CONVERSATION STEP...
      The events of CONVERSATION contain the STEPs in this order (other events
      may come between): STEP is TYPE or TYPE:KEY=VALUE,KEY=VALUE. The last STEP
      must be the last event. Prints the conversation's event types.

  calltool.py pcap-cut IN OUT --packets N
      Writes the first N packets of the pcap IN to OUT (a shorter recording for
      SIPp's play_pcap_audio).

  calltool.py wav FILE --hz F --seconds S
      Writes a sine tone: 8 kHz mono 16-bit WAV (what baresip's aufile plays).

  calltool.py tone FILE --hz F --not-hz G [--channel N] [--channels C]
      FILE (a WAV recording) carries the tone F: its power at F is at least
      10 times its power at G, and the signal is not silence. The file must be
      mono, unless --channel N (from 0) names the channel to look at; then
      --channels C says how many it must have (and its rate must be 8 kHz).

  calltool.py silence FILE --min-ms A --max-ms B
      FILE (a WAV recording, any channels) has a stretch where every channel is
      exactly zero (a recording paused: voxgate writes silence) lasting A..B ms,
      the longest such stretch, with audio before and after it. Prints its start
      and length.

  calltool.py tone-pcap FILE --hz F --seconds S
      Writes a pcap (Ethernet, IPv4, UDP) of PCMA RTP packets, 20 ms each, of a
      sine tone: what SIPp's play_pcap_audio plays.

  calltool.py sent-keys LOG --from IP:PORT
      LOG: a baresip SIP trace (`baresip -s`: each message after a line
      "UDP SRC -> DST"). Prints the SDES keys (inline: values) of the a=crypto
      lines in the messages sent from IP:PORT, one a line; fails if none.

  calltool.py rtp-audio FIELDS --to IP:PORT --from-ip IP --min N --pt PT --hz F --not-hz G
                        [--max-jitter-ms J]
      FIELDS: `tshark -T fields -e ip.src -e udp.srcport -e ip.dst -e udp.dstport
      -e udp.payload [-e frame.time_epoch]`. The RTP voxgate sent to IP:PORT is one
      stream (one SSRC, sequence numbers +1 and timestamps +160 from packet to
      packet, the marker on the first only), G.711 of payload type PT, not silence,
      carrying the tone F. With --max-jitter-ms (and the 6th field, the capture
      time): the RFC 3550 A.8 interarrival jitter of the stream as the party saw it
      (arrival times from the capture, in 8 kHz units) stays under J ms at every
      packet; prints it.

  calltool.py rtcp FIELDS --rtp-to IP:PORT --rtcp-to IP:PORT --from-ip IP [--min N] [--bye]
      FIELDS as for rtp-audio, with the capture time. The RTCP voxgate sent to
      RTCP-TO: at least N compounds (default 1), each a valid RFC 3550 compound
      (SR or RR first, an SDES with a CNAME, nothing truncated); every SR speaks for
      the RTP stream sent to RTP-TO (its SSRC), its packet count is the number of
      RTP packets captured before it (±1) and its octet count 160 for each, and its
      RTP timestamp is the stream's clock at the SR (the last packet's timestamp
      plus 8 per ms since, ±10 ms). With --bye the last compound ends with a BYE of
      that SSRC. Prints what it saw.

  calltool.py rtp-tone PAYLOADS --hz F --not-hz G [--min N]
      PAYLOADS: `tshark -T fields -e udp.payload` output (hex, one datagram a
      line). Decodes the G.711 RTP packets (PT 0 PCMU, 8 PCMA) and checks the
      tone as `tone` does; at least N packets (default 100). `--encrypted`
      instead checks that the packets are NOT audio: SRTP, whose payload
      decoded as G.711 carries neither tone.

  calltool.py rtp-mix FIELDS --to IP:PORT --from-ip IP --min N --pt P --hz F [--hz F...] --not-hz G
      FIELDS: as for rtp, with the UDP payload in hex as a 5th field. What a
      conference party got from voxgate: at least N packets, all from --from-ip,
      one stream (one SSRC, sequence numbers +1, timestamps rising by whole 20 ms
      frames, the marker on the first only) of payload type P; decoded, each tone
      F carries at least 5% of the energy (the others it hears), and the tone G
      (its own) at most a hundredth of the weakest F (Goertzel).
"""

import argparse
import json
import os
import re
import socket
import struct
import sys
import time
import urllib.request


def fail(msg: str) -> None:
    print(msg)
    sys.exit(1)


def lookup(obj, path: str):
    """obj at a dotted path; a number indexes a list (legs.1.rtp_port)."""
    for part in path.split("."):
        if isinstance(obj, list) and part.isdigit() and int(part) < len(obj):
            obj = obj[int(part)]
        elif isinstance(obj, dict) and part in obj:
            obj = obj[part]
        else:
            return KeyError
    return obj


def check(obj, expects: list) -> list:
    """The expectations that do not hold, as messages."""
    bad = []
    for e in expects:
        m = re.fullmatch(r"([\w.]+)(>=|<=|~=|=)(.*)", e)
        if not m:
            bad.append(f"bad expectation {e!r}")
            continue
        key, op, want = m.groups()
        got = lookup(obj, key)
        if got is KeyError:
            bad.append(f"{key} missing")
            continue
        if op == "=":
            ok = (got is None) if want == "null" else (str(got).lower() == want.lower())
        elif op == "~=":
            ok = got is not None and want.lower() in str(got).lower()
        else:
            try:
                g, w = float(got), float(want)
            except (TypeError, ValueError):
                bad.append(f"{key}={got!r} is not a number")
                continue
            ok = g >= w if op == ">=" else g <= w
        if not ok:
            bad.append(f"{key}={json.dumps(got)} (expected {op}{want})")
    return bad


def cmd_cdr(a) -> None:
    deadline = time.monotonic() + a.wait
    while True:
        records = []
        try:
            with open(a.file, encoding="utf-8") as f:
                for n, line in enumerate(f, 1):
                    try:
                        rec = json.loads(line)
                    except json.JSONDecodeError:
                        fail(f"{a.file}:{n} is not JSON: {line[:120]!r}")
                    by_call = re.fullmatch(r"c\d+", a.callee) is not None
                    if rec.get("call" if by_call else "callee") == a.callee:
                        records.append(rec)
        except FileNotFoundError:
            pass
        if records or time.monotonic() >= deadline:
            break
        time.sleep(0.1)
    if not records:
        fail(f"no CDR for callee {a.callee} in {a.file} within {a.wait:g} s")
    if len(records) > 1:
        fail(f"{len(records)} CDRs for callee {a.callee}, 1 expected")
    bad = check(records[0], a.expect)
    if bad:
        fail(f"CDR of {a.callee} ({records[0].get('call')}): " + "; ".join(bad))
    print(json.dumps(records[0]))


def get_calls(url: str):
    # The admin API's token, as run.sh exports it for voxgatectl.
    token = os.environ.get("VOXGATE_TOKEN", "")
    req = urllib.request.Request(url, headers={"Authorization": "Bearer " + token})
    with urllib.request.urlopen(req, timeout=3) as r:
        return json.loads(r.read())


def cmd_calls(a) -> None:
    deadline = time.monotonic() + a.wait
    last = None
    while True:
        try:
            calls = get_calls(a.url)
        except Exception as e:  # noqa: BLE001 - any failure is retried, then reported
            calls, last = None, f"GET {a.url}: {e}"
        if calls is not None:
            if a.empty:
                if calls == []:
                    return
                last = f"/calls still lists {len(calls)}: {json.dumps(calls)[:300]}"
            elif len(calls) != 1:
                last = f"/calls lists {len(calls)} calls, 1 expected: {json.dumps(calls)[:300]}"
            else:
                bad = check(calls[0], a.expect)
                if not bad:
                    print(json.dumps(calls[0]))
                    return
                last = "/calls: " + "; ".join(bad) + f" in {json.dumps(calls[0])}"
        if time.monotonic() >= deadline:
            fail(last or "no answer")
        time.sleep(0.1)


# One SIPp -trace_msg entry: a dashed line with a timestamp, a line saying
# "<T> message sent (...)" or "<T> message received [...]", then the message.
ENTRY = re.compile(
    r"^-{10,} (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+)\n"
    r"(\w+) message (sent|received)[^\n]*\n\n(.*?)(?=^-{10,} \d{4}-|\Z)",
    re.M | re.S,
)


def messages(path: str) -> list:
    """[(timestamp seconds, 'sent'|'received', text)] of a SIPp message log."""
    out = []
    with open(path, encoding="latin-1") as f:
        text = f.read()
    for m in ENTRY.finditer(text):
        ts = time.mktime(time.strptime(m.group(1).split(".")[0], "%Y-%m-%d %H:%M:%S"))
        ts += float("0." + m.group(1).split(".")[1])
        out.append((ts, m.group(3), m.group(4).strip("\n")))
    return out


def header(msg: str, name: str) -> list:
    return [
        v.strip()
        for v in re.findall(rf"^{re.escape(name)}\s*:(.*)$", msg, re.M | re.I)
    ]


def identifiers(msgs: list, ip: str) -> set:
    """What identifies a party, from the messages it sent."""
    ids = {ip}
    for _, way, msg in msgs:
        if way != "sent":
            continue
        is_request = not msg.startswith("SIP/2.0")
        # A response's Via is its request's sender's: only requests show ours.
        for v in header(msg, "Via") if is_request else []:
            m = re.match(r"SIP/2\.0/\w+\s+([^;\s]+)", v)
            if m:
                ids.add(m.group(1))
            ids.update(re.findall(r"branch=([^;\s]+)", v))
        for v in header(msg, "Contact"):
            m = re.search(r"<?(sips?:[^>;\s]+)", v)
            if m:
                ids.add(m.group(1))
        # The Call-ID of this party's leg.
        ids.update(header(msg, "Call-ID"))
        # Our tag: From of our requests, To of our responses.
        for v in header(msg, "From" if is_request else "To"):
            ids.update(re.findall(r"tag=([^;\s>]+)", v))
        for line in msg.splitlines():
            if line.startswith("o="):
                # username, session id
                parts = line[2:].split()
                if len(parts) >= 2:
                    ids.add("o=" + parts[0] + " " + parts[1])
            elif line.startswith("c="):
                ids.add(line.strip())
            elif line.startswith("m="):
                parts = line.split()
                if len(parts) >= 2:
                    ids.add(f"{parts[0]} {parts[1]} ")
    ids.discard("")
    return ids


def occurs(ident: str, msg: str) -> bool:
    """ident in msg as a whole token: "127.0.0.1" does not occur in "127.0.0.10"."""
    return re.search(r"(?<![0-9A-Za-z])" + re.escape(ident) + r"(?![0-9A-Za-z])", msg) is not None


def cmd_topology(a) -> None:
    caller = messages(a.caller_log)
    callee = messages(a.callee_log)
    if not caller or not callee:
        fail(f"empty message log: caller {len(caller)}, callee {len(callee)} messages")
    problems = []
    for who, mine, other_name, other in (
        ("caller", identifiers(caller, a.caller_ip), "callee", callee),
        ("callee", identifiers(callee, a.callee_ip), "caller", caller),
    ):
        for ident in sorted(mine):
            for ts, way, msg in other:
                if way == "received" and occurs(ident, msg):
                    first = msg.splitlines()[0]
                    problems.append(f"the {who}'s {ident!r} reached the {other_name} in {first!r}")
                    break
    if problems:
        fail("; ".join(problems[:4]) + (f" (+{len(problems) - 4} more)" if len(problems) > 4 else ""))
    print(f"ok: {len(identifiers(caller, a.caller_ip))} caller and "
          f"{len(identifiers(callee, a.callee_ip))} callee identifiers, none on the other leg")


def cmd_refresh(a) -> None:
    msgs = messages(a.log)
    answered = None
    for ts, way, msg in msgs:
        first = msg.splitlines()[0] if msg else ""
        cseq = " ".join(header(msg, "CSeq"))
        if answered is None and first.startswith("SIP/2.0 200") and cseq.endswith("INVITE"):
            answered = (ts, cseq)
        elif answered and way == "received" and re.match(r"(UPDATE|INVITE) ", first) and cseq != answered[1]:
            dt = ts - answered[0]
            if not a.min <= dt <= a.max:
                fail(f"refresh {first.split()[0]} came {dt:.1f} s after the 200; expected {a.min:g}-{a.max:g} s")
            print(f"refresh {first.split()[0]} {dt:.1f} s after the 200")
            return
    if answered is None:
        fail("no 200 to the INVITE in the log")
    fail("no UPDATE or re-INVITE received after the 200")


def cmd_rtp(a) -> None:
    host, port = a.to.rsplit(":", 1)
    n = 0
    foreign = {}
    marked = 0
    with open(a.fields, encoding="utf-8") as f:
        for line in f:
            parts = line.split()
            if len(parts) < 4 or parts[2] != host or parts[3] != port:
                continue
            if a.not_length is not None and len(parts) > 4 and parts[4] == str(a.not_length):
                marked += 1
                continue
            n += 1
            if parts[0] != a.from_ip:
                src = f"{parts[0]}:{parts[1]}"
                foreign[src] = foreign.get(src, 0) + 1
    if marked:
        fail(f"{a.to} got {marked} datagrams of UDP length {a.not_length} (the intruder's)")
    if foreign:
        fail(f"{a.to} got datagrams from other than {a.from_ip}: {foreign}")
    if n < a.min:
        fail(f"{a.to} got {n} datagrams from {a.from_ip}; at least {a.min} expected")
    if a.max is not None and n > a.max:
        fail(f"{a.to} got {n} datagrams from {a.from_ip}; at most {a.max} expected")
    print(f"{a.to}: {n} datagrams from {a.from_ip}")


def cmd_delay(a) -> None:
    msgs = messages(a.log)
    start = next(((ts, i) for i, (ts, _, msg) in enumerate(msgs) if msg.startswith(a.frm)), None)
    if start is None:
        fail(f"{a.log}: no message starting {a.frm!r}")
    t0, i0 = start
    for ts, way, msg in msgs[i0 + 1:]:
        if way == "received" and msg.startswith(a.to):
            dt = ts - t0
            if dt > a.max:
                fail(f"{a.log}: {a.to!r} came {dt:.2f} s after {a.frm!r}; at most {a.max:g} s expected")
            print(f"{a.to!r} {dt:.3f} s after {a.frm!r}")
            return
    fail(f"{a.log}: nothing starting {a.to!r} received after {a.frm!r}")


def read_events(path: str) -> list:
    """The messages of a wsclient.py output file; a line being written is skipped."""
    out = []
    try:
        with open(path, encoding="utf-8") as f:
            for line in f:
                try:
                    out.append(json.loads(line))
                except json.JSONDecodeError:
                    pass
    except FileNotFoundError:
        pass
    return out


def cmd_conversation(a) -> None:
    deadline = time.monotonic() + a.wait
    while True:
        for e in read_events(a.events):
            if e.get("type") == "conversation_started" and (e.get("inbound") or {}).get("request_user") == a.number:
                print(e["conversation"])
                return
        if time.monotonic() >= deadline:
            fail(f"no conversation_started for {a.number} in {a.events} within {a.wait:g} s")
        time.sleep(0.05)


def cmd_event(a) -> None:
    deadline = time.monotonic() + a.wait
    while True:
        mine = [e for e in read_events(a.events) if e.get("conversation") == a.conversation]
        for e in mine:
            if e.get("type") == a.type and not check(e, a.expect):
                print(json.dumps(e))
                return
        if time.monotonic() >= deadline:
            want = " ".join([a.type] + a.expect)
            seen = ", ".join(short(e) for e in mine[-8:])
            fail(f"{a.conversation}: no {want} within {a.wait:g} s (last events: {seen or 'none'})")
        time.sleep(0.05)


def short(e: dict) -> str:
    """An event in a few words: its type and its leg, dial and bridge ids."""
    keys = [k for k in ("leg", "a", "b", "old", "new", "dial", "side", "cause", "failure", "status") if k in e]
    extra = ",".join(f"{k}={e[k]}" for k in keys)
    if e.get("type") == "error":
        extra = f"{e.get('command')}: {(e.get('error') or {}).get('message')}"
    return e.get("type", "?") + (f"({extra})" if extra else "")


def cmd_sequence(a) -> None:
    mine = [e for e in read_events(a.events) if e.get("conversation") == a.conversation]
    i = 0
    for n, step in enumerate(a.steps):
        kind, _, fields = step.partition(":")
        expects = [f for f in fields.split(",") if f]
        while i < len(mine) and not (mine[i].get("type") == kind and not check(mine[i], expects)):
            i += 1
        if i == len(mine):
            fail(f"{a.conversation}: no {step} in order (step {n + 1}); events: "
                 + ", ".join(short(e) for e in mine))
        i += 1
    if i != len(mine):
        fail(f"{a.conversation}: events after {a.steps[-1]}: " + ", ".join(short(e) for e in mine[i:]))
    print(" ".join(short(e) for e in mine))


def cmd_pcap_cut(a) -> None:
    import struct

    with open(a.input, "rb") as f:
        data = f.read()
    if len(data) < 24 or data[:4] not in (b"\xd4\xc3\xb2\xa1", b"\xa1\xb2\xc3\xd4"):
        fail(f"{a.input}: not a classic pcap file")
    order = "<" if data[:4] == b"\xd4\xc3\xb2\xa1" else ">"
    out, pos, n = [data[:24]], 24, 0
    while n < a.packets and pos + 16 <= len(data):
        (incl,) = struct.unpack(order + "I", data[pos + 8:pos + 12])
        out.append(data[pos:pos + 16 + incl])
        pos += 16 + incl
        n += 1
    if n < a.packets:
        fail(f"{a.input} holds {n} packets, fewer than {a.packets}")
    with open(a.output, "wb") as f:
        f.write(b"".join(out))

def cmd_spray(a) -> None:
    """RTP an intruder sends to a media port it guessed: PCMA headers, an
    odd payload size (so captures tell its packets apart), its own SSRC."""
    host, port = a.frm.rsplit(":", 1)
    targets = []
    for t in a.to:
        h, p = t.rsplit(":", 1)
        targets.append((h, int(p)))
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((host, int(port)))
        for seq in range(a.count):
            pkt = struct.pack("!BBHII", 0x80, 8, seq, seq * 160, 0x0BADBAD0) + b"\xd5" * a.payload
            for t in targets:
                s.sendto(pkt, t)
            time.sleep(a.interval)
    print(f"sprayed {a.count} packets to each of {', '.join(a.to)} from {a.frm}")


def cmd_wav(a) -> None:
    import math
    import struct
    import wave

    rate = 8000
    with wave.open(a.file, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(
            b"".join(
                struct.pack("<h", int(8000 * math.sin(2 * math.pi * a.hz * i / rate)))
                for i in range(int(rate * a.seconds))
            )
        )


def goertzel(samples: list, rate: int, hz: float) -> float:
    import math

    coeff = 2 * math.cos(2 * math.pi * hz / rate)
    s1 = s2 = 0.0
    for x in samples:
        s1, s2 = x + coeff * s1 - s2, s1
    return s1 * s1 + s2 * s2 - coeff * s1 * s2


def read_wav(path: str):
    """(rate, channels, interleaved 16-bit samples) of a PCM16 WAV."""
    import array
    import wave

    with wave.open(path, "rb") as w:
        if w.getsampwidth() != 2:
            fail(f"{path}: not 16-bit PCM ({w.getparams()})")
        rate, channels = w.getframerate(), w.getnchannels()
        samples = array.array("h", w.readframes(w.getnframes()))
    if sys.byteorder == "big":
        samples.byteswap()
    return rate, channels, samples


def cmd_tone(a) -> None:
    rate, channels, samples = read_wav(a.file)
    if a.channel is None:
        if channels != 1:
            fail(f"{a.file}: {channels} channels, mono expected")
        what = a.file
    else:
        if a.channels is not None and channels != a.channels:
            fail(f"{a.file}: {channels} channels, {a.channels} expected")
        if rate != 8000:
            fail(f"{a.file}: {rate} Hz, 8000 expected")
        if not 0 <= a.channel < channels:
            fail(f"{a.file}: no channel {a.channel} ({channels} channels)")
        samples = samples[a.channel::channels]
        what = f"{a.file} channel {a.channel}"
    if len(samples) < rate * a.min_seconds:
        fail(f"{a.file}: {len(samples)} samples, less than {a.min_seconds:g} s of audio")
    rms = (sum(x * x for x in samples) / len(samples)) ** 0.5
    want, other = goertzel(samples, rate, a.hz), goertzel(samples, rate, a.not_hz)
    if rms < 100:
        fail(f"{what}: silence (RMS {rms:.0f})")
    if want < 10 * other:
        fail(f"{what}: power at {a.hz:g} Hz is {want / max(other, 1e-9):.2f}x that at {a.not_hz:g} Hz; the {a.hz:g} Hz tone was expected")
    print(f"{what}: {a.hz:g} Hz tone, {len(samples) / rate:.1f} s, RMS {rms:.0f}")


def cmd_silence(a) -> None:
    rate, channels, samples = read_wav(a.file)
    frames = len(samples) // channels
    best = (0, 0)  # (start frame, length in frames)
    run_start = None
    for i in range(frames + 1):
        quiet = i < frames and not any(samples[i * channels:(i + 1) * channels])
        if quiet and run_start is None:
            run_start = i
        elif not quiet and run_start is not None:
            if i - run_start > best[1]:
                best = (run_start, i - run_start)
            run_start = None
    start, length = best
    ms = length * 1000 / rate
    if not a.min_ms <= ms <= a.max_ms:
        fail(f"{a.file}: the longest silence is {ms:.0f} ms at {start / rate:.2f} s; {a.min_ms:g}-{a.max_ms:g} ms expected")
    if start == 0 or start + length >= frames:
        fail(f"{a.file}: the silence of {ms:.0f} ms is at an end of the file, not between audio")
    print(f"{a.file}: {ms:.0f} ms of silence at {start / rate:.2f} s of {frames / rate:.2f} s")


def alaw_encode(pcm: int) -> int:
    """G.711 A-law of a 16-bit sample (the reference g711.c)."""
    pcm >>= 3
    if pcm >= 0:
        mask = 0xD5
    else:
        mask = 0x55
        pcm = -pcm - 1
    seg = next((i for i, end in enumerate((0x1F, 0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF)) if pcm <= end), 8)
    if seg >= 8:
        return 0x7F ^ mask
    aval = seg << 4
    aval |= (pcm >> 1 if seg < 2 else pcm >> seg) & 0x0F
    return aval ^ mask


def alaw_decode(a: int) -> int:
    a ^= 0x55
    t = (a & 0x0F) << 4
    seg = (a & 0x70) >> 4
    if seg == 0:
        t += 8
    elif seg == 1:
        t += 0x108
    else:
        t += 0x108
        t <<= seg - 1
    return t if a & 0x80 else -t


def ulaw_encode(pcm: int) -> int:
    """G.711 µ-law of a 16-bit sample (ITU-T G.191 ulaw_compress)."""
    absno = ((~pcm) >> 2 if pcm < 0 else pcm >> 2) + 33
    absno = min(absno, 0x1FFF)
    i, seg = absno >> 6, 1
    while i:
        seg += 1
        i >>= 1
    out = ((8 - seg) << 4) | (0x0F - ((absno >> seg) & 0x0F))
    return out | 0x80 if pcm >= 0 else out


def ulaw_decode(u: int) -> int:
    u = ~u & 0xFF
    t = ((u & 0x0F) << 3) + 0x84
    t <<= (u & 0x70) >> 4
    return (0x84 - t) if u & 0x80 else (t - 0x84)


def cmd_sent_keys(a) -> None:
    keys = []
    sender = None
    with open(a.log, encoding="utf-8", errors="replace") as f:
        for line in f:
            m = re.search(r"UDP (\S+) -> (\S+)", line)
            if m:
                sender = m.group(1)
                continue
            k = re.search(r"a=crypto:\d+ \S+ inline:([A-Za-z0-9+/=]+)", line)
            if k and sender == a.frm and k.group(1) not in keys:
                keys.append(k.group(1))
    if not keys:
        fail(f"{a.log}: no a=crypto in a message from {a.frm}")
    print("\n".join(keys))


def cmd_tone_pcap(a) -> None:
    """A pcap of RTP carrying a tone (amplitude 8000) in 20 ms G.711 frames: A-law
    (payload type 8) or, with --law ulaw, µ-law (payload type 0)."""
    import math

    encode, pt = (ulaw_encode, 0) if a.law == "ulaw" else (alaw_encode, 8)
    payloads = [
        bytes(encode(int(8000 * math.sin(2 * math.pi * a.hz * (k * 160 + i) / 8000))) for i in range(160))
        for k in range(int(a.seconds * 50))
    ]
    write_rtp_pcap(a.file, payloads, pt)


# DTMF (ITU-T Q.23): key -> (low, high) Hz.
DTMF_HZ = {
    "1": (697, 1209), "2": (697, 1336), "3": (697, 1477), "A": (697, 1633),
    "4": (770, 1209), "5": (770, 1336), "6": (770, 1477), "B": (770, 1633),
    "7": (852, 1209), "8": (852, 1336), "9": (852, 1477), "C": (852, 1633),
    "*": (941, 1209), "0": (941, 1336), "#": (941, 1477), "D": (941, 1633),
}


def write_rtp_pcap(path: str, payloads: list, pt: int) -> None:
    """A pcap of one RTP stream (10.0.0.1:6000 -> 10.0.0.2:6002), one packet of each
    payload every 20 ms, for SIPp's play_pcap_audio."""
    frames = []
    for k, payload in enumerate(payloads):
        rtp = struct.pack("!BBHII", 0x80, pt, k, k * 160, 0x70E57011) + payload
        udp = struct.pack("!HHHH", 6000, 6002, 8 + len(rtp), 0) + rtp
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), k, 0, 64, 17, 0,
                         bytes([10, 0, 0, 1]), bytes([10, 0, 0, 2])) + udp
        eth = b"\x00\x00\x00\x00\x00\x02" + b"\x00\x00\x00\x00\x00\x01" + b"\x08\x00" + ip
        usec = k * 20000
        frames.append(struct.pack("<IIII", usec // 1000000, usec % 1000000, len(eth), len(eth)) + eth)
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        f.write(b"".join(frames))


def cmd_dtmf_pcap(a) -> None:
    """In-band DTMF in A-law: each key's tone pair for --on ms, then --off ms of silence
    (multiples of 20 ms), after 200 ms of silence."""
    import math

    samples = [0] * 1600
    for key in a.digits:
        low, high = DTMF_HZ[key.upper()]
        n = a.on * 8
        samples += [int(6000 * (math.sin(2 * math.pi * low * i / 8000) + math.sin(2 * math.pi * high * i / 8000)) / 2)
                    for i in range(n)]
        samples += [0] * (a.off * 8)
    payloads = [bytes(alaw_encode(x) for x in samples[i:i + 160]) for i in range(0, len(samples) - 159, 160)]
    write_rtp_pcap(a.file, payloads, 8)
    print(f"{a.file}: {a.digits} in band, {len(payloads)} packets")


def cmd_rtp_tone(a) -> None:
    samples = []
    packets = 0
    last = None  # (seq, timestamp) of the previous G.711 packet, for --frame
    with open(a.payloads, encoding="utf-8") as f:
        for line in f:
            hexed = line.strip().replace(":", "")
            if not hexed:
                continue
            pkt = bytes.fromhex(hexed)
            if len(pkt) < 12 or pkt[0] >> 6 != 2:
                continue
            pt = pkt[1] & 0x7F
            if a.pt is not None and pt != a.pt:
                fail(f"{a.payloads}: a packet of payload type {pt}; only {a.pt} expected")
            if pt not in (0, 8):
                continue
            start = 12 + 4 * (pkt[0] & 0x0F)
            if a.frame is not None:
                if len(pkt) - start != a.frame:
                    fail(f"{a.payloads}: packet {packets}: {len(pkt) - start} octets of payload, {a.frame} expected")
                seq, ts = struct.unpack("!HI", pkt[2:8])
                if last is not None and (seq != (last[0] + 1) & 0xFFFF or ts != (last[1] + a.frame) & 0xFFFFFFFF):
                    fail(f"{a.payloads}: packet {packets}: sequence {seq}, timestamp {ts} after {last[0]}, {last[1]}: "
                         f"not one stream of {a.frame}-sample frames")
                last = (seq, ts)
            decode = alaw_decode if pt == 8 else ulaw_decode
            # Every octet after the header, a tag included (SRTP): noise either way.
            samples.extend(decode(b) for b in pkt[start:])
            packets += 1
    if packets < a.min:
        fail(f"{a.payloads}: {packets} G.711 RTP packets, at least {a.min} expected")
    rate = 8000
    want, other = goertzel(samples, rate, a.hz), goertzel(samples, rate, a.not_hz)
    total = sum(x * x for x in samples) * len(samples) / 2 or 1.0
    if a.encrypted:
        # A pure tone puts most of the signal's energy at its frequency; an
        # encrypted payload is white noise: a sliver of it at any frequency.
        share = want / total
        if share > 0.01:
            fail(f"{a.payloads}: {share:.1%} of the energy at {a.hz:g} Hz: the payload is audio, not SRTP")
        print(f"{a.payloads}: {packets} packets, no {a.hz:g} Hz tone ({share:.2%} of the energy): encrypted")
        return
    rms = (sum(x * x for x in samples) / len(samples)) ** 0.5
    if rms < 100:
        fail(f"{a.payloads}: silence (RMS {rms:.0f})")
    if a.min_rms is not None and rms < a.min_rms:
        fail(f"{a.payloads}: RMS {rms:.0f}, at least {a.min_rms:g} expected: the tone lost level")
    if want < 10 * other:
        fail(f"{a.payloads}: power at {a.hz:g} Hz is {want / max(other, 1e-9):.2f}x that at {a.not_hz:g} Hz; the {a.hz:g} Hz tone was expected")
    if a.min_share is not None and want / total < a.min_share:
        fail(f"{a.payloads}: {want / total:.1%} of the energy at {a.hz:g} Hz, at least {a.min_share:.0%} expected: the tone is distorted")
    pts = f" (payload type {a.pt})" if a.pt is not None else ""
    print(f"{a.payloads}: {a.hz:g} Hz tone in {packets} packets{pts}, RMS {rms:.0f}, {want / total:.1%} of the energy at {a.hz:g} Hz, {want / max(other, 1e-9):.0f}x the power at {a.not_hz:g} Hz")
def read_datagrams(path: str, to: str, from_ip: str) -> list:
    """(payload, capture time or None) of every datagram to IP:PORT in a fields file
    (5th field the payload in hex, 6th the capture time); each must come from from_ip."""
    host, port = to.rsplit(":", 1)
    out = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            parts = line.split()
            if len(parts) < 5 or parts[2] != host or parts[3] != port:
                continue
            if parts[0] != from_ip:
                fail(f"{to} got a datagram from {parts[0]}:{parts[1]}, not {from_ip}")
            at = float(parts[5]) if len(parts) > 5 else None
            out.append((bytes.fromhex(parts[4].replace(":", "")), at))
    return out


def party_datagrams(a) -> list:
    """(payload, capture time or None) of the RTP sent to --to (RTCP multiplexed on the
    port left out), all from --from-ip, at least --min of them."""
    grams = [g for g in read_datagrams(a.fields, a.to, a.from_ip) if len(g[0]) < 2 or not 192 <= g[0][1] <= 223]
    if len(grams) < a.min:
        fail(f"{a.to} got {len(grams)} RTP packets from {a.from_ip}; at least {a.min} expected")
    return grams


def rfc3550_jitter(heads: list, times: list, rate: int = 8000) -> float:
    """The largest A.8 interarrival jitter (in ms) along the stream: J += (|D| - J) / 16,
    D the change of transit time (arrival in timestamp units less the RTP timestamp)."""
    jitter = worst = 0.0
    prev = None
    for h, at in zip(heads, times):
        transit = at * rate - h[3]
        if prev is not None:
            d = abs(transit - prev)
            jitter += (d - jitter) / 16
            worst = max(worst, jitter)
        prev = transit
    return worst * 1000 / rate


def cmd_rtp_audio(a) -> None:
    """The RTP a party received from voxgate (a fields file whose 5th field is the UDP
    payload in hex): one stream (one SSRC, sequence numbers +1 and timestamps +160 from
    packet to packet, the marker on the first packet of each of --markers talk spurts; --silent-head and
    --silent-tail packets of G.711 silence at either end), G.711 decoded by its payload type,
    and its audio: not silence, and the tone expected; with --max-jitter-ms, its jitter."""
    grams = party_datagrams(a)
    pkts = [g[0] for g in grams]
    heads = []
    samples = []
    for p in pkts:
        if len(p) < 12 or p[0] >> 6 != 2:
            fail(f"{a.to}: not RTP: {p[:12].hex()}")
        pt = p[1] & 0x7F
        heads.append((p[1] >> 7, pt, struct.unpack("!H", p[2:4])[0], struct.unpack("!I", p[4:8])[0],
                      struct.unpack("!I", p[8:12])[0]))
        if pt != a.pt:
            fail(f"{a.to}: payload type {pt}, {a.pt} expected")
        decode = alaw_decode if pt == 8 else ulaw_decode
        samples.extend(decode(b) for b in p[12:])
    if len({h[4] for h in heads}) != 1:
        fail(f"{a.to}: several SSRCs: {sorted({hex(h[4]) for h in heads})}")
    for i, (prev, cur) in enumerate(zip(heads, heads[1:])):
        if cur[2] != (prev[2] + 1) & 0xFFFF:
            fail(f"{a.to}: packet {i + 1}: sequence {cur[2]} after {prev[2]}")
        if cur[3] != (prev[3] + 160) & 0xFFFFFFFF:
            fail(f"{a.to}: packet {i + 1}: timestamp {cur[3]} after {prev[3]} (+160 expected)")
    markers = [i for i, h in enumerate(heads) if h[0]]
    if len(markers) != a.markers or markers[:1] != [0]:
        fail(f"{a.to}: marker bits on packets {markers}; {a.markers} talk spurt(s), the first on packet 0, expected")
    # G.711 digital silence: A-law 0xd5/0x55, µ-law 0xff/0x7f.
    quiet = {0xD5, 0x55} if a.pt == 8 else {0xFF, 0x7F}
    for name, part in (("first", pkts[: a.silent_head]), ("last", pkts[len(pkts) - a.silent_tail :] if a.silent_tail else [])):
        loud = [i for i, p in enumerate(part) if any(b not in quiet for b in p[12:])]
        if loud:
            fail(f"{a.to}: the {name} {len(part)} packets should be silence; {len(loud)} are not")
    rms = (sum(x * x for x in samples) / len(samples)) ** 0.5
    if rms < 100:
        fail(f"{a.to}: silence (RMS {rms:.0f})")
    want, other = goertzel(samples, 8000, a.hz), goertzel(samples, 8000, a.not_hz)
    if want < 10 * other:
        fail(f"{a.to}: power at {a.hz:g} Hz is {want / max(other, 1e-9):.2f}x that at {a.not_hz:g} Hz")
    jitter = ""
    if a.max_jitter_ms is not None:
        times = [g[1] for g in grams]
        if any(t is None for t in times):
            fail(f"{a.fields}: no capture times (6th field, frame.time_epoch) for the jitter")
        # Timestamps wrap at 2^32: unwrap them from the first.
        unwrapped = [(h[0], h[1], h[2], heads[0][3] + ((h[3] - heads[0][3]) & 0xFFFFFFFF), h[4]) for h in heads]
        worst = rfc3550_jitter(unwrapped, times)
        if worst >= a.max_jitter_ms:
            fail(f"{a.to}: interarrival jitter reached {worst:.2f} ms; under {a.max_jitter_ms:g} ms expected")
        jitter = f", jitter at most {worst:.2f} ms"
    print(f"{a.to}: {len(pkts)} packets, one stream, {a.hz:g} Hz tone, RMS {rms:.0f}{jitter}")


def rtcp_packets(data: bytes, where: str) -> list:
    """The packets of an RTCP compound as (type, count, body); fails on anything
    that does not frame (RFC 3550 6.1: version 2, lengths adding up exactly)."""
    out = []
    i = 0
    while i < len(data):
        if len(data) - i < 4 or data[i] >> 6 != 2:
            fail(f"{where}: not RTCP at octet {i}: {data[i:i + 8].hex()}")
        length = 4 * (struct.unpack("!H", data[i + 2:i + 4])[0] + 1)
        if i + length > len(data):
            fail(f"{where}: packet at octet {i} runs past the datagram")
        out.append((data[i + 1], data[i] & 0x1F, data[i + 4:i + length]))
        i += length
    return out


def cmd_rtcp(a) -> None:
    rtp = [g for g in read_datagrams(a.fields, a.rtp_to, a.from_ip) if len(g[0]) >= 12]
    rtcp = read_datagrams(a.fields, a.rtcp_to, a.from_ip)
    if rtp and rtcp and a.rtp_to == a.rtcp_to:
        rtp = [g for g in rtp if not 192 <= g[0][1] <= 223]
        rtcp = [g for g in rtcp if 192 <= g[0][1] <= 223]
    if not rtp:
        fail(f"no RTP to {a.rtp_to} in {a.fields}")
    ssrcs = {struct.unpack("!I", p[8:12])[0] for p, _ in rtp}
    if len(ssrcs) != 1:
        fail(f"{a.rtp_to}: several SSRCs {sorted(hex(x) for x in ssrcs)}")
    ssrc = ssrcs.pop()
    if len(rtcp) < a.min:
        fail(f"{a.rtcp_to} got {len(rtcp)} RTCP datagrams from {a.from_ip}; at least {a.min} expected")
    seen = []
    for n, (data, at) in enumerate(rtcp):
        where = f"{a.rtcp_to} RTCP #{n + 1}"
        pkts = rtcp_packets(data, where)
        kinds = [t for t, _, _ in pkts]
        seen.append("+".join({200: "SR", 201: "RR", 202: "SDES", 203: "BYE"}.get(t, str(t)) for t in kinds))
        if kinds[0] not in (200, 201):
            fail(f"{where}: starts with packet type {kinds[0]}, not SR or RR")
        if 202 not in kinds:
            fail(f"{where}: no SDES (RFC 3550 6.1: every compound carries a CNAME)")
        t, count, body = pkts[0]
        sender = struct.unpack("!I", body[0:4])[0]
        if sender != ssrc:
            fail(f"{where}: from SSRC {sender:#x}, the RTP stream's is {ssrc:#x}")
        if t == 200:
            _ntp_hi, _ntp_lo, ts, packets, octets = struct.unpack("!IIIII", body[4:24])
            before = [(p, when) for p, when in rtp if when is not None and at is not None and when <= at]
            if abs(packets - len(before)) > 1:
                fail(f"{where}: SR counts {packets} packets; {len(before)} were captured before it")
            if octets != 160 * packets:
                fail(f"{where}: SR counts {octets} octets for {packets} packets of 160")
            if before:
                last, when = before[-1]
                last_ts = struct.unpack("!I", last[4:8])[0]
                ahead = ((ts - last_ts + 2**31) % 2**32 - 2**31) / 8 - (at - when) * 1000
                if abs(ahead) > 10:
                    fail(f"{where}: SR timestamp {ts} is {ahead:+.1f} ms off the stream's clock")
    if a.bye:
        last = rtcp_packets(rtcp[-1][0], f"{a.rtcp_to} last RTCP")
        t, count, body = last[-1]
        sources = [struct.unpack("!I", body[4 * i:4 * i + 4])[0] for i in range(count)]
        if t != 203 or ssrc not in sources:
            fail(f"{a.rtcp_to}: the last RTCP ends with type {t}, not a BYE of {ssrc:#x}")
    print(f"{a.rtcp_to}: {len(rtcp)} RTCP compounds for SSRC {ssrc:#x}: {', '.join(seen)}")


def cmd_rtp_mix(a) -> None:
    """What a conference party received from voxgate (a fields file whose 5th field is the
    UDP payload in hex): one stream (one SSRC, sequence numbers +1, timestamps rising by
    whole 20 ms frames, the marker on the first packet only), G.711 decoded by its payload
    type; each --hz tone present (at least 5% of the energy each, Goertzel) and the --not-hz
    tone (the party's own) absent (at most a hundredth of the weakest wanted tone)."""
    pkts = [g[0] for g in party_datagrams(a)]
    heads = []
    samples = []
    for p in pkts:
        if len(p) < 12 or p[0] >> 6 != 2:
            fail(f"{a.to}: not RTP: {p[:12].hex()}")
        pt = p[1] & 0x7F
        if pt != a.pt:
            fail(f"{a.to}: payload type {pt}, {a.pt} expected")
        heads.append((p[1] >> 7, struct.unpack("!H", p[2:4])[0], struct.unpack("!I", p[4:8])[0],
                      struct.unpack("!I", p[8:12])[0]))
        decode = alaw_decode if pt == 8 else ulaw_decode
        samples.extend(decode(b) for b in p[12:])
    if len({h[3] for h in heads}) != 1:
        fail(f"{a.to}: several SSRCs: {sorted({hex(h[3]) for h in heads})}")
    for i, (prev, cur) in enumerate(zip(heads, heads[1:])):
        if cur[1] != (prev[1] + 1) & 0xFFFF:
            fail(f"{a.to}: packet {i + 1}: sequence {cur[1]} after {prev[1]}")
        step = (cur[2] - prev[2]) & 0xFFFFFFFF
        if step == 0 or step % 160 or step > 160 * 50:
            fail(f"{a.to}: packet {i + 1}: timestamp {cur[2]} after {prev[2]} (whole 20 ms frames expected)")
    markers = [i for i, h in enumerate(heads) if h[0]]
    if markers != [0]:
        fail(f"{a.to}: marker bits on packets {markers}; only the first expected")
    rms = (sum(x * x for x in samples) / len(samples)) ** 0.5
    if rms < 100:
        fail(f"{a.to}: silence (RMS {rms:.0f})")
    total = sum(x * x for x in samples) * len(samples) / 2 or 1.0
    shares = {hz: goertzel(samples, 8000, hz) / total for hz in a.hz}
    own = goertzel(samples, 8000, a.not_hz) / total
    said = ", ".join(f"{hz:g} Hz {share:.1%}" for hz, share in shares.items())
    for hz, share in shares.items():
        if share < 0.05:
            fail(f"{a.to}: {hz:g} Hz carries {share:.2%} of the energy; the tone was expected ({said}, own {a.not_hz:g} Hz {own:.4%})")
    if own > min(shares.values()) / 100:
        fail(f"{a.to}: its own {a.not_hz:g} Hz tone came back: {own:.3%} of the energy ({said})")
    print(f"{a.to}: {len(pkts)} packets, one stream; {said}; own {a.not_hz:g} Hz {own:.4%}")


def cmd_digits(a) -> None:
    """The digits events of conversation CONVERSATION are exactly DIGITS, in order, from SOURCE."""
    mine = [e for e in read_events(a.events) if e.get("conversation") == a.conversation and e.get("type") == "digits"]
    got = "".join(e.get("digit", "?") for e in mine)
    if got != a.digits:
        fail(f"{a.conversation}: digits {got!r}; {a.digits!r} expected (events: {mine})")
    bad = [e for e in mine if e.get("source") != a.source or e.get("leg") != a.leg]
    if bad:
        fail(f"{a.conversation}: digits not from leg {a.leg} by {a.source}: {bad}")
    print(f"{a.conversation}: digits {got} by {a.source}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("cdr")
    c.add_argument("file")
    c.add_argument("callee")
    c.add_argument("expect", nargs="*")
    c.add_argument("--wait", type=float, default=5.0)
    c = sub.add_parser("calls")
    c.add_argument("url")
    c.add_argument("expect", nargs="*")
    c.add_argument("--wait", type=float, default=5.0)
    c.add_argument("--empty", action="store_true")
    c = sub.add_parser("topology")
    c.add_argument("caller_log")
    c.add_argument("callee_log")
    c.add_argument("--caller-ip", required=True)
    c.add_argument("--callee-ip", required=True)
    c = sub.add_parser("refresh")
    c.add_argument("log")
    c.add_argument("--min", type=float, required=True)
    c.add_argument("--max", type=float, required=True)
    c = sub.add_parser("rtp")
    c.add_argument("fields")
    c.add_argument("--to", required=True)
    c.add_argument("--from-ip", required=True)
    c.add_argument("--min", type=int, required=True)
    c.add_argument("--max", type=int)
    c.add_argument("--not-length", type=int, help="fail on a datagram of this UDP length (5th field)")
    c = sub.add_parser("delay")
    c.add_argument("log")
    c.add_argument("--from", dest="frm", required=True)
    c.add_argument("--to", required=True)
    c.add_argument("--max", type=float, required=True)
    c = sub.add_parser("conversation")
    c.add_argument("events")
    c.add_argument("number")
    c.add_argument("--wait", type=float, default=5.0)
    c = sub.add_parser("event")
    c.add_argument("events")
    c.add_argument("conversation")
    c.add_argument("type")
    c.add_argument("expect", nargs="*")
    c.add_argument("--wait", type=float, default=5.0)
    c = sub.add_parser("sequence")
    c.add_argument("events")
    c.add_argument("conversation")
    c.add_argument("steps", nargs="+")
    c = sub.add_parser("pcap-cut")
    c.add_argument("input")
    c.add_argument("output")
    c.add_argument("--packets", type=int, required=True)
    c = sub.add_parser("spray")
    c.add_argument("to", nargs="+", help="IP:PORT targets")
    c.add_argument("--from", dest="frm", required=True, help="IP:PORT to send from")
    c.add_argument("--count", type=int, default=100)
    c.add_argument("--interval", type=float, default=0.01)
    c.add_argument("--payload", type=int, default=69, help="payload bytes after the 12-byte header")
    c = sub.add_parser("wav")
    c.add_argument("file")
    c.add_argument("--hz", type=float, required=True)
    c.add_argument("--seconds", type=float, required=True)
    c = sub.add_parser("tone")
    c.add_argument("file")
    c.add_argument("--hz", type=float, required=True)
    c.add_argument("--not-hz", type=float, required=True)
    c.add_argument("--min-seconds", type=float, default=1.0)
    c.add_argument("--channel", type=int)
    c.add_argument("--channels", type=int)
    c = sub.add_parser("silence")
    c.add_argument("file")
    c.add_argument("--min-ms", type=float, required=True)
    c.add_argument("--max-ms", type=float, required=True)
    c = sub.add_parser("sent-keys")
    c.add_argument("log")
    c.add_argument("--from", dest="frm", required=True)
    c = sub.add_parser("tone-pcap")
    c.add_argument("file")
    c.add_argument("--hz", type=float, required=True)
    c.add_argument("--seconds", type=float, required=True)
    c.add_argument("--law", choices=("alaw", "ulaw"), default="alaw")
    c = sub.add_parser("dtmf-pcap")
    c.add_argument("file")
    c.add_argument("digits")
    c.add_argument("--on", type=int, default=100)
    c.add_argument("--off", type=int, default=100)
    c = sub.add_parser("rtp-tone")
    c.add_argument("payloads")
    c.add_argument("--hz", type=float, required=True)
    c.add_argument("--not-hz", type=float, required=True)
    c.add_argument("--min", type=int, default=100)
    c.add_argument("--encrypted", action="store_true")
    c.add_argument("--pt", type=int, help="every packet must have this payload type")
    c.add_argument("--min-rms", type=float, help="the decoded audio's RMS must be at least this")
    c.add_argument("--min-share", type=float,
                   help="at least this fraction of the energy must be at --hz (a clean tone)")
    c.add_argument("--frame", type=int,
                   help="every packet carries this many samples, sequence numbers +1 and timestamps +FRAME")
    c = sub.add_parser("rtp-audio")
    c.add_argument("fields")
    c.add_argument("--to", required=True)
    c.add_argument("--from-ip", required=True)
    c.add_argument("--min", type=int, required=True)
    c.add_argument("--pt", type=int, required=True)
    c.add_argument("--hz", type=float, required=True)
    c.add_argument("--not-hz", type=float, required=True)
    c.add_argument("--markers", type=int, default=1)
    c.add_argument("--silent-head", type=int, default=0)
    c.add_argument("--silent-tail", type=int, default=0)
    c.add_argument("--max-jitter-ms", type=float)
    c = sub.add_parser("rtp-mix")
    c.add_argument("fields")
    c.add_argument("--to", required=True)
    c.add_argument("--from-ip", required=True)
    c.add_argument("--min", type=int, required=True)
    c.add_argument("--pt", type=int, required=True)
    c.add_argument("--hz", type=float, action="append", required=True, help="a tone that must be there (repeat)")
    c.add_argument("--not-hz", type=float, required=True, help="the tone that must not")
    c = sub.add_parser("rtcp")
    c.add_argument("fields")
    c.add_argument("--rtp-to", required=True)
    c.add_argument("--rtcp-to", required=True)
    c.add_argument("--from-ip", required=True)
    c.add_argument("--min", type=int, default=1)
    c.add_argument("--bye", action="store_true")
    c = sub.add_parser("digits")
    c.add_argument("events")
    c.add_argument("conversation")
    c.add_argument("digits")
    c.add_argument("--source", required=True)
    c.add_argument("--leg", type=int, default=1)
    a = p.parse_args()
    {"cdr": cmd_cdr, "calls": cmd_calls, "topology": cmd_topology, "refresh": cmd_refresh, "rtp": cmd_rtp,
     "delay": cmd_delay, "conversation": cmd_conversation, "event": cmd_event, "sequence": cmd_sequence,
     "pcap-cut": cmd_pcap_cut, "spray": cmd_spray, "wav": cmd_wav, "tone": cmd_tone, "silence": cmd_silence,
     "tone-pcap": cmd_tone_pcap, "rtp-tone": cmd_rtp_tone, "sent-keys": cmd_sent_keys,
     "rtp-audio": cmd_rtp_audio, "rtp-mix": cmd_rtp_mix, "rtcp": cmd_rtcp, "digits": cmd_digits,
     "dtmf-pcap": cmd_dtmf_pcap}[a.cmd](a)


if __name__ == "__main__":
    main()
