"""Altair charts: each takes a tidy frame from the pure functions."""

from __future__ import annotations

import altair as alt
import pandas as pd

GROUP_COLOURS = alt.Scale(
    domain=["promoter", "passive", "detractor"], range=["#2e7d32", "#9e9e9e", "#c62828"]
)


def trend(t: pd.DataFrame) -> alt.Chart:
    """NPS per period with its 95% interval; periods whose change from the
    previous one is significant are drawn as large red points."""
    data = t.assign(
        zmiana=t["significant"].map({True: "istotna zmiana", False: "bez istotnej zmiany"})
    )
    base = alt.Chart(data).encode(x=alt.X("period:N", title="okres", sort=None))
    band = base.mark_area(opacity=0.2).encode(
        y=alt.Y("ci_low:Q", title="NPS", scale=alt.Scale(domain=[-100, 100])), y2="ci_high:Q"
    )
    line = base.mark_line().encode(y="nps:Q")
    points = base.mark_point(filled=True).encode(
        y="nps:Q",
        size=alt.Size(
            "zmiana:N",
            scale=alt.Scale(domain=["istotna zmiana", "bez istotnej zmiany"], range=[160, 30]),
            legend=alt.Legend(title=None),
        ),
        color=alt.Color(
            "zmiana:N",
            scale=alt.Scale(
                domain=["istotna zmiana", "bez istotnej zmiany"], range=["#c62828", "#1565c0"]
            ),
            legend=None,
        ),
        tooltip=[
            "period",
            "n",
            alt.Tooltip("nps:Q", format=".1f"),
            alt.Tooltip("ci_low:Q", format=".1f"),
            alt.Tooltip("ci_high:Q", format=".1f"),
            alt.Tooltip("change:Q", format="+.1f"),
            alt.Tooltip("p_value:Q", format=".3f"),
        ],
    )
    return (band + line + points).properties(height=320)


def funnel(stages: pd.DataFrame) -> alt.Chart:
    return (
        alt.Chart(stages)
        .mark_bar()
        .encode(
            x=alt.X("count:Q", title="odpowiedzi"),
            y=alt.Y("stage:N", sort=None, title=None),
            tooltip=["stage", "count"],
        )
        .properties(height=160)
    )


def nps_by(table: pd.DataFrame, column: str, title: str) -> alt.Chart:
    base = alt.Chart(table).encode(y=alt.Y(f"{column}:N", sort="-x", title=title))
    bars = base.mark_bar().encode(
        x=alt.X("nps:Q", title="NPS", scale=alt.Scale(domain=[-100, 100])),
        tooltip=[column, "n", alt.Tooltip("nps:Q", format=".1f")],
    )
    rule = base.mark_rule(color="black").encode(x="ci_low:Q", x2="ci_high:Q")
    return (bars + rule).properties(height=max(120, 36 * len(table)))


def share_impact(drivers: pd.DataFrame) -> alt.Chart:
    data = drivers.dropna(subset=["impact"]).assign(share_pct=lambda d: d["share"] * 100)
    base = alt.Chart(data).encode(
        x=alt.X("share_pct:Q", title="udział wspominających (%)"),
        y=alt.Y("impact:Q", title="wpływ na NPS (pkt)"),
    )
    points = base.mark_circle(size=120).encode(
        color=alt.condition("datum.impact >= 0", alt.value("#2e7d32"), alt.value("#c62828")),
        tooltip=[
            "label",
            "mentions",
            alt.Tooltip("share_pct:Q", format=".1f"),
            alt.Tooltip("impact:Q", format="+.1f"),
            alt.Tooltip("nps_mentioners:Q", format=".1f"),
        ],
    )
    labels = base.mark_text(align="left", dx=8).encode(text="label:N")
    zero = alt.Chart(pd.DataFrame({"y": [0]})).mark_rule(strokeDash=[4, 4]).encode(y="y:Q")
    return (zero + points + labels).properties(height=380)


def before_after(issues: pd.DataFrame) -> alt.Chart:
    data = issues.dropna(subset=["mean_before", "mean_after"]).melt(
        id_vars=["title"],
        value_vars=["mean_before", "mean_after"],
        var_name="kiedy",
        value_name="ocena",
    )
    data["kiedy"] = data["kiedy"].map({"mean_before": "przed", "mean_after": "po"})
    return (
        alt.Chart(data)
        .mark_bar()
        .encode(
            y=alt.Y("title:N", title=None),
            x=alt.X("ocena:Q", title="średnia ocena", scale=alt.Scale(domain=[0, 10])),
            color=alt.Color("kiedy:N", sort=["przed", "po"]),
            yOffset=alt.YOffset("kiedy:N", sort=["przed", "po"]),
            tooltip=["title", "kiedy", alt.Tooltip("ocena:Q", format=".1f")],
        )
    )
