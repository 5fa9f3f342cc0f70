"""The service strategy: how we sell this bid, and the proposal section it selects.

Some customers want cost transparency, others quality of service (QoS) or a service level
agreement (SLA). The strategy is read from the free text of `Opportunity.strategy` by
keyword; the proposal then carries the matching section.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Any

SLA_AVAILABILITY = {
    "fiber": ("99.95%", "4 hours"),
    "copper": ("99.5%", "8 hours"),
    "wireless": ("99.5%", "8 hours"),
    "5g": ("99.0%", "next business day"),
    "4g": ("99.0%", "next business day"),
}


class ServiceStrategy(StrEnum):
    COST_TRANSPARENCY = "cost_transparency"
    QOS = "qos"
    SLA = "sla"

    @classmethod
    def from_text(cls, text: str | None) -> ServiceStrategy:
        """The strategy named in the text (keyword or phrase); SLA when none is named."""
        lowered = (text or "").lower()
        if re.search(r"cost[ _-]?transparen|transparen|open[- ]book|\bcost\b", lowered):
            return cls.COST_TRANSPARENCY
        if re.search(r"\bqos\b|quality of service", lowered):
            return cls.QOS
        return cls.SLA


def strategy_section(strategy: ServiceStrategy, access_types: list[str]) -> dict[str, Any]:
    """Title, pitch, introduction and table rows of the proposal's strategy section."""
    if strategy is ServiceStrategy.COST_TRANSPARENCY:
        return {
            "label": "cost transparency",
            "pitch": "every cost is visible per site, per component and per month.",
            "section_title": "Cost transparency",
            "intro": "The price is built bottom-up; nothing is hidden in a bundle.",
            "rows": [
                {"label": "Monthly fee", "value": "per site, by access type and bandwidth"},
                {"label": "One-off fee", "value": "per site: installation and router"},
                {"label": "Price changes", "value": "none during the contract term"},
                {"label": "Invoices", "value": "one per country, one line per site"},
                {"label": "Reporting", "value": "monthly cost report per site and service"},
            ],
        }
    if strategy is ServiceStrategy.QOS:
        return {
            "label": "quality of service",
            "pitch": "traffic classes keep voice and video clear under load.",
            "section_title": "Quality of service",
            "intro": "Traffic is marked at the site router and carried in four classes.",
            "rows": [
                {"label": "Real-time (EF)", "value": "voice, video: up to 30%, < 150 ms"},
                {"label": "Business critical (AF41)", "value": "ERP, CRM: 40% guaranteed"},
                {"label": "Interactive (AF21)", "value": "remote desktop: 20% guaranteed"},
                {"label": "Best effort", "value": "all other traffic"},
                {"label": "Reporting", "value": "monthly per class and per site"},
            ],
        }
    rows = [
        {
            "label": f"Availability {access}",
            "value": f"{SLA_AVAILABILITY[access][0]}, repair within {SLA_AVAILABILITY[access][1]}",
        }
        for access in access_types
        if access in SLA_AVAILABILITY
    ]
    rows.append({"label": "Service credits", "value": "5% of the monthly fee per 0.1% missed"})
    rows.append({"label": "Service desk", "value": "24/7, one number for all countries"})
    return {
        "label": "a service level agreement",
        "pitch": "availability and repair times are contractual, with service credits.",
        "section_title": "Service level agreement",
        "intro": "Per access type, measured monthly per site.",
        "rows": rows,
    }
