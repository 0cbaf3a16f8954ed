"""The committed Grafana dashboard -> its PromQL queries (Grafana's variables filled in) and the
metric names they read; a scrape of the service -> the names it exports."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import promql_parser
from prometheus_client.parser import text_string_to_metric_families

DASHBOARD = Path(__file__).resolve().parent / "grafana" / "dashboards" / "boxpose.json"
RATE_INTERVAL = "$__rate_interval"  # the only Grafana variable the dashboard uses


@dataclass(frozen=True)
class Query:
    """One target of one panel."""

    panel: str
    ref: str
    expr: str  # as committed, with Grafana's variables
    legend: str
    unit: str

    def promql(self, rate_interval: str = "1m") -> str:
        """The expression Prometheus receives, `$__rate_interval` replaced by `rate_interval`."""
        return self.expr.replace(RATE_INTERVAL, rate_interval)


def load_queries(path: Path = DASHBOARD) -> list[Query]:
    """Every panel target, in the dashboard's order."""
    dashboard = json.loads(path.read_text())
    return [
        Query(panel=panel["title"], ref=target["refId"], expr=target["expr"],
              legend=target.get("legendFormat", ""),
              unit=panel.get("fieldConfig", {}).get("defaults", {}).get("unit", "none"))
        for panel in dashboard["panels"]
        for target in panel.get("targets", [])
    ]  # fmt: skip


def metric_names(promql: str) -> set[str]:
    """Metric names the expression selects; raises ValueError on a syntax error or a selector
    without a name."""
    names: set[str] = set()
    unnamed: list[str] = []

    def visit(node: promql_parser.Expr) -> None:
        if isinstance(node, promql_parser.VectorSelector):
            if node.name:
                names.add(node.name)
            else:
                unnamed.append(str(node))

    promql_parser.walk(promql_parser.parse(promql), visit)
    if unnamed:
        raise ValueError(f"selectors without a metric name in {promql!r}: {unnamed}")
    return names


def exported_names(exposition: str) -> set[str]:
    """Sample names in a /metrics body (`_total`, `_bucket`, `_sum`, `_count` included)."""
    return {
        sample.name
        for family in text_string_to_metric_families(exposition)
        for sample in family.samples
    }


def unknown_names(queries: list[Query], exported: set[str]) -> dict[str, set[str]]:
    """Per "panel / ref", the metric names its query reads that the service does not export."""
    unknown = {f"{q.panel} / {q.ref}": metric_names(q.promql()) - exported for q in queries}
    return {where: names for where, names in unknown.items() if names}
