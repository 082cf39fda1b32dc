"""schemathesis hooks for scripts/schemathesis.

A real client sends a fresh Idempotency-Key with each new request. Generated requests reuse
the same few keys with different bodies, which the service rightly refuses with 422
/problems/idempotency-key-reused, as the IETF draft asks. That answer, and only that one, is
not a failure; every other check on the same requests stands.
"""

import json

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
