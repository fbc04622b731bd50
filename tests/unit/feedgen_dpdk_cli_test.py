#!/usr/bin/python3
"""feedgen --dpdk-vdev end to end (the DPDK vdev sender).

Proves that
  1. every generated frame leaves through the port exactly once, in order and
     unchanged in shape: 3,000 raw frames over 4 flows into
     net_pcap0,tx_pcap=OUT are read back from OUT (3,000 records, Ethernet /
     IPv4 / UDP to 239.1.1.1:30001, each flow's sequences 1..750 in order), and
     the JSON line says 3,000 sent, 0 dropped, 3,000 counted by the port;
  2. frames the port does not take are dropped and counted at the sender:
     net_ring0 is a loopback nobody reads, so its TX ring fills; sent +
     dropped == offered, dropped > 0, and the port counted exactly the sent ones;
  3. usage errors exit 2 (--dpdk-retry without --dpdk-vdev, two sinks).

How: runs the feedgen program (argv[1]) with the EAL in no-hugepage mode
(what the sink does by itself) and parses the pcap file by hand.
Usage: feedgen_dpdk_cli_test.py FEEDGEN SCRATCH_DIR
"""

import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile

FRAMES = 3000
FLOWS = 4


def run(feedgen, *args, expect=0):
    done = subprocess.run([feedgen, *args], capture_output=True, text=True, timeout=60)
    if done.returncode != expect:
        sys.exit(f"feedgen {' '.join(args)}: exit {done.returncode}, expected {expect}\n"
                 f"{done.stdout}{done.stderr}")
    return done


def pcap_frames(path):
    with open(path, "rb") as f:
        data = f.read()
    magic = struct.unpack_from("<I", data, 0)[0]
    assert magic in (0xA1B2C3D4, 0xA1B23C4D), f"{path}: not a little-endian pcap ({magic:#x})"
    assert struct.unpack_from("<I", data, 20)[0] == 1, "LINKTYPE_ETHERNET"
    offset, frames = 24, []
    while offset < len(data):
        _, _, caplen, length = struct.unpack_from("<IIII", data, offset)
        assert caplen == length, "whole frames"
        offset += 16
        frames.append(data[offset:offset + caplen])
        offset += caplen
    return frames


def check_pcap_sender(feedgen, scratch):
    out = os.path.join(scratch, "out.pcap")
    json_out = os.path.join(scratch, "sent.jsonl")
    run(feedgen, "--feed", "raw", "--sessions", str(FLOWS), "--payload-bytes", "64",
        "--count", str(FRAMES), "--dpdk-vdev", f"net_pcap0,tx_pcap={out}",
        "--json-out", json_out)
    frames = pcap_frames(out)
    assert len(frames) == FRAMES, f"{len(frames)} frames in {out}, expected {FRAMES}"
    next_sequence = {}
    for i, frame in enumerate(frames):
        assert len(frame) == 14 + 20 + 8 + 64, f"frame {i}: {len(frame)} bytes"
        assert frame[12:14] == b"\x08\x00", f"frame {i}: not IPv4"
        assert frame[23] == 17, f"frame {i}: not UDP"
        assert frame[30:34] == bytes([239, 1, 1, 1]), f"frame {i}: destination"
        source_port, destination_port = struct.unpack_from(">HH", frame, 34)
        assert destination_port == 30001, f"frame {i}: port {destination_port}"
        sequence = struct.unpack_from(">Q", frame, 42)[0]
        expected = next_sequence.get(source_port, 1)
        assert sequence == expected, f"frame {i}: flow {source_port} seq {sequence} != {expected}"
        next_sequence[source_port] = sequence + 1
    assert sorted(next_sequence) == [40000 + f for f in range(FLOWS)], next_sequence
    assert all(n == FRAMES // FLOWS + 1 for n in next_sequence.values()), next_sequence
    with open(json_out) as f:
        line = json.loads(f.readline())
    assert line["sink"] == "dpdk" and line["when_full"] == "drop", line
    assert (line["frames"], line["frames_sent"], line["frames_dropped"],
            line["port_tx_packets"]) == (FRAMES, FRAMES, 0, FRAMES), line


def check_drops_are_counted(feedgen, scratch):
    json_out = os.path.join(scratch, "ring.jsonl")
    offered = 10000
    run(feedgen, "--feed", "raw", "--count", str(offered), "--dpdk-vdev", "net_ring0",
        "--json-out", json_out)
    with open(json_out) as f:
        line = json.loads(f.readline())
    assert line["frames"] == offered, line
    assert line["frames_sent"] + line["frames_dropped"] == offered, line
    assert line["frames_dropped"] > 0, f"nobody reads the ring, yet nothing dropped: {line}"
    assert line["port_tx_packets"] == line["frames_sent"], line


def check_usage_errors(feedgen, scratch):
    run(feedgen, "--feed", "raw", "--pcap", os.path.join(scratch, "x.pcap"), "--dpdk-retry",
        expect=2)
    run(feedgen, "--feed", "raw", "--pcap", os.path.join(scratch, "x.pcap"),
        "--dpdk-vdev", "net_ring0", expect=2)


def main():
    feedgen = sys.argv[1]
    scratch = tempfile.mkdtemp(prefix="feedgen_dpdk_", dir=sys.argv[2] if len(sys.argv) > 2 else None)
    try:
        check_pcap_sender(feedgen, scratch)
        check_drops_are_counted(feedgen, scratch)
        check_usage_errors(feedgen, scratch)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    print("feedgen --dpdk-vdev: pcap read back exactly, drops counted, usage errors: ok")


if __name__ == "__main__":
    main()
