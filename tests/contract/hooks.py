"""Schemathesis hooks of the contract run (tests/contract/schemathesis.toml).

Some values in a request body must be things the worker issued or the request names
elsewhere: no JSON Schema can state them, as none can state a valid Authorization header.
In positive (schema-valid) cases only, and only where the generated value has the right
type, this hook puts real ones in (before the request is sent, so the report and its
curl commands show what was sent), so that such requests reach the operation instead of
failing on a token Schemathesis could not know. Negative cases are left alone. The
config's `body.*` parameters cannot do this: Schemathesis 4.32 applies them in the
fuzzing phase only, not in the coverage phase.

- PUT /v2/handles/{handle}/configuration: the body's `handle` must be the path's (the
  operation says so: 400 invalid_body at $.handle).
- PUT /v2/handles/{handle}/personalization-rules/{ruleId}: the body's `id`, when given,
  must be the path's (the rule schema says so: 400 invalid_body at $.id).
- POST /v2/public/conversions: `ctx` must be a ctx token a redirect issued; the one in
  CONTRACT_CTX (tests/e2e/contract.test.mjs takes it from a real redirect).
- POST .../campaigns/{campaignId}/test-conversion: `ctx` is optional and, when given, must
  be a fresh token for that very campaign and variant; a generated one is left out (the
  worker then mints one, as the operation says).
- Every write with an `Idempotency-Key`: the generated key made unique. Schemathesis draws
  keys from a small set ("0", "A", ...), so most writes would otherwise meet 409
  idempotency_key_reuse (the same key with another request, as documented) and never
  reach the operation.
"""

import os
import uuid

import schemathesis

PUT_CONFIGURATION = "PUT /v2/handles/{handle}/configuration"
PUT_RULE = "PUT /v2/handles/{handle}/personalization-rules/{ruleId}"
CONVERSION = "POST /v2/public/conversions"
TEST_CONVERSION = "POST /v2/handles/{handle}/campaigns/{campaignId}/test-conversion"


def _is_positive(case) -> bool:
    meta = case.meta
    return meta is not None and meta.generation.mode.is_positive


@schemathesis.hook
def before_call(ctx, case, kwargs):
    label = case.operation.label
    if case.method.upper() != label.split(" ", 1)[0] or not _is_positive(case):
        return
    headers = case.headers or {}
    for name in headers:
        if name.lower() == "idempotency-key" and isinstance(headers[name], str):
            # The generated key stays (cut to leave room), made unique by a suffix in the
            # same alphabet: its form is still what is tested.
            headers[name] = f"{headers[name][:200]}.{uuid.uuid4().hex}"
    body = case.body
    if not isinstance(body, dict):
        return
    if label == PUT_CONFIGURATION and isinstance(body.get("handle"), str):
        body["handle"] = case.path_parameters["handle"]
    elif label == PUT_RULE and isinstance(body.get("id"), str):
        body["id"] = case.path_parameters["ruleId"]
    elif label == CONVERSION and isinstance(body.get("ctx"), str):
        body["ctx"] = os.environ["CONTRACT_CTX"]
    elif label == TEST_CONVERSION and isinstance(body.get("ctx"), str):
        del body["ctx"]
