"""The metric columns of a results row (README "Results") that figures and tables draw, with their
labels. Parameters are labelled by the parameter table (params.py); metrics are not parameters."""

ACCURACY_METRICS = ["out_rel_l2_mean", "attn_recall", "page_recall", "needle_hit"]
TIME_METRICS = ["time_us", "time_selector_us", "time_attention_us", "time_prefill_us",
                "achieved_gbps"]

METRIC_LABELS = {
    "out_rel_l2_mean": "output error, mean relative L2",
    "attn_recall": "attention recall (share of mass)",
    "page_recall": "page recall (share of oracle pages)",
    "needle_hit": "needle hit rate (share of step×head)",
    "time_us": "time (µs, median)",
}
