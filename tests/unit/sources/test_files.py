"""File sources read for real by DuckDB: good files, and bad data named by file and line."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import pytest

from dango_provider.config.model import CsvOptions, LocalFilesOptions, Source
from dango_provider.exceptions import DangoError, SourceDataError
from dango_provider.sources.files import FILE_COLUMN, copy_to_parquet, file_format, list_files, primary_key, table_name

PNG_HEADER = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x10\x00\x00\x00\x10\x08\x06\x00\x00\x00\x1f\xf3\xffa"


@pytest.fixture
def root(tmp_path) -> Path:
    (tmp_path / "data").mkdir()
    return tmp_path


def write(root: Path, name: str, content: str | bytes) -> Path:
    path = root / "data" / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8", newline="")
    return path


def rows(options: CsvOptions, files: list[Path], root: Path) -> list[dict]:
    out = root / "out.parquet"
    count = copy_to_parquet(options, files, root, out, load_id="123.4", rename=str)
    table = pq.read_table(out)
    assert table.num_rows == count
    assert set(table.column("_dlt_load_id").to_pylist()) == {"123.4"}
    # the reader does not keep the files' order (preserve_insertion_order is off): sorted by file here, a
    # file's own rows as read
    return sorted(table.drop_columns(["_dlt_load_id"]).to_pylist(), key=lambda row: row[FILE_COLUMN])


def read_error(options: CsvOptions, files: list[Path], root: Path) -> str:
    with pytest.raises(SourceDataError) as info:
        rows(options, files, root)
    assert isinstance(info.value, DangoError)
    assert not (root / "out.parquet").exists(), "a failed read leaves no parquet file to import"
    return str(info.value)


CSV = CsvOptions(directory="data")


def test_columns_are_renamed_and_a_true_clash_names_the_pair_and_file(root):
    from dlt.common.normalizers.naming.snake_case import NamingConvention

    from dango_provider.sources.files import column_namer

    rename = column_namer(NamingConvention().normalize_identifier)
    path = write(root, "orders.csv", "Order ID,Total Amount,名前,住所,prix (€),prix ($)\n1,9.5,a,b,1,2\n")
    out = root / "out.parquet"
    copy_to_parquet(CSV, [path], root, out, load_id="1", rename=rename)
    assert pq.read_schema(out).names == ["order_id", "total_amount", "u540d_u524d", "u4f4f_u6240", "prix_u20acx",
                                         "prixx", FILE_COLUMN, "_dlt_load_id"]

    clash = write(root, "clash.csv", "Order ID,order_id\n1,2\n")
    with pytest.raises(SourceDataError) as info:
        copy_to_parquet(CSV, [clash], root, out, load_id="1", rename=rename)
    assert str(info.value) == (f"{clash}: columns 'Order ID' and 'order_id' both become 'order_id' in the warehouse "
                               "(names are lower snake_case there); rename one of them in the file")


def test_good_files_give_rows_with_the_file_column(root):
    first = write(root, "orders_1.csv", "order_id,status,amount\n1,new,9.5\n2,paid,20\n")
    second = write(root, "orders_2.csv", "order_id,status,amount\n3,new,1.25\n")

    assert rows(CSV, [first, second], root) == [
        {"order_id": 1, "status": "new", "amount": 9.5, FILE_COLUMN: "data/orders_1.csv"},
        {"order_id": 2, "status": "paid", "amount": 20.0, FILE_COLUMN: "data/orders_1.csv"},
        {"order_id": 3, "status": "new", "amount": 1.25, FILE_COLUMN: "data/orders_2.csv"},
    ]


def test_files_with_different_columns_are_unioned_by_name(root):
    first = write(root, "a.csv", "id,name\n1,x\n")
    second = write(root, "b.csv", "name,id,extra\ny,2,e\n")

    assert rows(CSV, [first, second], root) == [
        {"id": 1, "name": "x", "extra": None, FILE_COLUMN: "data/a.csv"},
        {"id": 2, "name": "y", "extra": "e", FILE_COLUMN: "data/b.csv"},
    ]


def test_quoted_fields_with_delimiters_and_newlines(root):
    path = write(root, "notes.csv", 'id,note\n1,"a, b"\n2,"two\nlines"\n3,"say ""hi"""\n')

    assert [r["note"] for r in rows(CSV, [path], root)] == ["a, b", "two\nlines", 'say "hi"']


def test_delimiter_option(root):
    path = write(root, "semi.csv", "id;name\n1;x,y\n")

    assert rows(CsvOptions(directory="data", delimiter=";"), [path], root) == [
        {"id": 1, "name": "x,y", FILE_COLUMN: "data/semi.csv"}
    ]


def test_row_with_too_many_fields(root):
    good = write(root, "orders_1.csv", "id,name\n1,x\n")
    bad = write(root, "orders_2.csv", "id,name\n1,x\n2,y\n3,z,surprise\n4,w\n")

    assert read_error(CSV, [good, bad], root) == (
        f"{bad}:4: ragged row: expected 2 fields like the header, found 3; nothing from this load was written"
    )


def test_row_with_too_few_fields(root):
    bad = write(root, "customers.csv", "id,name,country\n1,x,NL\n2,y\n3,z,DE\n")

    assert read_error(CSV, [bad], root) == (
        f"{bad}:3: ragged row: expected 3 fields like the header, found 2; nothing from this load was written"
    )




def test_ragged_rows_to_the_end_of_the_file_are_not_read_as_a_new_header(root):
    bad = write(root, "orders.csv", "id,name\n1,x\n2,y,extra\n3,z,more\n4,w,again\n")

    assert read_error(CSV, [bad], root) == (
        f"{bad}:3: ragged row: expected 2 fields like the header, found 3; nothing from this load was written"
    )


def test_ragged_row_after_a_multi_line_field_names_its_physical_line(root):
    bad = write(root, "notes.csv", 'id,note\n1,"two\nlines"\n2,ok,extra\n')

    assert read_error(CSV, [bad], root) == (
        f"{bad}:4: ragged row: expected 2 fields like the header, found 3; nothing from this load was written"
    )


def test_header_only_file(root):
    good = write(root, "a.csv", "id,name\n1,x\n")
    empty = write(root, "b.csv", "id,name\n")

    assert read_error(CSV, [good, empty], root) == f"{empty}: the file has a header but no data rows"


def test_zero_byte_file(root):
    good = write(root, "a.csv", "id,name\n1,x\n")
    empty = write(root, "b.csv", b"")

    assert read_error(CSV, [good, empty], root) == (
        f"{empty}: the file is empty (0 bytes); remove it or give it a header and rows"
    )


def test_latin1_bytes_in_a_utf8_source(root):
    path = write(root, "customers.csv", "id,city\n1,Berlin\n2,Malmö\n3,Paris\n".encode("latin-1"))
    offset = path.read_bytes().index(b"\xf6")

    assert read_error(CSV, [path], root) == (
        f"{path}:3: not utf-8 text (byte 0xf6 at offset {offset}); set csv.encoding"
    )


def test_latin1_source_reads_with_its_encoding(root):
    path = write(root, "customers.csv", "id,city\n1,Malmö\n".encode("latin-1"))

    assert rows(CsvOptions(directory="data", encoding="latin-1"), [path], root) == [
        {"id": 1, "city": "Malmö", FILE_COLUMN: "data/customers.csv"}
    ]


def test_binary_file_named_csv(root):
    good = write(root, "a.csv", "id\n1\n")
    binary = write(root, "logo.csv", PNG_HEADER + bytes(range(256)))

    assert read_error(CSV, [good, binary], root) == (
        f"{binary}:1: not utf-8 text (byte 0x89 at offset 0); set csv.encoding"
    )


def test_unterminated_quote(root):
    path = write(root, "a.csv", 'id,name\n1,"open\n2,y\n')

    assert read_error(CSV, [path], root) == f"{path}:3: malformed CSV: unexpected end of data"


def test_jsonl_local_files(root):
    path = write(root, "events.jsonl", '{"id": 1, "kind": "click"}\n{"id": 2, "kind": "view"}\n')
    options = LocalFilesOptions(directory="data", format="jsonl")

    assert rows(options, [path], root) == [
        {"id": 1, "kind": "click", FILE_COLUMN: "data/events.jsonl"},
        {"id": 2, "kind": "view", FILE_COLUMN: "data/events.jsonl"},
    ]
    assert file_format(LocalFilesOptions(directory="data"), path) == "jsonl"


def test_local_files_with_unknown_extension(root):
    path = write(root, "events.xml", "<x/>")

    with pytest.raises(SourceDataError) as info:
        file_format(LocalFilesOptions(directory="data"), path)
    assert str(info.value) == (
        f"{path}: cannot tell the file format from the extension '.xml'; "
        "set local_files.format to csv, jsonl or parquet"
    )


def test_files_outside_the_project_root(tmp_path, root):
    outside = tmp_path / "shared"
    outside.mkdir()
    path = outside / "orders.csv"
    path.write_text("id\n1\n")
    project = root / "project"
    project.mkdir()

    assert rows(CsvOptions(directory=str(outside)), [path], project) == [{"id": 1, FILE_COLUMN: str(path)}]


def test_list_files_table_and_key(root):
    write(root, "b.csv", "id\n1\n")
    write(root, "a.csv", "id\n1\n")
    write(root, "notes.txt", "not data")
    (root / "data" / "sub.csv").mkdir()
    source = Source(name="orders", type="csv", primary_key=["order_id", "line"],
                    csv=CsvOptions(directory="data", table="order_lines"))

    file_set = list_files(source, root / "data")

    assert file_set.files == [root / "data" / "a.csv", root / "data" / "b.csv"]
    assert (file_set.source, file_set.table) == ("orders", "order_lines")
    assert table_name(source) == "order_lines" and primary_key(source) == ["order_id", "line"]
    csv_key = Source(name="orders", type="csv", csv=CsvOptions(directory="data", primary_key="order_id"))
    assert (table_name(csv_key), primary_key(csv_key)) == ("orders", ["order_id"])


def test_list_files_missing_directory(root):
    source = Source(name="orders", type="csv", csv=CsvOptions(directory="data/missing"))

    with pytest.raises(SourceDataError) as info:
        list_files(source, root / "data" / "missing")
    assert str(info.value) == (
        f"sources.orders.csv.directory: directory '{root / 'data' / 'missing'}' does not exist (source 'orders')"
    )
