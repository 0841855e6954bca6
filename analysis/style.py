"""One look for every unisparse figure. Import this before pyplot: it selects the headless backend."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402  (after the backend is chosen)

COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2",
          "#7f7f7f", "#bcbd22", "#17becf"]
# Backends differ by line style and marker, series values by colour.
BACKEND_LINESTYLES = {"cpu": "-", "cuda": "--"}
OTHER_LINESTYLES = [":", "-."]
BACKEND_MARKERS = {"cpu": "o", "cuda": "s"}
OTHER_MARKERS = ["^", "D", "v", "P"]

plt.rcParams.update({
    "figure.dpi": 110,
    "savefig.dpi": 150,
    "font.size": 9,
    "axes.titlesize": 9,
    "axes.labelsize": 9,
    "legend.fontsize": 8,
    "figure.titlesize": 11,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "lines.linewidth": 1.6,
    "lines.markersize": 5,
})


def color(index):
    return COLORS[index % len(COLORS)]


def linestyle(backend, backends):
    if backend in BACKEND_LINESTYLES:
        return BACKEND_LINESTYLES[backend]
    others = [b for b in backends if b not in BACKEND_LINESTYLES]
    return OTHER_LINESTYLES[others.index(backend) % len(OTHER_LINESTYLES)]


def marker(backend, backends):
    if backend in BACKEND_MARKERS:
        return BACKEND_MARKERS[backend]
    others = [b for b in backends if b not in BACKEND_MARKERS]
    return OTHER_MARKERS[others.index(backend) % len(OTHER_MARKERS)]


def new_figure(num_panels):
    """A figure with num_panels axes, two per row, and room on the right for one legend."""
    columns = 1 if num_panels == 1 else 2
    rows = (num_panels + columns - 1) // columns
    figure, axes = plt.subplots(rows, columns, figsize=(4.6 * columns + 1.8, 3.3 * rows + 0.6),
                                layout="constrained", squeeze=False)
    flat = list(axes.flat)
    for unused in flat[num_panels:]:
        unused.set_visible(False)
    return figure, flat[:num_panels]


def save(figure, path_without_extension, formats=("png", "pdf")):
    """Writes the figure once per format and returns the paths written."""
    paths = []
    for extension in formats:
        path = f"{path_without_extension}.{extension}"
        # No creation date in PDFs, so that re-plotting unchanged results changes no file.
        metadata = {"CreationDate": None} if extension == "pdf" else None
        figure.savefig(path, metadata=metadata)
        paths.append(path)
    plt.close(figure)
    return paths


def add_legend(figure, panels, columns=4):
    """One legend below the panels, each label once."""
    labels_to_handles = {}
    for panel in panels:
        for handle, label in zip(*panel.get_legend_handles_labels()):
            labels_to_handles.setdefault(label, handle)
    if labels_to_handles:
        figure.legend(labels_to_handles.values(), labels_to_handles.keys(), loc="outside lower center",
                      ncols=min(columns, len(labels_to_handles)), frameon=False)
