"""Which axes a run sweeps, from the data: the C++ writes one axis.<key> column per axis of the
sweep, so a knob the sweep varies is never averaged without the plot saying so."""

from analysis.params import param_table

AXIS_PREFIX = "axis."
# Axes figures and tables average over instead of drawing them: the layers of a whole-model trace
# sweep (each note says so).
AVERAGED_AXES = ("layer",)


def swept_axes(points, table=None):
    """The keys of the axis.<key> columns that take more than one value among points, in
    parameter-table order (keys the table lacks last). A frame without axis.* columns (a peers run,
    a run written before them) falls back to the parameter keys whose columns take more than one
    value."""
    table = param_table(points) if table is None else table
    declared = [column[len(AXIS_PREFIX):] for column in points.columns
                if column.startswith(AXIS_PREFIX)]
    candidates = declared or [key for key in table.index if key in points.columns]
    position = {key: index for index, key in enumerate(table.index)}
    ordered = sorted(candidates, key=lambda key: (position.get(key, len(position)),
                                                  candidates.index(key)))
    return [key for key in ordered if axis_values(points, key).nunique() > 1]


def axis_values(points, key):
    """The column of an axis: the parameter's own column, else its axis.<key> column."""
    return points[key] if key in points.columns else points[AXIS_PREFIX + key]
