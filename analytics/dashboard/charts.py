"""Altair charts: each takes a tidy frame from the pure functions. Axis,
legend and tooltip titles come from widgets.HEADERS, like the tables'."""

from __future__ import annotations

import altair as alt
import pandas as pd

from analytics.dashboard.widgets import header

GROUP_COLOURS = alt.Scale(
    domain=["promoter", "passive", "detractor"], range=["#2e7d32", "#9e9e9e", "#c62828"]
)


def tip(column: str, kind: str, fmt: str | None = None) -> alt.Tooltip:
    """A tooltip line titled in Polish (Altair would show the column name)."""
    extra = {"format": fmt} if fmt else {}
    return alt.Tooltip(f"{column}:{kind}", title=header(column), **extra)


def trend(t: pd.DataFrame) -> alt.Chart:
    """NPS per period with its 95% interval; periods whose change from the
    previous one is significant are drawn as large red points."""
    data = t.assign(
        zmiana=t["significant"].map({True: "istotna zmiana", False: "bez istotnej zmiany"})
    )
    base = alt.Chart(data).encode(x=alt.X("period:N", title=header("period"), sort=None))
    band = base.mark_area(opacity=0.2).encode(
        y=alt.Y("ci_low:Q", title=header("nps"), scale=alt.Scale(domain=[-100, 100])),
        y2="ci_high:Q",
    )
    line = base.mark_line().encode(y=alt.Y("nps:Q", title=header("nps")))
    points = base.mark_point(filled=True).encode(
        y=alt.Y("nps:Q", title=header("nps")),
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
            tip("period", "N"),
            tip("n", "Q"),
            tip("nps", "Q", ".1f"),
            tip("ci_low", "Q", ".1f"),
            tip("ci_high", "Q", ".1f"),
            tip("change", "Q", "+.1f"),
            tip("p_value", "Q", ".3f"),
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
            tooltip=[tip("stage", "N"), tip("count", "Q")],
        )
        .properties(height=160)
    )


def nps_by(table: pd.DataFrame, column: str) -> alt.Chart:
    base = alt.Chart(table).encode(y=alt.Y(f"{column}:N", sort="-x", title=header(column)))
    bars = base.mark_bar().encode(
        x=alt.X("nps:Q", title=header("nps"), scale=alt.Scale(domain=[-100, 100])),
        tooltip=[tip(column, "N"), tip("n", "Q"), tip("nps", "Q", ".1f")],
    )
    rule = base.mark_rule(color="black").encode(
        x=alt.X("ci_low:Q", title=header("nps")), x2="ci_high:Q"
    )
    return (bars + rule).properties(height=max(120, 36 * len(table)))


def share_impact(drivers: pd.DataFrame) -> alt.Chart:
    """`drivers` as driver_report gives it (share as a fraction)."""
    data = drivers.dropna(subset=["impact"]).assign(share=lambda d: d["share"] * 100)
    base = alt.Chart(data).encode(
        x=alt.X("share:Q", title="udział wspominających (%)"),
        y=alt.Y("impact:Q", title=header("impact")),
    )
    points = base.mark_circle(size=120).encode(
        color=alt.condition("datum.impact >= 0", alt.value("#2e7d32"), alt.value("#c62828")),
        tooltip=[
            tip("label", "N"),
            tip("mentions", "Q"),
            tip("share", "Q", ".1f"),
            tip("impact", "Q", "+.1f"),
            tip("nps_mentioners", "Q", ".1f"),
        ],
    )
    labels = base.mark_text(align="left", dx=8).encode(text="label:N")
    zero = alt.Chart(pd.DataFrame({"y": [0]})).mark_rule(strokeDash=[4, 4]).encode(y="y:Q")
    return (zero + points + labels).properties(height=380)


def before_after(issues: pd.DataFrame) -> alt.Chart:
    moments = {"mean_before": "przed", "mean_after": "po"}
    data = issues.dropna(subset=list(moments)).melt(
        id_vars=["title"], value_vars=list(moments), var_name="when", value_name="mean_score"
    )
    data["when"] = data["when"].map(moments)
    order = list(moments.values())
    return (
        alt.Chart(data)
        .mark_bar()
        .encode(
            y=alt.Y("title:N", title=None, axis=alt.Axis(labelLimit=240)),
            x=alt.X("mean_score:Q", title=header("mean_score"), scale=alt.Scale(domain=[0, 10])),
            color=alt.Color("when:N", sort=order, title=header("when")),
            yOffset=alt.YOffset("when:N", sort=order),
            tooltip=[tip("title", "N"), tip("when", "N"), tip("mean_score", "Q", ".1f")],
        )
    )


# The two sides of the perception gap, always in these colours.
SIDE_COLOURS = alt.Scale(domain=["klienci", "pracownicy"], range=["#1565c0", "#ef6c00"])


def predicted_actual(scores: pd.DataFrame) -> alt.Chart:
    """Customers' NPS against the employees' predicted NPS per store (or
    wave), each with its 95% interval. `scores`: store, who ("klienci" /
    "pracownicy"), nps, ci_low, ci_high, n."""
    data = scores.dropna(subset=["nps"])
    base = alt.Chart(data).encode(
        y=alt.Y("store:N", title=header("store"), sort=None),
        yOffset=alt.YOffset("who:N", sort=["klienci", "pracownicy"]),
        color=alt.Color("who:N", scale=SIDE_COLOURS, title=header("who")),
    )
    points = base.mark_point(filled=True, size=90).encode(
        x=alt.X("nps:Q", title=header("nps"), scale=alt.Scale(domain=[-100, 100])),
        tooltip=[
            tip("store", "N"),
            tip("who", "N"),
            tip("n", "Q"),
            tip("nps", "Q", ".1f"),
            tip("ci_low", "Q", ".1f"),
            tip("ci_high", "Q", ".1f"),
        ],
    )
    rule = base.mark_rule().encode(x=alt.X("ci_low:Q", title=header("nps")), x2="ci_high:Q")
    stores = max(1, data["store"].nunique())
    return (rule + points).properties(height=max(140, 56 * stores))


def driver_gap(drivers: pd.DataFrame) -> alt.Chart:
    """Each driver's share among customers and among employees (percent),
    drivers in the order given (ranked by the gap). `drivers`: label,
    customer_share, employee_share, gap (all in percent)."""
    long = drivers.melt(
        id_vars=["label", "gap"],
        value_vars=["customer_share", "employee_share"],
        var_name="who",
        value_name="share",
    ).dropna(subset=["share"])
    long["who"] = long["who"].map({"customer_share": "klienci", "employee_share": "pracownicy"})
    order = drivers["label"].tolist()
    base = alt.Chart(long).encode(y=alt.Y("label:N", sort=order, title=header("label")))
    axis = "udział odpowiedzi z czynnikiem (%)"
    line = (
        alt.Chart(drivers.dropna(subset=["customer_share", "employee_share"]))
        .mark_rule(color="#9e9e9e")
        .encode(
            y=alt.Y("label:N", sort=order, title=header("label")),
            x=alt.X("customer_share:Q", title=axis),
            x2="employee_share:Q",
        )
    )
    points = base.mark_point(filled=True, size=90).encode(
        x=alt.X("share:Q", title=axis),
        color=alt.Color("who:N", scale=SIDE_COLOURS, title=header("who")),
        tooltip=[
            tip("label", "N"),
            tip("who", "N"),
            tip("share", "Q", ".1f"),
            tip("gap", "Q", "+.1f"),
        ],
    )
    return (line + points).properties(height=max(160, 30 * len(order)))
