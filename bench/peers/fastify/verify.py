#!/usr/bin/env python3
"""Checks that the Fastify peer answers exactly as Convene does, byte for byte.

Both servers must run on the same database (with the same JWT secret), and the token must be
a Convene access token. The database is read (with `psql`) only to choose what to ask for:
kind x region combinations with many, few and no results, and organisations in every
membership standing, without a membership, with empty sets, and deleted ones.

    python3 verify.py --convene http://127.0.0.1:18449 --peer http://127.0.0.1:18450 \
        --token "$T" --database-url postgres://postgres@127.0.0.1:5432/convene_peer_check

Exits 0 when every response matches (status, content type, Link or ETag, body bytes), 1 on
the first difference (printed), 2 when it cannot run.
"""

import argparse
import base64
import collections
import json
import subprocess
import sys
import urllib.error
import urllib.request

KINDS = ["local_charity", "national_charity", "academic", "other"]
REGIONS = ["london", "wales", "north_east", "south_west"]
ALL_KINDS = ["national_charity", "local_charity", "grassroots_group", "academic",
             "statutory_body", "professional_body", "social_enterprise", "other"]
ALL_REGIONS = ["north_east", "north_west", "yorkshire_humber", "east_midlands", "west_midlands",
               "east", "london", "south_east", "south_west", "wales"]
SINGLES = 200


def psql(database_url, query):
    """Rows of `query` as lists of strings."""
    try:
        out = subprocess.run(
            ["psql", database_url, "-X", "-A", "-t", "-F", "\t", "-v", "ON_ERROR_STOP=1", "-c", query],
            check=True, capture_output=True, text=True).stdout
    except (OSError, subprocess.CalledProcessError) as error:
        sys.exit(f"cannot read the database with psql: {getattr(error, 'stderr', '') or error}")
    return [line.split("\t") for line in out.splitlines() if line]


def fetch(base, path, token):
    """(status, content type, the header worth comparing, body bytes) of GET base+path."""
    request = urllib.request.Request(base + path, headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return (response.status, response.headers.get("Content-Type"),
                    response.headers.get("Link") or response.headers.get("ETag"), response.read())
    except urllib.error.HTTPError as error:
        return error.code, error.headers.get("Content-Type"), None, error.read()
    except OSError as error:
        sys.exit(f"cannot reach {base}: {error}")


def first_difference(a, b):
    """Where two byte strings part, with some context of each."""
    n = next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
    lo = max(0, n - 80)
    return (f"bodies differ at byte {n} (lengths {len(a)} and {len(b)})\n"
            f"  convene: …{a[lo:n + 120].decode('utf-8', 'replace')!r}\n"
            f"  peer:    …{b[lo:n + 120].decode('utf-8', 'replace')!r}")


def compare(args, path):
    """Compares one request; returns Convene's (status, body) or exits on a difference."""
    convene = fetch(args.convene, path, args.token)
    peer = fetch(args.peer, path, args.token)
    problem = None
    if convene[0] != peer[0]:
        problem = f"status {convene[0]} (convene) vs {peer[0]} (peer)"
    elif convene[0] == 200:
        if convene[1] != peer[1]:
            problem = f"content-type {convene[1]!r} (convene) vs {peer[1]!r} (peer)"
        elif convene[2] != peer[2]:
            problem = f"Link/ETag {convene[2]!r} (convene) vs {peer[2]!r} (peer)"
        elif convene[3] != peer[3]:
            problem = first_difference(convene[3], peer[3])
    if problem:
        print(f"DIFFERENCE on GET {path}\n{problem}")
        sys.exit(1)
    if convene[0] not in (200, 404):
        print(f"unexpected status {convene[0]} on GET {path}: {convene[3][:300]!r}")
        sys.exit(1)
    return convene[0], convene[3]


def list_paths(args):
    """List requests: a grid of kinds x regions, the combinations with the fewest results
    (none, or fewer than a page, where the data has them), and other limits."""
    counts = {(k, r): 0 for k in ALL_KINDS for r in ALL_REGIONS}
    for kind, region, count in psql(args.database_url, """
            SELECT o.kind, r.region, count(*) FROM organisations o
              JOIN organisation_regions r ON r.organisation_id = o.id
             WHERE o.deleted_at IS NULL GROUP BY 1, 2"""):
        counts[(kind, region)] = int(count)
    combos = [(k, r) for k in KINDS for r in REGIONS]
    empty = [c for c, n in sorted(counts.items()) if n == 0]
    few = [c for c, n in sorted(counts.items(), key=lambda item: (item[1], item[0])) if n > 0]
    for combo in empty[:6] + few[:4]:
        if combo not in combos:
            combos.append(combo)
    paths = [(f"/api/v1/organisations?kind={k}&region={r}&limit=50", counts[(k, r)]) for k, r in combos]
    headline = counts[("local_charity", "london")]
    for limit in (1, 7, 200, 500):
        paths.append((f"/api/v1/organisations?kind=local_charity&region=london&limit={limit}", headline))
    paths.append(("/api/v1/organisations?kind=local_charity&region=london", headline))
    return paths


def single_ids(args):
    """Organisation ids: every standing and shape the data has, then a fixed sample."""
    wanted = collections.OrderedDict()
    def take(label, query, n):
        for (org_id,) in psql(args.database_url, query + f" LIMIT {n}"):
            wanted.setdefault(org_id, label)
    take("withdrawal", "SELECT DISTINCT organisation_id FROM membership_withdrawals ORDER BY 1", 20)
    take("no membership", """SELECT o.id FROM organisations o LEFT JOIN memberships m
        ON m.organisation_id = o.id WHERE m.organisation_id IS NULL AND o.deleted_at IS NULL ORDER BY md5(o.id)""", 10)
    take("applied ahead", "SELECT organisation_id FROM memberships WHERE applied_on > CURRENT_DATE ORDER BY 1", 5)
    take("empty sets", """SELECT o.id FROM organisations o WHERE o.deleted_at IS NULL
        AND NOT EXISTS (SELECT 1 FROM organisation_regions x WHERE x.organisation_id = o.id)
        AND NOT EXISTS (SELECT 1 FROM organisation_expertise x WHERE x.organisation_id = o.id)
        AND NOT EXISTS (SELECT 1 FROM organisation_communities x WHERE x.organisation_id = o.id)
        ORDER BY o.id""", 5)
    take("period ended", """SELECT organisation_id FROM membership_periods GROUP BY 1
        HAVING max(end_on) < CURRENT_DATE ORDER BY md5(organisation_id)""", 20)
    take("several periods", """SELECT organisation_id FROM membership_periods GROUP BY 1
        HAVING count(*) > 1 ORDER BY md5(organisation_id)""", 10)
    take("non-ascii", "SELECT id FROM organisations WHERE name ~ '[^ -~]' OR description IS NOT NULL ORDER BY id", 10)
    take("deleted", "SELECT id FROM organisations WHERE deleted_at IS NOT NULL ORDER BY id", 5)
    rest = SINGLES - len(wanted)
    if rest > 0:
        take("sample", "SELECT id FROM organisations ORDER BY md5(id || 'verify')", rest + len(wanted))
    ids = list(wanted)[:SINGLES]
    ids.append("00000000-0000-7000-8000-000000000000")  # unknown: 404 from both
    return ids


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--convene", required=True, help="Convene's base URL, e.g. http://127.0.0.1:18449")
    parser.add_argument("--peer", required=True, help="the peer's base URL, e.g. http://127.0.0.1:18450")
    parser.add_argument("--token", required=True, help="a Convene access token")
    parser.add_argument("--database-url", required=True, help="postgres:// URL of the database both serve")
    args = parser.parse_args()
    args.convene, args.peer = args.convene.rstrip("/"), args.peer.rstrip("/")

    seen = collections.Counter()
    for path, count in list_paths(args):
        status, body = compare(args, path)
        page = json.loads(body)
        seen["list pages"] += 1
        seen["list entries"] += len(page["data"])
        if page["next_cursor"] is not None:
            seen["lists with next_cursor"] += 1
        if not page["data"]:
            seen["empty lists"] += 1
        elif count < 50:
            seen["lists shorter than a page"] += 1
        if page["next_cursor"] and not base64.urlsafe_b64decode(page["next_cursor"] + "==").isascii():
            seen["cursors with non-ASCII keys"] += 1

    for org_id in single_ids(args):
        status, body = compare(args, f"/api/v1/organisations/{org_id}")
        seen["single reads"] += 1
        if status == 404:
            seen["single: 404"] += 1
            continue
        org = json.loads(body)
        membership = org["membership"]
        seen[f"single: membership {membership['status'] if membership else 'null'}"] += 1
        if not org["regions"] and not org["expertise"]:
            seen["single: empty sets"] += 1
        if any(ord(c) > 127 for c in org["name"] + (org["description"] or "")):
            seen["single: non-ASCII text"] += 1

    print("0 differences")
    for label, n in sorted(seen.items()):
        print(f"  {label}: {n}")
    missing = [s for s in ("pending", "current", "grace", "lapsed", "withdrawn", "null")
               if not seen[f"single: membership {s}"]]
    if missing:
        print(f"  (no single read showed membership {', '.join(missing)}: the data has none)")


if __name__ == "__main__":
    main()
