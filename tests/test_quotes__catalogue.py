"""The commercial data in rules/: providers, FX, list prices, addresses, pricing overrides."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.commercial.qrf import plan_qrfs
from orchestrator.config import load_settings
from orchestrator.decisions.catalogue import (
    customer_price,
    load_catalogue,
    load_providers,
    validate_pricing,
)
from orchestrator.errors import InputError, RuleLoadError
from orchestrator.store.models import Site
from tests.factories_sites import ALL_COUNTRIES, PROVIDER_COUNTRIES, site_specs

RULES = load_settings().rules_dir


def test_catalogue_covers_twelve_countries_and_splits_by_access() -> None:
    catalogue = load_catalogue(RULES)
    providers = catalogue.providers
    served = {c for p in providers.providers for c in p.countries}
    assert len(served) >= 12
    assert set(PROVIDER_COUNTRIES) <= served
    assert providers.in_house.countries == ("BE", "NL")
    assert providers.provider_for("GB", "fiber").id == "bt"  # type: ignore[union-attr]
    assert providers.provider_for("GB", "4g").id == "vodafone"  # type: ignore[union-attr]
    assert providers.provider_for("AT", "wireless").id == "a1"  # type: ignore[union-attr]
    assert providers.provider_for("NO", "fiber") is None
    for provider in providers.providers:
        assert provider.currency in catalogue.fx.rates
    for country in ALL_COUNTRIES:
        assert country in catalogue.address_formats


def test_plan_groups_per_country_and_provider() -> None:
    catalogue = load_catalogue(RULES)
    sites = [Site(opportunity_id=1, **spec.__dict__) for spec in site_specs(160)]
    plan = plan_qrfs(sites, {}, catalogue)
    names = [g.name for g in plan.groups]
    assert "qrf-GB-bt" in names and "qrf-GB-vodafone" in names
    assert [t.country for t in plan.in_house] == ["BE", "NL"]
    # NO has no provider at all; in CH nobody offers wireless access
    assert {(line.country, line.access) for line in plan.unserved if line.country != "NO"} == {
        ("CH", "wireless")
    }
    assert sum(1 for line in plan.unserved if line.country == "NO") == 10
    assert plan.problems[0].endswith("no provider serves it")
    total = sum(len(g.lines) for g in plan.groups) + sum(len(t.lines) for t in plan.in_house)
    assert total + len(plan.unserved) == 160
    assert all(line.requested == "budgetary" for g in plan.groups for line in g.lines)


def test_bad_provider_file_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "providers.yaml"
    path.write_text(
        "in_house: {countries: [BE], team: t, email: e}\n"
        "providers:\n  - {id: x, name: X, contact: {name: a, email: b}, currency: EUR,\n"
        "     lead_time_days: 1, countries: [DE], access: [fibre]}\n"
    )
    with pytest.raises(RuleLoadError, match=r"providers\.yaml.*unknown types \['fibre'\]"):
        load_providers(path)


def test_validate_pricing_normalises() -> None:
    data = {"contract_months": 24, "monthly_price": {"fiber": 600}, "discount_pct": 5}
    assert validate_pricing(data, "opp.yaml") == {
        "contract_months": 24,
        "monthly_price": {"fiber": 600.0},
        "discount_pct": 5.0,
    }
    assert validate_pricing(None, "opp.yaml") == {}


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ([1, 2], "pricing"),
        ({"months": 3}, "pricing"),
        ({"contract_months": 0}, "pricing.contract_months"),
        ({"monthly_price": {"fibre": 1}}, "pricing.monthly_price"),
        ({"one_off_price": {"fiber": -1}}, "pricing.one_off_price.fiber"),
        ({"discount_pct": 100}, "pricing.discount_pct"),
    ],
)
def test_validate_pricing_names_the_field(data: object, field: str) -> None:
    with pytest.raises(InputError) as caught:
        validate_pricing(data, "opp.yaml")
    assert caught.value.field == field and caught.value.file == "opp.yaml"


def test_customer_price_list_override_and_discount() -> None:
    prices = load_catalogue(RULES).prices
    assert customer_price(prices, {}, "managed_network", "fiber", 200).monthly == 690
    overridden = customer_price(
        prices,
        {"monthly_price": {"fiber": 600}, "discount_pct": 10},
        "managed_network",
        "fiber",
        200,
    )
    assert (overridden.monthly, overridden.one_off, overridden.source) == (540, 1080, "override")
    assert customer_price(prices, {}, "managed_network", "fiber", 99999).source == "none"
