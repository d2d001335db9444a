"""Finding mapped rows in an adapter's output (shared by the adapter tests)."""

from typing import Any


def one_row(rows: list[dict[str, Any]], **fields: Any) -> dict[str, Any]:
    """The single row whose fields equal ``fields``; fails naming how many matched."""
    found = [r for r in rows if all(r.get(k) == v for k, v in fields.items())]
    assert len(found) == 1, f"expected one row for {fields}, found {len(found)}"
    return found[0]
