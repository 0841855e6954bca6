"""What every figure of figures.py shares beyond style.py: the caption naming the runs read, the
figure-wide legend, and the log2 context / size axes."""

import textwrap

from analysis.frames import format_value
from analysis.style import add_legend  # noqa: F401  (re-exported for the figure modules)

CAPTION_WIDTH = 120
STEP_TIME_LABEL = "decode step time (µs, median, one layer)"


def caption(letter, what, source, results_dir, details=()):
    """A figure title: what it shows, the run directories it read (and which of them stopped before
    their end), the settings held fixed."""
    lines = [f"({letter}) {what}",
             textwrap.fill(f"source: {source.describe(results_dir)}", CAPTION_WIDTH)]
    extra = (([source.note] if source.note else []) + source.stopped_notes(results_dir) +
             list(details))
    if extra:
        lines.append(textwrap.fill("; ".join(extra), CAPTION_WIDTH))
    return "\n".join(lines)


def source_sentence(source, results_dir):
    """The 'Source: ...' line of a markdown table: the runs read, the source's note and the runs
    that stopped before their end."""
    notes = ([source.note] if source.note else []) + source.stopped_notes(results_dir)
    return f"Source: {source.describe(results_dir)}." + "".join(f" {note}." for note in notes)


def context_label(context):
    """131072 -> '128k'; other values as they are."""
    text = format_value(context)
    try:
        value = int(text)
    except ValueError:
        return text
    return f"{value // 1024}k" if value >= 1024 and value % 1024 == 0 else text


def log2_axis(panel, values, labels=None):
    """A log2 x axis with a tick at each of values (numbers)."""
    panel.set_xscale("log", base=2)
    panel.set_xticks([float(v) for v in values])
    panel.set_xticklabels(labels or [format_value(v) for v in values])
    panel.minorticks_off()
