"""Checks shared by the tests of the Grafana dashboards in config/grafana
(metrics_prometheus_test.py: tidelog-overview.json; feeds_test.py:
tidelog-feeds.json).

- `check_valid`: a well-formed dashboard in the shipped conventions:
  schemaVersion >= 37, uid and title, a `DS_PROMETHEUS` data source variable,
  the named query variables, unique panel ids, a gridPos inside the 24 columns
  for every panel and no two top-level panels overlapping, a description and
  queries on every non-row panel, every query on `${DS_PROMETHEUS}`, and every
  metric selector in a query carrying the filters required for its metric
  (e.g. `instance=~"$instance"` on every tidelog_ metric).
- `targets`, `substitute`: the queries, with template variables expanded as
  Grafana sends them for "All".
- `answer_all`, `check_outcome`, `check_variable`: every query run through a
  real Prometheus (harness.Prometheus), polled with a deadline until each has
  a finite sample; a PromQL error is final.
"""
import json
import math
import re
import time

import harness

# Grafana's built-in variables as it expands them for a 1 s scrape interval.
BUILTIN_VALUES = {
    "__rate_interval": "5s", "__interval": "1s", "__range": "1m", "__range_s": "60",
    "__interval_ms": "1000",
}

# A metric name and its optional {label matchers} in a PromQL expression.
_SELECTOR = re.compile(r"\b(tidelog_[a-zA-Z0-9_:]*)\s*(\{[^}]*\})?")


def load(path):
    return json.loads(path.read_text())


def targets(dashboard):
    """[(panel title, refId, expr)] of every panel, rows' nested panels included."""
    found = []

    def walk(panels):
        for panel in panels:
            walk(panel.get("panels", []))
            for target in panel.get("targets", []):
                found.append((panel["title"], target.get("refId"), target.get("expr")))
    walk(dashboard["panels"])
    return found


def panels(dashboard):
    """Every panel, rows' nested panels included."""
    found = []

    def walk(items):
        for panel in items:
            walk(panel.get("panels", []))
            found.append(panel)
    walk(dashboard["panels"])
    return found


def selector_problems(expr, required):
    """What `expr` lacks: `required` is [(metric name regex, matcher text)], each
    matcher must be inside the braces of every selector of a matching metric."""
    problems = []
    for match in _SELECTOR.finditer(expr):
        name, matchers = match.group(1), match.group(2) or ""
        for pattern, matcher in required:
            if re.fullmatch(pattern, name) and matcher not in matchers:
                problems.append(f"{name} without {matcher}")
    return problems


def check_valid(dashboard, query_variables, required_matchers):
    """Asserts the conventions of the module docstring; returns (panels, queries)."""
    assert dashboard.get("schemaVersion", 0) >= 37, "schemaVersion below 37"
    assert dashboard.get("uid") and dashboard.get("title")
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert variables.get("DS_PROMETHEUS", {}).get("type") == "datasource", \
        "no DS_PROMETHEUS data source variable"
    assert variables.get("DS_PROMETHEUS", {}).get("query") == "prometheus"
    for name in query_variables:
        assert variables.get(name, {}).get("type") == "query", f"no {name} variable"
    ids, boxes = set(), []
    for panel in panels(dashboard):
        title = panel["title"]
        assert panel.get("id") not in ids, f"panel id {panel.get('id')} twice"
        ids.add(panel.get("id"))
        grid = panel.get("gridPos", {})
        assert {"h", "w", "x", "y"} <= set(grid), f"{title}: gridPos"
        assert 0 <= grid["x"] and grid["x"] + grid["w"] <= 24 and grid["h"] > 0, \
            f"{title}: gridPos {grid} outside the 24 columns"
        if panel["type"] == "row":
            continue
        assert panel.get("description"), f"{title}: no description"
        assert panel.get("targets"), f"{title}: no queries"
        for target in panel["targets"]:
            assert target.get("expr"), f"{title}: a target without expr"
            assert target.get("datasource", {}).get("uid") == "${DS_PROMETHEUS}", \
                f"{title}: target datasource is not ${{DS_PROMETHEUS}}"
            problems = selector_problems(target["expr"], required_matchers)
            assert not problems, f"{title}: {problems}: {target['expr']}"
    for panel in dashboard["panels"]:  # top level: what Grafana lays out
        g = panel["gridPos"]
        for title, o in boxes:
            overlap = g["x"] < o["x"] + o["w"] and o["x"] < g["x"] + g["w"] and \
                g["y"] < o["y"] + o["h"] and o["y"] < g["y"] + g["h"]
            assert not overlap, f"{panel['title']} {g} overlaps {title} {o}"
        boxes.append((panel["title"], g))
    return len(ids), len(targets(dashboard))


def substitute(expr, values):
    """The query as Grafana sends it, every template variable replaced from `values`."""
    def value(match):
        name = match.group(1) or match.group(2)
        assert name in values, f"unknown template variable ${name} in {expr}"
        return values[name]
    return re.sub(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)", value, expr)


def needs_retry(rows):
    """An answer without a finite sample may still come; an error will not heal."""
    return not isinstance(rows, Exception) and not any(math.isfinite(v) for _, v in rows)


def answer_all(prometheus, exprs, timeout_s):
    """Runs each (already substituted) query until every one has a finite sample
    or timeout_s passes; returns {index: rows, or the error Prometheus answered}."""
    outcome = {}
    deadline = time.monotonic() + timeout_s

    def all_answered():
        for i, expr in enumerate(exprs):
            if i not in outcome or needs_retry(outcome[i]):
                try:
                    outcome[i] = prometheus.query(expr)
                except AssertionError as error:
                    outcome[i] = error  # a parse error does not heal: no retry
        return not any(needs_retry(rows) for rows in outcome.values())
    try:
        harness.deadline_poll(all_answered, max(0.0, deadline - time.monotonic()),
                              "every dashboard query", interval_s=0.5)
    except AssertionError:
        pass  # check_outcome says which queries
    return outcome


def check_outcome(tap, expr, rows):
    """A query answered at least one finite sample."""
    if isinstance(rows, Exception):
        raise AssertionError(f"{expr}: {rows}")
    assert rows, f"{expr}: no series"
    finite = [v for _, v in rows if math.isfinite(v)]
    assert finite, f"{expr}: {len(rows)} series, none finite: {rows[:3]}"
    tap.comment(f"{len(rows)} series: {expr}")


def check_variable(tap, prometheus, variable, values):
    """A label_values(selector, label) query variable lists at least one value."""
    query = variable["query"]["query"] if isinstance(variable["query"], dict) else variable["query"]
    match = re.fullmatch(r"\s*label_values\((.*),\s*(\w+)\)\s*", query)
    assert match, f"${variable['name']}: not a label_values(selector, label) query: {query}"
    selector, label = substitute(match.group(1), values), match.group(2)
    found = prometheus.api(f"label/{label}/values", **{"match[]": selector})
    assert found, f"${variable['name']}: {query} lists no {label}"
    tap.comment(f"${variable['name']}: {len(found)} values, e.g. {found[:3]}")
    return found
