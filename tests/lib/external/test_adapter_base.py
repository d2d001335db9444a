"""The helpers every adapter shares: counting repeated rows once, reading a JSON array of rows."""

from pathlib import Path

import pytest

from inference_estimation.lib.data.external.base import Adapter, AdapterOutput, DatasetError


class _Tiny(Adapter):
    source, folder, title, license, measured_at = "tiny", "tiny_dataset", "Tiny", "CC0", "2026-01-01"

    def read(self, folder: Path) -> AdapterOutput:
        return AdapterOutput()


def test_first_time_keeps_the_first_of_a_key_and_counts_each_repeat():
    out = AdapterOutput()
    answers = [out.first_time(key, "repeat") for key in [("a", 1), ("b", 1), ("a", 1), ("a", 1), ("a", 2)]]
    assert answers == [True, True, False, False, True]
    assert out.rejected == {"repeat": 2}
    other = AdapterOutput()  # the seen keys belong to one output, not to the class
    assert other.first_time(("a", 1), "repeat") and not other.rejected


def test_read_json_list_returns_the_array_and_names_the_file_otherwise(tmp_path):
    adapter = _Tiny()
    good, not_list, broken = tmp_path / "good.json", tmp_path / "obj.json", tmp_path / "broken.json"
    good.write_text('[{"x": 1}, {"x": 2}]')
    not_list.write_text('{"x": 1}')
    broken.write_text("[{")
    assert adapter.read_json_list(good, "result rows") == [{"x": 1}, {"x": 2}]
    with pytest.raises(DatasetError, match=r"tiny: .*obj\.json is not a JSON array of result rows"):
        adapter.read_json_list(not_list, "result rows")
    with pytest.raises(DatasetError, match=r"tiny: cannot parse .*broken\.json"):
        adapter.read_json_list(broken, "result rows")
    with pytest.raises(DatasetError, match=r"cannot parse .*absent\.json"):
        adapter.read_json_list(tmp_path / "absent.json", "result rows")


def test_the_readme_table_of_public_sources_has_a_row_per_adapter_with_its_folder():
    from pathlib import Path

    from inference_estimation.lib.data.external.registry import all_adapters

    readme = (Path(__file__).resolve().parents[3] / "README.md").read_text()
    rows = {line.split("|")[1].strip().strip("`"): line for line in readme.splitlines()
            if line.startswith("| `")}
    for source, adapter in all_adapters().items():
        assert source in rows, f"README's public-sources table has no row for {source}"
        assert f"`{adapter.folder}`" in rows[source], source
