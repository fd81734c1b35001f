"""A property-based fuzz of the server from its own OpenAPI spec (schemathesis): no request gets a 5xx."""

from __future__ import annotations

from pathlib import Path

import pytest
from _server import Server, make_run, new_key, post_run

pytestmark = pytest.mark.slow

schemathesis = pytest.importorskip("schemathesis", reason="needs schemathesis (in the dev extra)")
hypothesis = pytest.importorskip("hypothesis")


def _ndjson(ctx: object, value: object) -> bytes:
    """A generated records body: its text as is (usually not records at all, which must give a 4xx)."""
    return value if isinstance(value, bytes) else str(value).encode()


def test_no_operation_answers_a_5xx_to_generated_requests(tmp_path: Path) -> None:
    from hypothesis import HealthCheck, given, settings

    schemathesis.serializer("application/x-ndjson")(_ndjson)

    server = Server(tmp_path / "server").start()
    try:
        key = new_key(server.data, "research", "fuzzer")
        with server.client(key) as client:
            post_run(client, "research", make_run(steps=5))
            spec = client.get("/openapi.json").json()
        schema = schemathesis.openapi.from_dict(spec)
        failures: list[str] = []
        operations = [result.ok() for result in schema.get_all_operations()]
        assert len(operations) >= 18
        def fuzz(operation) -> None:  # type: ignore[no-untyped-def]
            @settings(max_examples=10, deadline=None, database=None, derandomize=True,
                      suppress_health_check=list(HealthCheck))
            @given(case=operation.as_strategy())
            def check(case) -> None:  # type: ignore[no-untyped-def]
                response = case.call(base_url=server.url, headers={"Authorization": f"Bearer {key}"}, timeout=30)
                if response.status_code >= 500:
                    failures.append(f"{operation.method.upper()} {case.formatted_path} -> {response.status_code}: "
                                    f"{response.text[:200]}")

            check()

        for operation in operations:
            if "/events/" not in operation.path:  # a stream that stays open; its 4xx cases are in the auth test
                fuzz(operation)
        assert not failures, "\n".join(failures[:20])
        assert "Traceback" not in server.log.read_text()
    finally:
        server.kill()
