"""Schemathesis hooks for scripts/contract-local.sh.

`cargo lambda watch` turns an HTTP request into a Lambda event. It passes a body with a
text media type (text/*, application/json, or none) as text and answers 500 itself,
without calling the function, when those bytes are not UTF-8; every other media type
reaches the function base64-encoded. Such requests test the emulator, not the
functions, so they are not sent. The functions' own answer to a body that is not UTF-8
is tested in tests/http.rs (`a_body_that_is_not_utf8_is_400_naming_the_problem`).
"""

import schemathesis


def _emulator_sends_as_text(media_type):
    media_type = (media_type or "").split(";")[0].strip().lower()
    return media_type in ("", "application/json") or media_type.startswith("text/")


def _has_bytes_that_are_not_utf8(value):
    value = getattr(value, "data", value)  # Schemathesis wraps generated files in Binary
    if isinstance(value, (bytes, bytearray)):
        try:
            bytes(value).decode("utf-8")
        except UnicodeDecodeError:
            return True
        return False
    if isinstance(value, dict):
        return any(_has_bytes_that_are_not_utf8(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return any(_has_bytes_that_are_not_utf8(v) for v in value)
    return False


@schemathesis.hook
def filter_case(context, case):
    content_type = (case.headers or {}).get("Content-Type") or case.media_type
    return not (_emulator_sends_as_text(content_type) and _has_bytes_that_are_not_utf8(case.body))
