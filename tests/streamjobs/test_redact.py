"""Secrets in URLs and in JSON documents are masked wherever they sit."""

from __future__ import annotations

import pytest

from streamjobs.redact import MASK, address, mask_document, mask_url


@pytest.mark.parametrize(
    ("url", "masked"),
    [
        ("postgresql://app:hunter2@db:5432/x", f"postgresql://app:{MASK}@db:5432/x"),
        ("postgresql://app:p%40ss:w@db/x", f"postgresql://app:{MASK}@db/x"),
        ("postgresql://app@db/x?password=hunter2", f"postgresql://app@db/x?password={MASK}"),
        (
            "postgresql://db/x?sslmode=require&sslpassword=a&user=app",
            f"postgresql://db/x?sslmode=require&sslpassword={MASK}&user=app",
        ),
        ("https://h/p?api_key=k&Token=t", f"https://h/p?api_key={MASK}&Token={MASK}"),
        ("postgresql://app@db/x", "postgresql://app@db/x"),
        ("http://[::1:bad/", MASK),
    ],
)
def test_mask_url_hides_the_password_and_secret_query_values(url: str, masked: str) -> None:
    assert mask_url(url) == masked


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql+psycopg://app:hunter2@127.0.0.1:54329/x?password=y", "127.0.0.1:54329/x"),
        ("postgresql://app:hunter2@[::1]/x", "[::1]/x"),
        (
            "postgresql:///x?host=/run/pg&password=y",
            f"postgresql:///x?host=/run/pg&password={MASK}",
        ),
    ],
)
def test_address_keeps_only_where_a_url_points(url: str, shown: str) -> None:
    assert address(url) == shown


def test_mask_document_hides_secret_fields_at_any_depth_and_url_passwords() -> None:
    document = {
        "invoice": "inv_1",
        "API_Key": "sk_live_1",
        "customer": {"password": "hunter2", "name": "Ada", "tokens": ["t1", "t2"]},
        "hooks": [{"x-auth-token": "abc", "url": "https://user:pw@example.com/h?secret=s"}],
        "count": 3,
    }
    assert mask_document(document) == {
        "invoice": "inv_1",
        "API_Key": MASK,
        "customer": {"password": MASK, "name": "Ada", "tokens": MASK},
        "hooks": [
            {"x-auth-token": MASK, "url": f"https://user:{MASK}@example.com/h?secret={MASK}"}
        ],
        "count": 3,
    }
