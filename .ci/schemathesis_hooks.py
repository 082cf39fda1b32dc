"""schemathesis hooks for scripts/schemathesis.

A real client sends a fresh Idempotency-Key with each new request, and `before_call` does the
same for every generated request. Generated keys repeat: a repeated key with another body is
rightly refused with 422 /problems/idempotency-key-reused (as the IETF draft asks), and one
with the same body rightly replays the first answer, whose record may be gone since. Should a
repeated key still reach the service, that 422, and only that answer, is not a failure.
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
def before_call(ctx, case, **kwargs):
    """Send a fresh Idempotency-Key with each request, as a real client does. Generated keys
    repeat, and a repeated key with the same body rightly replays the first answer: the
    record it created, which may have been deleted since, so the stateful phase would read
    a replayed id as "created and not found". The keys' own rules are tested in
    tests/api/idempotency.rs."""
    if case.headers and "Idempotency-Key" in case.headers:
        case.headers["Idempotency-Key"] = str(uuid.uuid4())
