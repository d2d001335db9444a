"""The canonical CSV format: users' own measurements, validated with file, line and column."""

import duckdb
import pytest

from inference_estimation.lib.catalog import load_catalog
from inference_estimation.lib.data.external.canonical import (
    CanonicalFormatError,
    read_canonical_csv,
    to_records,
)
from inference_estimation.lib.data.external.importer import import_canonical_csvs

GOOD = """source,model_key,hardware_key,engine,dtype,batch_size,input_tokens,output_tokens,tpot_s,output_throughput_tok_s,avg_power_w,power_source,power_scope
my-lab,meta-llama/Llama-3.1-8B-Instruct,NVIDIA H100 80GB HBM3,vllm,bfloat16,8,512,128,0.012,650,540,nvml-power,device
my-lab,llama-3.1-70b,AMD Instinct MI300X,vllm,bfloat16,8,512,128,0.030,260,,none,
"""


@pytest.fixture(scope="module")
def catalog():
    return load_catalog(overlay_dirs=[])


def _write(tmp_path, text, name="mine.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_hand_written_csv_resolves_vendor_spellings_and_keeps_nulls(tmp_path, catalog):
    rows = read_canonical_csv(_write(tmp_path, GOOD))
    records, rejected = to_records(rows, catalog, origin="mine.csv", strict=True)
    assert not rejected
    assert [r.model_key for r in records] == ["llama-3.1-8b", "llama-3.1-70b"]
    assert [r.hardware_key for r in records] == ["nvidia-h100-sxm-80gb", "amd-mi300x"]
    assert records[1].avg_power_w is None and records[1].power_source == "none"
    assert records[0].run_id == records[1].run_id and records[0].run_id.startswith("my-lab-")


def test_unknown_column_is_rejected_naming_file_and_column(tmp_path):
    path = _write(tmp_path, "source,model_key,hardware_key,tpot_ms\nx,gpt2-small,local-cpu,12\n")
    with pytest.raises(CanonicalFormatError, match=r"mine.csv: line 1: unknown column\(s\) \['tpot_ms'\]"):
        read_canonical_csv(path)


def test_non_numeric_metric_names_line_and_column(tmp_path):
    path = _write(tmp_path, "source,model_key,hardware_key,batch_size,tpot_s\nx,gpt2-small,local-cpu,1,0.1\n"
                            "x,gpt2-small,local-cpu,two,0.1\n")
    with pytest.raises(CanonicalFormatError, match=r"mine.csv: line 3, column 'batch_size'"):
        read_canonical_csv(path)


def test_unknown_hardware_names_line_column_and_closest_keys(tmp_path, catalog):
    path = _write(tmp_path, "source,model_key,hardware_key,tpot_s\nx,gpt2-small,local-cpu,0.1\n"
                            "x,gpt2-small,H100 SXM5 80GB HBM3e,0.1\n")
    with pytest.raises(CanonicalFormatError, match=r"line 3, column 'hardware_key'.*closest"):
        to_records(read_canonical_csv(path), catalog, origin=str(path), strict=True)


def test_negative_metric_is_rejected_with_its_field(tmp_path, catalog):
    path = _write(tmp_path, "source,model_key,hardware_key,tpot_s\nx,gpt2-small,local-cpu,-0.1\n")
    with pytest.raises(CanonicalFormatError, match=r"line 2, column 'tpot_s'.*negative"):
        to_records(read_canonical_csv(path), catalog, origin=str(path), strict=True)


def test_row_without_any_metric_is_rejected(tmp_path, catalog):
    path = _write(tmp_path, "source,model_key,hardware_key,tpot_s,batch_size\nx,gpt2-small,local-cpu,,4\n")
    with pytest.raises(CanonicalFormatError, match="no metric"):
        to_records(read_canonical_csv(path), catalog, origin=str(path), strict=True)


def test_lenient_mode_counts_rejects_by_reason_instead_of_failing(tmp_path, catalog):
    path = _write(tmp_path, "source,model_key,hardware_key,tpot_s\nx,gpt2-small,local-cpu,0.1\n"
                            "x,gpt2-small,quantum-computer,0.1\nx,no-model,local-cpu,0.1\n")
    records, rejected = to_records(read_canonical_csv(path), catalog, origin="x", strict=False)
    assert len(records) == 1
    assert rejected == {"unknown hardware 'quantum-computer'": 1, "unknown model 'no-model'": 1}


def test_importing_the_same_csv_twice_lands_once_and_a_bad_file_lands_nothing(tmp_path, catalog):
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    good = _write(tmp_path, GOOD)
    first = import_canonical_csvs([good], catalog, con, tmp_path / "parquet")
    again = import_canonical_csvs([good], catalog, con, tmp_path / "parquet")
    assert (first.rows_landed, again.rows_landed) == (2, 0)
    bad = _write(tmp_path, "source,model_key,hardware_key,tpot_s\nx,gpt2-small,local-cpu,oops\n", "bad.csv")
    with pytest.raises(CanonicalFormatError, match="bad.csv"):
        import_canonical_csvs([good, bad], catalog, con, tmp_path / "parquet")
    assert con.execute("select count(*) from raw.external_runs").fetchone()[0] == 2


def test_two_rows_resolving_to_the_same_point_keep_the_first_or_fail_strictly_naming_both(tmp_path, catalog):
    path = _write(tmp_path, "source,model_key,hardware_key,batch_size,tpot_s\n"
                            "x,meta-llama/Llama-3.1-8B-Instruct,local-cpu,1,0.1\nx,llama-3.1-8b,local-cpu,1,0.2\n")
    records, rejected = to_records(read_canonical_csv(path), catalog, origin="x", strict=False)
    assert [r.tpot_s for r in records] == [0.1]
    assert rejected == {"duplicate workload point after name resolution": 1}
    with pytest.raises(CanonicalFormatError, match=r"line 3, column 'model_key': same workload point as .*line 2"):
        to_records(read_canonical_csv(path), catalog, origin=str(path), strict=True)


def test_deployment_flags_are_read_as_booleans_and_a_bad_flag_names_line_and_column(tmp_path, catalog):
    text = ("source,model_key,hardware_key,device_count,prefill_device_count,decode_device_count,"
            "disaggregated_prefill_decode,speculative_decoding,node_count,ttft_s\n"
            "lab,llama-3.1-70b,H100,16,8,8,TRUE,mtp,2,0.5\n"
            "lab,llama-3.1-70b,H100,8,,,false,none,1,0.4\n")
    records, _ = to_records(read_canonical_csv(_write(tmp_path, text)), catalog, origin="mine.csv", strict=True)
    assert [r.disaggregated_prefill_decode for r in records] == [True, False]
    assert records[0].decode_device_count == 8 and records[0].node_count == 2
    bad = _write(tmp_path, text.replace("TRUE", "maybe"), name="bad.csv")
    with pytest.raises(CanonicalFormatError, match=r"bad.csv: line 2, column 'disaggregated_prefill_decode'"):
        read_canonical_csv(bad)


def test_a_users_file_names_every_bad_cell_in_one_pass_with_the_messages_predict_gives(tmp_path, catalog):
    from inference_estimation.lib.catalog.vocabulary import VocabularyError, canonical_engine
    from inference_estimation.lib.data.external.canonical import check_canonical_csv

    path = _write(tmp_path, "source,model_key,hardware_key,engine,dtype,batch_size,tpot_s\n"
                            "x,gpt2-small,local-cpu,atom,bfloat16,1,0.1\n"          # line 2: AMD's ATOM is an engine
                            "x,gpt2-small,local-cpu,warp-drive,fp6,two,0.1\n"      # line 3: three bad cells
                            "x,gpt2-small,quantum-computer,vllm,bfloat16,1,0.1\n")  # line 4: unknown hardware
    with pytest.raises(CanonicalFormatError) as caught:
        check_canonical_csv(path, catalog)
    lines = str(caught.value).splitlines()
    assert len(lines) == 4 and all(line.startswith(f"{path}: line ") for line in lines)
    assert [line.split(",")[0].rsplit(" ", 1)[1] for line in lines] == ["3", "3", "3", "4"]  # file order
    text = str(caught.value)
    assert "line 3, column 'batch_size': 'two' is not an integer" in text
    with pytest.raises(VocabularyError) as predicts:
        canonical_engine("warp-drive")
    assert f"line 3, column 'engine': {str(predicts.value).split(': ', 1)[1]}" in text  # predict's own words
    assert "line 3, column 'dtype': 'fp6' is not a known dtype" in text
    assert "line 4, column 'hardware_key': unknown hardware 'quantum-computer'" in text


def test_a_bad_users_file_lands_nothing_and_keeps_what_was_stored(tmp_path, catalog):
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    good = _write(tmp_path, GOOD, "a.csv")
    first = import_canonical_csvs([good], catalog, con, tmp_path / "parquet")
    bad = _write(tmp_path, GOOD.replace("vllm,bfloat16,8,512,128,0.030", "atom,fp6,8,512,128,0.030"), "b.csv")
    with pytest.raises(CanonicalFormatError, match="column 'dtype': 'fp6' is not a known dtype"):
        import_canonical_csvs([bad], catalog, con, tmp_path / "parquet")
    assert con.execute("select count(*) from raw.external_runs").fetchone()[0] == first.rows_landed == 2


def test_every_record_problem_of_a_row_is_named_in_one_pass(tmp_path, catalog):
    path = _write(tmp_path, "source,model_key,hardware_key,tpot_s,avg_power_w,power_source,batch_size\n"
                            "x,gpt2-small,local-cpu,-0.1,50,bogus-meter,0\n")
    with pytest.raises(CanonicalFormatError) as err:
        to_records(read_canonical_csv(path), catalog, origin=str(path), strict=True)
    text = str(err.value)
    for column in ("power_source", "tpot_s", "batch_size"):
        assert f"line 2, column '{column}'" in text, column
