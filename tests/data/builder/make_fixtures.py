"""Writes the asset-builder workbook fixtures (people.xlsx, people.xls) used by tests/builder.rs.

Run once, in a venv: python3 -m venv /tmp/v && /tmp/v/bin/pip install openpyxl==3.1.5 xlwt==1.3.0
&& /tmp/v/bin/python tests/data/builder/make_fixtures.py
"""
import datetime
import os

import openpyxl
import xlwt

HERE = os.path.dirname(os.path.abspath(__file__))
HEADER = ["id", "name", "score", "joined", "active", "note"]
ROWS = [
    ["p-1", "Zoë Ünal", 3, datetime.datetime(2024, 2, 29), True, "likes <b>bold</b>"],
    [2, "李雷", 2.5, datetime.datetime(2023, 12, 31, 8, 30), False, ""],
    None,  # a fully empty row: skipped
    ["p-3", "O'Brien, \"Pat\"", -7, datetime.datetime(2000, 1, 1), True, "multi\nline"],
]
OTHER_HEADER = ["key", "value"]
OTHER_ROWS = [["a", "1"], ["b", "2"]]


def xlsx():
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "People"
    ws.append(HEADER)
    for row in ROWS:
        ws.append(row if row is not None else [])
    other = wb.create_sheet("Other")
    other.append(OTHER_HEADER)
    for row in OTHER_ROWS:
        other.append(row)
    wb.save(os.path.join(HERE, "people.xlsx"))


def xls():
    wb = xlwt.Workbook(encoding="utf-8")
    date = xlwt.easyxf(num_format_str="YYYY-MM-DD")
    stamp = xlwt.easyxf(num_format_str="YYYY-MM-DD HH:MM:SS")
    ws = wb.add_sheet("People")
    for c, name in enumerate(HEADER):
        ws.write(0, c, name)
    r = 1
    for row in ROWS:
        if row is not None:
            for c, value in enumerate(row):
                if isinstance(value, datetime.datetime):
                    ws.write(r, c, value, stamp if value.hour or value.minute else date)
                else:
                    ws.write(r, c, value)
        r += 1
    other = wb.add_sheet("Other")
    for c, name in enumerate(OTHER_HEADER):
        other.write(0, c, name)
    for r, row in enumerate(OTHER_ROWS, start=1):
        for c, value in enumerate(row):
            other.write(r, c, value)
    wb.save(os.path.join(HERE, "people.xls"))


if __name__ == "__main__":
    xlsx()
    xls()
