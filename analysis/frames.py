"""Operations on result frames shared by the figures and tables: the values a column takes,
which metric columns have data, and cells for display."""

import math

import numpy as np
import pandas as pd


def distinct_values(points, column):
    """The values column takes among points (missing cells left out), sorted: numbers numerically,
    names as text. [] when the frame has no such column."""
    if column not in points.columns:
        return []
    values = points[column].dropna().unique().tolist()
    try:
        return sorted(values)
    except TypeError:  # a column mixing numbers and names
        return sorted(values, key=str)


def is_numeric_column(points, column):
    """Whether the column holds numbers (booleans and names are categories)."""
    dtype = points[column].dtype
    return pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype)


def numeric(points, column):
    """The column as numbers (NaN where a cell is empty, not a number, or not finite; all NaN when
    the frame has no such column)."""
    if column not in points.columns:
        return pd.Series(np.nan, index=points.index)
    values = pd.to_numeric(points[column], errors="coerce")
    return values.where(np.isfinite(values))


def present_columns(points, columns):
    """Those of columns that have at least one number among points."""
    return [column for column in columns
            if column in points.columns and numeric(points, column).notna().any()]


def with_any(points, columns):
    """The rows with a number in at least one of columns, so that a knob is never pinned to a value
    only rows without data hold."""
    present = [column for column in columns if column in points.columns]
    if not present:
        return points.iloc[0:0]
    return points[pd.concat([numeric(points, c) for c in present], axis=1).notna().any(axis=1)]


def format_value(value):
    """A cell for display: integers without a decimal point, other numbers to 4 significant digits,
    booleans as the CSV writes them, a missing cell empty."""
    if not isinstance(value, str) and pd.isna(value):
        return ""
    if isinstance(value, (bool, np.bool_)):
        return "true" if value else "false"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        if not math.isfinite(value):
            return ""
        if value == int(value) and abs(value) < 1e15:
            return str(int(value))
        return f"{value:.4g}"
    return str(value)


def markdown_table(header, body):
    """A markdown table of header (names) and body (rows of display strings)."""
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(" --- " for _ in header) + "|"]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in body]
    return "\n".join(lines)
