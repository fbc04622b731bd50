#!/usr/bin/python3
"""Counts test cases across meson test runs and prints 'N passed, M failed'.

Reads each build directory's meson-logs/testlog.junit.xml (one entry per
GoogleTest case, one per plain test) and testlog.json (one entry per test
program). A program that failed without a failing case in the JUnit file
(a crash, a timeout, a failed start) counts as one failed case, so a broken
binary can never hide behind its passing cases.

Usage: summarize.py BUILD_DIR [BUILD_DIR ...]
"""
import json
import pathlib
import sys
import xml.etree.ElementTree as ET

FAILED_RESULTS = {"FAIL", "TIMEOUT", "ERROR", "UNEXPECTEDPASS"}


def summarize(build_dir):
    logs = pathlib.Path(build_dir) / "meson-logs"
    passed = failed = skipped = 0
    failing_suites = set()
    junit = logs / "testlog.junit.xml"
    if junit.exists():
        for suite in ET.parse(junit).getroot().iter("testsuite"):
            for case in suite.iter("testcase"):
                if case.find("failure") is not None or case.find("error") is not None:
                    failed += 1
                    # JUnit suite names are "project.test.gtest_suite".
                    parts = suite.get("name", "").split(".")
                    failing_suites.add(parts[1] if len(parts) > 1 else parts[0])
                elif case.find("skipped") is not None:
                    skipped += 1
                else:
                    passed += 1
    listing = logs / "testlog.json"
    if listing.exists():
        for line in listing.read_text().splitlines():
            entry = json.loads(line)
            if entry.get("result") in FAILED_RESULTS and entry.get("name") not in failing_suites:
                failed += 1
                print(f"  {build_dir}: {entry.get('name')} {entry.get('result')}", file=sys.stderr)
    return passed, failed, skipped


def main(argv):
    totals = [0, 0, 0]
    for build_dir in argv[1:]:
        for i, count in enumerate(summarize(build_dir)):
            totals[i] += count
    passed, failed, skipped = totals
    line = f"{passed} passed, {failed} failed"
    if skipped:
        line += f", {skipped} skipped"
    print(line)
    return 0 if failed == 0 and passed > 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
