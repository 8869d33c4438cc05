"""Pictures of an analysis (``right_sizing.py``): a run's timeline, a plate's cost and utilisation.

Each picture comes as a PNG (matplotlib: for a report, a ticket, the README) and as a self-contained
interactive HTML page (plotly, with plotly.js inside it, so it opens offline: hover for every figure,
zoom, hide a status). Both are drawn from the analysis' own dict, so the picture and the XCom cannot
disagree. The libraries are the optional extra ``pictures``: ``pip install 'airflow-provider-omics[pictures]'``.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from typing import Any

STATUS_COLOURS = {"COMPLETED": "#2e7d32", "FAILED": "#c62828", "CANCELLED": "#9e9e9e", "CACHED": "#90caf9"}
OTHER_COLOUR = "#f9a825"  # a status the service may add later
EXTRA = "pip install 'airflow-provider-omics[pictures]'"


def run_timeline(report: Mapping[str, Any]) -> dict[str, bytes]:
    """``timeline.png`` and ``timeline.html``: each task a bar from its start to its end on the run's clock,
    coloured by status and labelled with its instance and what it used of it; beside it, peak CPU and memory
    as a share of what was reserved."""
    rows = [_task_row(task) for task in report["tasks"]]
    title = _run_title(report)
    return {"timeline.png": _timeline_png(rows, title), "timeline.html": _timeline_html(rows, title)}


def plate_chart(plate: Mapping[str, Any]) -> dict[str, bytes]:
    """``plate.png`` and ``plate.html``: per sample, its cost by task (its task hours when no price was read),
    and its peak CPU and memory utilisation per task, as heat maps."""
    grid, title = plate_grid(plate)
    return {"plate.png": _plate_png(grid, title), "plate.html": _plate_html(grid, title)}


def plate_grid(plate: Mapping[str, Any]) -> tuple[dict[str, Any], str]:
    """What both pictures of a plate draw, and their title."""
    samples = plate["samples"]
    names = sorted({name for sample in samples for name in sample["tasks"]})
    priced = all(sample["usd"] for sample in samples)
    grid = {
        "labels": [sample["name"] or sample["runId"] for sample in samples],
        "names": names,
        "measure": "USD" if priced else "task hours",
        "bars": {
            name: [
                (task["usd"] if priced else task["seconds"] / 3600) if (task := sample["tasks"].get(name)) else 0
                for sample in samples
            ]
            for name in names
        },
        "cpu": [[_percent(sample["tasks"].get(name, {}).get("cpu")) for name in names] for sample in samples],
        "memory": [[_percent(sample["tasks"].get(name, {}).get("memory")) for name in names] for sample in samples],
    }
    return grid, _plate_title(plate)


# ---- what is drawn ----------------------------------------------------------------------------------
def _task_row(task: Mapping[str, Any]) -> dict[str, Any]:
    status = "CACHED" if task["cacheHit"] else task["status"]
    used, reserved, recommended = task["used"] or {}, task["reserved"], task["recommended"] or {}
    label = task["instanceType"] or ""
    if used:
        label += (
            f"  {used['cpusMaximum']:g}/{reserved['cpus']:g} CPU, {used['memoryMaximumGiB']:g}/"
            f"{reserved['memoryGiB']:g} GiB"
        )
    if recommended and recommended.get("instanceType") != task["instanceType"]:
        label += f"  -> {recommended['instanceType']}"
    utilization = task["utilization"] or {}
    return {
        "name": task["name"],
        "status": status,
        "start": task["startSeconds"] or 0,
        "seconds": task["seconds"] or 0,
        "label": label,
        "cpu": _percent(utilization.get("cpu")),
        "memory": _percent(utilization.get("memory")),
        "usd": (task["usd"] or {}).get("now"),
    }


def _run_title(report: Mapping[str, Any]) -> str:
    title = f"Run {report['runId']} {report.get('name') or ''}: {_duration(report.get('seconds'))}"
    return title + _costs(report.get("usd") or {}, "")


def _plate_title(plate: Mapping[str, Any]) -> str:
    totals = plate["totals"]
    sizing = f" at p{plate['percentile']:g} + {plate['headroom']:.0%}"
    return f"{totals['runs']} runs, {totals['tasks']} tasks" + _costs(totals, sizing)


def _costs(cost: Mapping[str, Any], sizing: str) -> str:
    """``, USD 0.0154 compute (44% idle), USD 0.0020 to save`` (or ``more to fit every task``, when the
    recommended instances cost more than those reserved), or nothing without prices."""
    if cost.get("compute") is None:
        return ""
    idle = f" ({cost['idleShare']:.0%} idle)" if cost.get("idleShare") is not None else ""
    saving = cost["saving"]
    change = f"USD {saving:.4f} to save" if saving >= 0 else f"USD {-saving:.4f} more to fit every task"
    return f", USD {cost['compute']:.4f} compute{idle}, {change}{sizing}"


def _percent(ratio: float | None) -> float | None:
    return round(ratio * 100, 1) if ratio is not None else None


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    minutes, rest = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{rest:02d}s" if minutes else f"{rest}s"


# ---- PNG (matplotlib) -------------------------------------------------------------------------------
def _pyplot() -> Any:
    try:
        import matplotlib
    except ImportError as missing:
        raise ImportError(f"pictures need matplotlib and plotly: {EXTRA}") from missing
    matplotlib.use("Agg")  # no screen on a worker
    import matplotlib.pyplot as plt

    return plt


def _png(figure: Any) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    _pyplot().close(figure)
    return buffer.getvalue()


def _timeline_png(rows: Sequence[Mapping[str, Any]], title: str) -> bytes:
    plt = _pyplot()
    height = 1.2 + 0.45 * len(rows)
    figure, (bars, used) = plt.subplots(
        1, 2, figsize=(13, height), sharey=True, gridspec_kw={"width_ratios": [4, 1], "wspace": 0.04}
    )
    ys = list(range(len(rows)))
    end = max((row["start"] + row["seconds"] for row in rows), default=1) or 1
    for y, row in zip(ys, rows, strict=True):
        colour = STATUS_COLOURS.get(row["status"], OTHER_COLOUR)
        bars.barh(y, max(row["seconds"], end / 400), left=row["start"], color=colour, height=0.6)
        bars.text(row["start"] + row["seconds"] + end / 100, y, row["label"], va="center", fontsize=8)
    bars.set_yticks(ys, [row["name"] for row in rows], fontsize=9)
    bars.invert_yaxis()
    bars.set_xlim(0, end * 1.8)  # room for the labels
    bars.set_xlabel("seconds since the run started")
    figure.suptitle(title, fontsize=10, x=0.01, y=0.98 + 0.2 / height, ha="left")  # above the panels' titles
    shown = [status for status in STATUS_COLOURS if status in {row["status"] for row in rows}]
    handles = [plt.Rectangle((0, 0), 1, 1, color=STATUS_COLOURS[status]) for status in shown]
    for offset, key, colour in ((-0.15, "cpu", "#1565c0"), (0.15, "memory", "#6a1b9a")):
        used.barh([y + offset for y in ys], [row[key] or 0 for row in rows], height=0.3, color=colour)
        handles.append(plt.Rectangle((0, 0), 1, 1, color=colour))
    labels = [status.lower() for status in shown] + ["peak CPU", "peak memory"]
    figure.legend(handles, labels, loc="upper right", ncol=len(labels), fontsize=8, frameon=False)
    used.set_xlim(0, 100)
    used.axvline(100, color="#424242", linewidth=0.8)
    used.set_xlabel("peak used / reserved (%)")
    return _png(figure)


def _plate_png(grid: Mapping[str, Any], title: str) -> bytes:
    return _png(_plate_figure(grid, title))


def _plate_figure(grid: Mapping[str, Any], title: str) -> Any:
    plt = _pyplot()
    labels, names = grid["labels"], grid["names"]
    height = 1.5 + 0.28 * max(len(labels), 4)
    figure, (costs, cpu, memory) = plt.subplots(
        1, 3, figsize=(13, height), sharey=True, gridspec_kw={"width_ratios": [2, 1, 1], "wspace": 0.05}
    )
    ys = list(range(len(labels)))
    left = [0.0] * len(labels)
    palette = plt.get_cmap("tab10")
    for index, name in enumerate(names):
        values = grid["bars"][name]
        costs.barh(ys, values, left=left, color=palette(index % 10), label=name, height=0.7)
        left = [a + b for a, b in zip(left, values, strict=True)]
    costs.set_yticks(ys, labels, fontsize=8)
    costs.invert_yaxis()
    costs.set_xlabel(grid["measure"])
    below = -0.5 / (0.77 * height)  # half an inch under the axes (0.77 of the figure), clear of every bar
    costs.legend(fontsize=8, loc="upper left", bbox_to_anchor=(0, below), ncol=4, frameon=False)
    figure.suptitle(title, fontsize=10, x=0.01, y=0.98 + 0.2 / height, ha="left")  # above the panels' titles
    for axes, key in ((cpu, "cpu"), (memory, "memory")):
        values = [[v if v is not None else float("nan") for v in row] for row in grid[key]]
        image = axes.imshow(values, aspect="auto", cmap="RdYlGn", vmin=0, vmax=100)
        axes.set_xticks(range(len(names)), names, rotation=30, ha="right", fontsize=8)
        axes.set_title(f"peak {key} / reserved (%)", fontsize=9)
        if len(labels) * len(names) <= 240:  # numbers only where they stay readable
            for y, row in enumerate(grid[key]):
                for x, value in enumerate(row):
                    if value is not None:
                        axes.text(x, y, f"{value:.0f}", ha="center", va="center", fontsize=7)
    figure.colorbar(image, ax=[cpu, memory], fraction=0.04, pad=0.02)
    return figure


# ---- HTML (plotly) ----------------------------------------------------------------------------------
def _plotly() -> tuple[Any, Any]:
    try:
        import plotly.graph_objects as go
        from plotly.subplots import make_subplots
    except ImportError as missing:
        raise ImportError(f"pictures need matplotlib and plotly: {EXTRA}") from missing
    return go, make_subplots


def _html(figure: Any, title: str, **layout: Any) -> bytes:
    figure.update_layout(title=title, template="plotly_white", **layout)
    return str(figure.to_html(include_plotlyjs=True, full_html=True)).encode()


def _timeline_html(rows: Sequence[Mapping[str, Any]], title: str) -> bytes:
    go, make_subplots = _plotly()
    figure = make_subplots(rows=1, cols=2, shared_yaxes=True, column_widths=[0.78, 0.22], horizontal_spacing=0.02)
    for status in dict.fromkeys(row["status"] for row in rows):
        chosen = [row for row in rows if row["status"] == status]
        figure.add_trace(
            go.Bar(
                orientation="h",
                y=[row["name"] for row in chosen],
                x=[row["seconds"] for row in chosen],
                base=[row["start"] for row in chosen],
                name=status.lower(),
                marker_color=STATUS_COLOURS.get(status, OTHER_COLOUR),
                text=[row["label"] for row in chosen],
                hovertemplate="%{y}: %{base:.0f}s + %{x:.0f}s<br>%{text}<extra></extra>",
            ),
            row=1,
            col=1,
        )
    for key, colour in (("cpu", "#1565c0"), ("memory", "#6a1b9a")):
        figure.add_trace(
            go.Bar(
                orientation="h",
                y=[row["name"] for row in rows],
                x=[row[key] for row in rows],
                name=f"peak {key} %",
                marker_color=colour,
                opacity=0.7,
                hovertemplate="%{y}: %{x}% of reserved<extra>" + key + "</extra>",
            ),
            row=1,
            col=2,
        )
    figure.update_yaxes(autorange="reversed", categoryorder="array", categoryarray=[row["name"] for row in rows])
    figure.update_xaxes(title_text="seconds since the run started", row=1, col=1)
    figure.update_xaxes(title_text="peak used / reserved (%)", range=[0, 100], row=1, col=2)
    return _html(figure, title, barmode="overlay", height=max(360, 40 * len(rows) + 160))


def _plate_html(grid: Mapping[str, Any], title: str) -> bytes:
    go, make_subplots = _plotly()
    labels, names = grid["labels"], grid["names"]
    figure = make_subplots(
        rows=1,
        cols=3,
        shared_yaxes=True,
        column_widths=[0.5, 0.25, 0.25],
        horizontal_spacing=0.03,
        subplot_titles=(grid["measure"], "peak CPU / reserved (%)", "peak memory / reserved (%)"),
    )
    for name in names:
        figure.add_trace(go.Bar(orientation="h", y=labels, x=grid["bars"][name], name=name), row=1, col=1)
    for col, key in ((2, "cpu"), (3, "memory")):
        figure.add_trace(
            go.Heatmap(
                z=grid[key],
                x=names,
                y=labels,
                zmin=0,
                zmax=100,
                colorscale="RdYlGn",
                showscale=col == 3,
                hovertemplate="%{y} %{x}: %{z}%<extra>" + key + "</extra>",
            ),
            row=1,
            col=col,
        )
    figure.update_yaxes(autorange="reversed")
    return _html(figure, title, barmode="stack", height=max(400, 26 * len(labels) + 160))
