#!/usr/bin/python3
"""GETs a Prometheus endpoint on a fixed schedule, as a Prometheus scrape would.

    metrics_scraper.py --url http://127.0.0.1:9644/metrics --interval-s 1 --out FILE.jsonl
    metrics_scraper.py --url ... --count 1 --out FILE.jsonl    # one scrape; exit 1 unless 200

Scrapes start every --interval-s seconds from the first (a fixed schedule: a
slow answer does not push later scrapes back; a scrape that is still running
when the next is due makes that one start late, as Prometheus skips none).
Each scrape appends one JSON line: start time, HTTP status, seconds to the
last byte, body bytes, sample lines and --tag labels. Runs until SIGTERM or
--count scrapes. Used by perf/run.sh's metrics section; nothing is asserted.
"""
import argparse
import json
import signal
import sys
import time
import urllib.error
import urllib.request

SCRAPE_TIMEOUT_S = 10.0


class Stop(Exception):
    """SIGTERM arrived between two scrapes."""


def scrape(url):
    started = time.monotonic()
    try:
        with urllib.request.urlopen(url, timeout=SCRAPE_TIMEOUT_S) as answer:
            status, body = answer.status, answer.read()
    except urllib.error.HTTPError as error:
        status, body = error.code, error.read()
    except OSError as error:
        return {"status": 0, "error": str(error), "seconds": time.monotonic() - started}
    seconds = time.monotonic() - started
    samples = sum(1 for line in body.splitlines() if line and not line.startswith(b"#"))
    return {"status": status, "seconds": seconds, "bytes": len(body), "samples": samples}


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", required=True)
    parser.add_argument("--interval-s", type=float, default=1.0)
    parser.add_argument("--count", type=int, default=0, help="stop after N scrapes (0: until SIGTERM)")
    parser.add_argument("--tag", action="append", default=[], help="KEY=VALUE, copied to each line")
    parser.add_argument("--out", required=True, help="JSON lines, appended")
    args = parser.parse_args()
    tags = dict(tag.split("=", 1) for tag in args.tag)
    stopping, sleeping = [], []

    def on_sigterm(*_):
        stopping.append(True)
        if sleeping:  # between scrapes: stop now; during one: after its line is written
            raise Stop()
    signal.signal(signal.SIGTERM, on_sigterm)
    failures = 0
    next_start = time.monotonic()
    done = 0
    with open(args.out, "a") as out:
        while not stopping and (args.count == 0 or done < args.count):
            result = scrape(args.url)
            result.update(tags=tags, wall_time=time.time())
            out.write(json.dumps(result) + "\n")
            out.flush()
            failures += result["status"] != 200
            done += 1
            next_start += args.interval_s
            delay = next_start - time.monotonic()
            if delay > 0 and (args.count == 0 or done < args.count):
                try:
                    sleeping.append(True)
                    time.sleep(delay)  # the schedule, not a wait for a condition
                except Stop:
                    break
                finally:
                    sleeping.clear()
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
