"""schemathesis hooks for scripts/schemathesis.

A real client sends a fresh Idempotency-Key with each new request, and `map_headers` gives
each generated request one. Generated keys repeat: a repeated key with another body is
rightly refused with 422 /problems/idempotency-key-reused (as the IETF draft asks), and one
with the same body rightly replays the first answer, whose record may be gone since. Should
a repeated key still reach the service, that 422, and only that answer, is not a failure.
"""

import json
import uuid

import schemathesis

REUSED = "/problems/idempotency-key-reused"


@schemathesis.hook
def filter_failure(ctx, failure, case, response):
    if response.status_code != 422:
        return True
    try:
        problem = json.loads(response.content)
    except ValueError:
        return True
    return not (isinstance(problem, dict) and problem.get("type") == REUSED)


@schemathesis.hook
def map_headers(ctx, headers):
    """A fresh Idempotency-Key for each generated request, as a real client sends. Generated
    keys repeat, and a repeated key with the same body rightly replays the first answer: the
    record it created, which may have been deleted since, so the stateful phase would read a
    replayed id as "created and not found". The keys' own rules are tested in
    tests/api/idempotency.rs."""
    if headers and "Idempotency-Key" in headers:
        headers["Idempotency-Key"] = str(uuid.uuid4())
    return headers
