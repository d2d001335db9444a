"""The llama.cpp adapter reading the repository's ORIGINAL README.md tables, and downloading it.

The README is not stored in shared/ (only the curator's derived CSV is), so the parse test writes
a README-format Markdown file from that CSV -- with the original's layout quirks -- and checks the
adapter reads the same rows from it as from the CSV folder.
"""

import csv
import functools
import hashlib
import re
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import pytest

from inference_estimation.lib.data.external.adapters import llamacpp
from inference_estimation.lib.data.external.adapters.llamacpp import (
    COMMIT,
    CSV_FILE,
    LONG_COLUMNS,
    README_FILE,
    LlamaCppGpuBenchAdapter,
    parse_readme,
)
from inference_estimation.lib.data.external.base import DatasetError, RemoteFile, fetch
from tests.conftest import EXTERNAL_DATA_DIR

ADAPTER = LlamaCppGpuBenchAdapter()
FOLDER = EXTERNAL_DATA_DIR / ADAPTER.folder
NBH = "\u2011"  # the non-breaking hyphen of the README's Apple names
TEST_COLUMNS = [("text_generation", n) for n in ("512", "1024", "4096", "8192")] + [
    ("prompt_processing", n) for n in ("512", "1024", "4096", "8192")
]
HEADER = "| GPU | Model | tg 512 | tg 1024 | tg 4096 | tg 8192 | pp 512 | pp 1024 | pp 4096 | pp 8192 |"
SEPARATOR = "|" + "|".join(["---"] * 10) + "|"

# What the real README has around the LLaMA 3 tables: summary tables that repeat tg/pp 1024 (with
# other GPU spellings and "* N" counts) and older model tables. Values here are deliberately not
# the CSV's, so reading them would change the rows.
OVERVIEW = """# GPU-Benchmarks-on-LLM-Inference

## Overview

Average speed (tokens/s) of generating 1024 tokens by GPUs on LLaMA 3.

| GPU                        | 8B Q4_K_M | 8B F16 | 70B Q4_K_M | 70B F16 |
|----------------------------|-----------|--------|------------|---------|
| 3070 8GB                   | 1.11      | OOM    | OOM        | OOM     |
| H100 PCIe 80GB * 4         |**2.22**   | 3.33   | **4.44**   | **5.55**|

## Usage

```bash
# llama-bench -p 512 -n 512
| not | a | table |
```

## Benchmarks

"""
OLDER = """
### LLaMA 2

#### NVIDIA GPUs

| GPU           | Model      | tg 512 | tg 1024 | tg 4096 | tg 8192 | pp 512 | pp 1024 | pp 4096 | pp 8192 |
|---------------|------------|--------|---------|---------|---------|--------|---------|---------|---------|
| 4090 24GB     | 8B Q4_K_M  | 1.0    | 2.0     | 3.0     | 4.0     | 5.0    | 6.0     | 7.0     | 8.0     |
|               | 8B F16     | 1.0    | 2.0     | 3.0     | 4.0     | 5.0    | 6.0     | 7.0     | 8.0     |

## Conclusion

Same performance under the same size and quantization models.
"""

# A fenced block inside the section: its "#" line is no heading and its "|" line no table.
CODE_BLOCK = """```bash
# ./llama-bench -p 512,1024,4096,8192 -n 512,1024,4096,8192
| GPU | not a table |
```
"""


def _csv_rows() -> list[dict[str, str]]:
    if not FOLDER.is_dir():
        pytest.skip(f"dataset folder {FOLDER} is absent (shared/ data not checked out beside the repo)")
    with (FOLDER / CSV_FILE).open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _readme_from_csv(rows: list[dict[str, str]]) -> str:
    """The derived CSV written back as the README's LLaMA 3 section (plus what must be ignored).

    Every table row holds one GPU x count x model x quantisation; the GPU cell is empty when the
    row above names the same GPU and count; counts above 1 are written "NAME * N"; hyphens in
    Apple names become U+2011; the first value of every GPU block is bold.
    """
    sections: dict[str, dict[tuple, dict[tuple[str, str], str]]] = {}
    for row in rows:
        table = sections.setdefault(row["section"], {})
        key = (row["gpu"], row["num_gpus"], row["model"], row["quantization"])
        cell = "OOM" if row["oom"] == "True" else row["tokens_per_s"]
        table.setdefault(key, {})[(row["test"], row["num_tokens"])] = cell
    lines = [OVERVIEW, "### LLaMA 3 \U0001f999\U0001f999\U0001f999:", "", CODE_BLOCK]
    for section, table in sections.items():
        lines += [f"#### {section} (snapshots in May 2024)", "", HEADER, SEPARATOR]
        previous = None
        for (gpu, count, model, quantization), cells in table.items():
            name = gpu.replace("-", NBH) if section == "Apple Silicon" else gpu
            name = f"{name} * {count}" if count != "1" else name
            first_of_block = (gpu, count) != previous
            values = [cells[column] for column in TEST_COLUMNS]
            if first_of_block and values[0] != "OOM":
                values[0] = f"**{values[0]}**"
            size = model.removeprefix("LLaMA 3 ")
            lines.append(f"| {name if first_of_block else ''} | {size} {quantization} | " + " | ".join(values) + " |")
            previous = (gpu, count)
        lines.append("")
    lines.append(OLDER)
    return "\n".join(lines)


@pytest.fixture(scope="module")
def csv_rows():
    return _csv_rows()


@pytest.fixture
def readme_folder(tmp_path, csv_rows):
    (tmp_path / README_FILE).write_text(_readme_from_csv(csv_rows), encoding="utf-8")
    return tmp_path


def test_readme_tables_give_the_same_rows_and_records_as_the_derived_csv(readme_folder, csv_rows):
    text = (readme_folder / README_FILE).read_text(encoding="utf-8")
    # the written README carries the original's quirks the parser must handle
    assert NBH in text and "**" in text and "| OOM |" in text and " * 8 |" in text and "\n|  | " in text

    parsed, tables = parse_readme(readme_folder / README_FILE)
    assert tables == 3
    assert parsed == csv_rows  # the long rows, field by field and in order (800 rows)

    from_readme = ADAPTER.read(readme_folder)
    from_csv = ADAPTER.read(FOLDER)
    assert len(from_readme.rows) == len(from_csv.rows) == len(csv_rows)
    assert from_readme.rows == from_csv.rows and not from_readme.rejected
    assert any(README_FILE in n and "original" in n for n in from_readme.notes)


def test_readme_is_preferred_over_the_derived_csv_in_the_same_folder(readme_folder, csv_rows):
    with (readme_folder / CSV_FILE).open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(csv_rows[0]))
        writer.writeheader()
        writer.writerow(csv_rows[0])  # a one-row CSV: reading it would give 1 row, not 800
    out = ADAPTER.read(readme_folder)
    assert len(out.rows) == len(csv_rows)
    assert any(README_FILE in n for n in out.notes) and not any(CSV_FILE in n for n in out.notes)


SMALL_README = f"""## Overview

| GPU | 8B Q4_K_M | 8B F16 | 70B Q4_K_M | 70B F16 |
|-----|-----------|--------|------------|---------|
| 4090 24GB | 9.0 | 9.0 | 9.0 | 9.0 |

### LLaMA 3 \U0001f999:

#### Apple Silicon (snapshots in May 2024)

{HEADER}
{SEPARATOR}
| M1 7{NBH}Core GPU 8GB | 8B Q4_K_M | 10.20 | 9.72 | **11.77** | OOM | 94.48 | 87.26 | 96.53 | OOM |
|                       | 8B F16    | 1.00  | 2.00 | 3.00 | 4.00 | 5.00 | 6.00 | 7.00 | 8.00 |
| 3090 24GB * 2         | 70B Q4_K_M| 16.57 | 16.29 | 15.36 | 14.34 | 357.32 | 393.89 | 379.52 | 338.82 |
"""


def test_small_readme_rows_spell_values_as_the_csv_does(tmp_path):
    # no shared/ needed: checks names, counts, continuation, bold and OOM on a hand-written table
    path = tmp_path / README_FILE
    path.write_text(SMALL_README, encoding="utf-8")
    rows, tables = parse_readme(path)
    assert tables == 1 and len(rows) == 24
    first = rows[0]
    assert tuple(first) == LONG_COLUMNS  # the derived CSV's columns, in its order
    assert first == {"section": "Apple Silicon", "gpu": "M1 7-Core GPU 8GB", "num_gpus": "1", "model": "LLaMA 3 8B",
                     "quantization": "Q4_K_M", "test": "text_generation", "num_tokens": "512",
                     "tokens_per_s": "10.2", "oom": "False"}
    assert rows[2]["tokens_per_s"] == "11.77"  # bold cell
    assert rows[3]["oom"] == "True" and rows[3]["tokens_per_s"] == ""
    assert rows[8]["gpu"] == "M1 7-Core GPU 8GB" and rows[8]["quantization"] == "F16"  # continuation row
    assert rows[16]["gpu"] == "3090 24GB" and rows[16]["num_gpus"] == "2" and rows[16]["model"] == "LLaMA 3 70B"
    assert [r["test"] for r in rows[12:16]] == ["prompt_processing"] * 4


@pytest.mark.parametrize(
    ("bad_line", "message"),
    [
        ("| 4090 24GB | 8B Q4_K_M | 1.0 | 2.0 | 3.0 | 4.0 | 5.0 | 6.0 | 7.0 |", "has 9 cells, its header 10"),
        ("| 4090 24GB | 8B Q4_K_M | 1.0 | 2.0 | 3.0 | 4.0 | 5.0 | 6.0 | 7.0 | n/a |", "neither tokens/s nor OOM"),
        ("| 4090 24GB | Q4_K_M | 1.0 | 2.0 | 3.0 | 4.0 | 5.0 | 6.0 | 7.0 | 8.0 |", "model cell"),
    ],
)
def test_malformed_table_row_raises_naming_readme_and_its_line(tmp_path, bad_line, message):
    lines = SMALL_README.splitlines()
    target = next(i for i, line in enumerate(lines) if line.startswith("|                       | 8B F16"))
    lines[target] = bad_line
    path = tmp_path / README_FILE
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(DatasetError, match=rf"README\.md, line {target + 1}: .*{re.escape(message)}"):
        ADAPTER.read(tmp_path)


def test_table_without_its_separator_row_raises_instead_of_losing_a_row(tmp_path):
    lines = SMALL_README.splitlines()
    separator = lines.index(SEPARATOR)
    del lines[separator]  # the first data row now sits where the separator belongs
    path = tmp_path / README_FILE
    path.write_text("\n".join(lines), encoding="utf-8")
    with pytest.raises(DatasetError, match=rf"README\.md, line {separator + 1}: expected the header separator"):
        parse_readme(path)


def test_readme_without_the_llama3_section_or_with_an_orphan_continuation_row_raises(tmp_path):
    path = tmp_path / README_FILE
    path.write_text(SMALL_README.replace("### LLaMA 3", "### LLaMA 2"), encoding="utf-8")
    with pytest.raises(DatasetError, match=r"README\.md has no '### LLaMA 3' section"):
        parse_readme(path)
    lines = SMALL_README.splitlines()
    first = next(i for i, line in enumerate(lines) if line.startswith("| M1 7"))
    del lines[first]  # the continuation row is now the first row of its table
    path.write_text("\n".join(lines), encoding="utf-8")
    with pytest.raises(DatasetError, match=rf"line {first + 1}: empty GPU cell"):
        parse_readme(path)


def test_folder_without_readme_or_csv_names_both(tmp_path):
    with pytest.raises(DatasetError, match=rf"missing file .*README\.md .*{re.escape(CSV_FILE)}"):
        ADAPTER.read(tmp_path)


def test_the_pinned_remote_file_is_the_readme_at_the_commit():
    (remote,) = ADAPTER.remote_files
    assert remote.path == README_FILE
    assert remote.url == (
        f"https://raw.githubusercontent.com/XiongjieDai/GPU-Benchmarks-on-LLM-Inference/{COMMIT}/README.md")
    assert re.fullmatch(r"[0-9a-f]{64}", remote.sha256) and remote.sha256 == llamacpp.README_SHA256
    assert "code index" in llamacpp.__doc__  # says where the checksum came from


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args):  # keep test output clean
        pass


@pytest.fixture
def served_readme(tmp_path):
    """SMALL_README served on 127.0.0.1 (an ephemeral port) at a commit-like path; yields (url, sha)."""
    root = tmp_path / "served"
    (root / COMMIT).mkdir(parents=True)
    data = SMALL_README.encode("utf-8")
    (root / COMMIT / README_FILE).write_bytes(data)
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_QuietHandler, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/{COMMIT}/{README_FILE}", hashlib.sha256(data).hexdigest()
    server.shutdown()
    server.server_close()


def test_readme_is_downloaded_verified_and_read(served_readme, tmp_path, monkeypatch):
    url, sha = served_readme
    adapter = LlamaCppGpuBenchAdapter()
    monkeypatch.setattr(adapter, "remote_files", (RemoteFile(README_FILE, url, sha),))
    folder = fetch(adapter, tmp_path / "downloads")
    assert folder == tmp_path / "downloads" / adapter.folder
    assert (folder / README_FILE).read_bytes() == SMALL_README.encode("utf-8")
    out = adapter.read(folder)
    assert len(out.rows) == 24 and not out.rejected  # 3 table rows x 8 cells; OOM cells kept
    assert sum(r["status"] == "oom" for r in out.rows) == 2
    assert {r["hardware_key"] for r in out.rows} == {"M1 7-Core GPU 8GB", "NVIDIA GeForce RTX 3090"}


def test_readme_with_a_wrong_checksum_fails_naming_the_url(served_readme, tmp_path, monkeypatch):
    url, _ = served_readme
    adapter = LlamaCppGpuBenchAdapter()
    monkeypatch.setattr(adapter, "remote_files", (RemoteFile(README_FILE, url, "0" * 64),))
    with pytest.raises(DatasetError, match=rf"checksum mismatch for {re.escape(url)}"):
        fetch(adapter, tmp_path / "downloads")
    assert not list((tmp_path / "downloads").rglob("README.md*"))
