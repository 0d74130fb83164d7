#!/usr/bin/env python3
"""Checks the ums Grafana dashboard against a /metrics exposition.

    check-dashboard.py DASHBOARD.json METRICS.txt [--print-exprs] [--query URL]

DASHBOARD.json  the dashboard (ums-dashboard.json)
METRICS.txt     what GET /metrics answered, e.g.
                curl -s http://127.0.0.1:8080/metrics > /tmp/metrics.txt
--print-exprs   print every query, with the Grafana variables replaced
                ($instance by .*, $__rate_interval by 1m, $__range and
                $__interval by 5m), one a line, on standard output
--query URL     also run each of those as an instant query against the
                Prometheus at URL (e.g. http://127.0.0.1:9090) and fail on
                any error it reports; an empty answer is only mentioned

It checks that the four rows exist (Overview, Auth, Data stores, Notifier),
that every panel has queries and every query a refId and a non-empty expr,
that an expr uses only the variables above, selects the ums series with
instance=~"$instance", and names only metrics the exposition has (a
histogram's _bucket, _sum and _count under its own name). Problems go to
standard error, one a line; the exit status is 1 if there was any, 2 for a
usage error. Python 3 standard library only.
"""

import json
import re
import sys
import urllib.error
import urllib.parse
import urllib.request

ROWS = ("Overview", "Auth", "Data stores", "Notifier")
SUBSTITUTIONS = (
    (re.compile(r"\$\{instance\}|\$instance\b"), ".*"),
    (re.compile(r"\$\{__rate_interval\}|\$__rate_interval\b"), "1m"),
    (re.compile(r"\$\{__range\}|\$__range\b"), "5m"),
    (re.compile(r"\$\{__interval\}|\$__interval\b"), "5m"),
)
ALLOWED_VARS = {"instance", "__rate_interval", "__range", "__interval"}
VAR = re.compile(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)")
METRIC = re.compile(r"\bums_[a-z_]+")
# A selector: a metric name and, if there is one, its {...}.
SELECTOR = re.compile(r"\b(ums_[a-z_]+|up)\b(\s*\{[^}]*\})?")
INSTANCE_MATCHER = re.compile(r'instance\s*=~\s*"\$instance"')
HIST_SUFFIXES = ("_bucket", "_sum", "_count")


def usage():
    sys.stderr.write(__doc__.split("\n\n")[1] + "\n")
    sys.exit(2)


def read_exposition(path):
    """The metric names in a text exposition: {name: type}, with the
    sample names of histograms and summaries under their family's name."""
    types = {}
    samples = set()
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            if line.startswith("#"):
                parts = line.split()
                if len(parts) >= 4 and parts[1] == "TYPE":
                    types[parts[2]] = parts[3]
                continue
            m = re.match(r"[a-zA-Z_:][a-zA-Z0-9_:]*", line)
            if m:
                samples.add(m.group(0))
    for name in samples:
        types.setdefault(name, "untyped")
    return types


def metric_known(token, types):
    if token in types:
        return True
    for suffix in HIST_SUFFIXES:
        if token.endswith(suffix):
            base = token[: -len(suffix)]
            if types.get(base) in ("histogram", "summary"):
                return True
    return False


def balanced(expr):
    """True if (), [] and {} nest properly outside string literals."""
    pairs = {")": "(", "]": "[", "}": "{"}
    stack = []
    quote = None
    escaped = False
    for c in expr:
        if quote:
            if escaped:
                escaped = False
            elif c == "\\":
                escaped = True
            elif c == quote:
                quote = None
            continue
        if c in "\"'`":
            quote = c
        elif c in "([{":
            stack.append(c)
        elif c in ")]}":
            if not stack or stack.pop() != pairs[c]:
                return False
    return not stack and quote is None


def substitute(expr):
    for pattern, value in SUBSTITUTIONS:
        expr = pattern.sub(value, expr)
    return " ".join(expr.split())


def walk_panels(panels):
    for p in panels:
        yield p
        # A collapsed row keeps its panels inside it.
        for q in walk_panels(p.get("panels") or []):
            yield q


def check_templating(dash, problems):
    variables = {v.get("name"): v for v in dash.get("templating", {}).get("list", [])}
    ds = variables.get("datasource")
    if ds is None or ds.get("type") != "datasource" or ds.get("query") != "prometheus":
        problems.append("templating: no variable `datasource` of type datasource (prometheus)")
    inst = variables.get("instance")
    query = inst.get("query") if inst else None
    if isinstance(query, dict):
        query = query.get("query")
    if inst is None or "label_values(ums_build_info" not in (query or "") + inst.get("definition", ""):
        problems.append("templating: no variable `instance` from label_values(ums_build_info, instance)")


def run_query(url, expr):
    """An instant query; None if it worked, else the error."""
    data = urllib.parse.urlencode({"query": expr}).encode()
    req = urllib.request.Request(url.rstrip("/") + "/api/v1/query", data=data)
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            body = json.load(resp)
    except urllib.error.HTTPError as e:
        try:
            body = json.load(e)
        except ValueError:
            return "HTTP %d" % e.code, None
    except (urllib.error.URLError, OSError, ValueError) as e:
        return str(e), None
    if body.get("status") != "success":
        return "%s: %s" % (body.get("errorType"), body.get("error")), None
    return None, body.get("data", {}).get("result")


def main(argv):
    args = [a for a in argv if not a.startswith("--")]
    print_exprs = "--print-exprs" in argv
    url = None
    if "--query" in argv:
        i = argv.index("--query")
        if i + 1 >= len(argv):
            usage()
        url = argv[i + 1]
        args.remove(url)
    for a in argv:
        if a.startswith("--") and a not in ("--print-exprs", "--query"):
            usage()
    if len(args) != 2:
        usage()
    dash_path, metrics_path = args

    problems = []
    try:
        with open(dash_path, encoding="utf-8") as f:
            dash = json.load(f)
        types = read_exposition(metrics_path)
    except (OSError, ValueError) as e:
        sys.stderr.write("check-dashboard: %s\n" % e)
        return 1

    panels = list(walk_panels(dash.get("panels", [])))
    rows = [p.get("title") for p in panels if p.get("type") == "row"]
    for title in ROWS:
        if title not in rows:
            problems.append("no row titled %r" % title)
    check_templating(dash, problems)

    exprs = []
    for p in panels:
        if p.get("type") == "row":
            continue
        where = "panel %r (id %s)" % (p.get("title"), p.get("id"))
        if "gridPos" not in p:
            problems.append("%s: no gridPos" % where)
        targets = p.get("targets") or []
        if not targets:
            problems.append("%s: no targets" % where)
        refids = set()
        for t in targets:
            ref = t.get("refId")
            tw = "%s target %s" % (where, ref)
            if not ref:
                problems.append("%s: no refId" % tw)
            elif ref in refids:
                problems.append("%s: refId used twice" % tw)
            refids.add(ref)
            expr = t.get("expr")
            if not isinstance(expr, str) or not expr.strip():
                problems.append("%s: empty expr" % tw)
                continue
            for var in VAR.findall(expr):
                if var not in ALLOWED_VARS:
                    problems.append("%s: variable $%s (only $instance, $__rate_interval, "
                                    "$__range, $__interval)" % (tw, var))
            if not balanced(expr):
                problems.append("%s: unbalanced brackets: %s" % (tw, expr))
            for token in sorted(set(METRIC.findall(expr))):
                if not metric_known(token, types):
                    problems.append("%s: %s is not in %s" % (tw, token, metrics_path))
            for name, sel in SELECTOR.findall(expr):
                if not INSTANCE_MATCHER.search(sel or ""):
                    problems.append('%s: %s without instance=~"$instance"' % (tw, name))
            exprs.append((tw, substitute(expr)))

    if print_exprs:
        for _, e in exprs:
            print(e)

    if url:
        for tw, e in exprs:
            err, result = run_query(url, e)
            if err:
                problems.append("%s: Prometheus refused %s: %s" % (tw, e, err))
            elif not result:
                sys.stderr.write("note: %s: no series now: %s\n" % (tw, e))

    for msg in problems:
        sys.stderr.write("check-dashboard: %s\n" % msg)
    if not problems:
        sys.stderr.write("check-dashboard: %s: %d panels, %d queries, all fine\n"
                         % (dash_path, sum(1 for p in panels if p.get("type") != "row"), len(exprs)))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
