"""`bid demo`: a sample top-account RFP carried through all eight steps, with every artefact.

The demo writes its inputs as the files a user would (opportunity YAML, sites CSV), then goes
through the same doors as the CLI: intake, services, approvals by the right people.
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import yaml
from rich.console import Console

from orchestrator.bid.opportunity.offer import set_order_details
from orchestrator.bid.opportunity.onboarding import create_opportunity, import_sites
from orchestrator.bid.progress import services
from orchestrator.bid.progress.submission import submit_offer
from orchestrator.bid.reports.queries import approval_view
from orchestrator.cli.output import esc
from orchestrator.cli.production import print_summary
from orchestrator.context import Context
from orchestrator.dispatch import drain
from orchestrator.intake.opportunity import parse_opportunity, parse_sites
from orchestrator.runtime.runner import FlowRunner, InlineRunner
from orchestrator.runtime.service import DEFAULT_WEB_PORT
from orchestrator.store.db import reading
from orchestrator.store.models import OutboxMessage

DEMO_TEAM = {
    "account_manager": {"email": "ann.martens@example.com", "name": "Ann Martens"},
    "bid_manager": {"email": "bart.peeters@example.com", "name": "Bart Peeters"},
    "solution_consultant": {"email": "sofie.claes@example.com", "name": "Sofie Claes"},
    "sales_support": {"email": "sam.janssens@example.com", "name": "Sam Janssens"},
    "operations": {"email": "olivier.wouters@example.com", "name": "Olivier Wouters"},
    "finance": {"email": "fien.jacobs@example.com", "name": "Fien Jacobs"},
    "legal": {"email": "lars.maes@example.com", "name": "Lars Maes"},
    "management": {"email": "marc.dubois@example.com", "name": "Marc Dubois"},
}

APPROVER_BY_AREA = {
    "technical": DEMO_TEAM["operations"]["email"],
    "financial": DEMO_TEAM["finance"]["email"],
    "legal": DEMO_TEAM["legal"]["email"],
    "management": DEMO_TEAM["management"]["email"],
}

DEMO_SITES: list[tuple[str, str, str, str]] = [
    # country, city, postcode, street
    ("BE", "Brussel", "1000", "Wetstraat 16"),
    ("BE", "Antwerpen", "2000", "Meir 1"),
    ("BE", "Gent", "9000", "Korenmarkt 10"),
    ("BE", "Leuven", "3000", "Bondgenotenlaan 5"),
    ("NL", "Amsterdam", "1012 JS", "Dam 1"),
    ("NL", "Rotterdam", "3011 AD", "Coolsingel 40"),
    ("NL", "Utrecht", "3511 AB", "Oudegracht 10"),
    ("DE", "Berlin", "10117", "Unter den Linden 5"),
    ("DE", "München", "80331", "Marienplatz 8"),
    ("DE", "Hamburg", "20095", "Mönckebergstraße 7"),
    ("DE", "Köln", "50667", "Hohe Straße 52"),
    ("DE", "Frankfurt am Main", "60311", "Zeil 106"),
    ("FR", "Paris", "75001", "Rue de Rivoli 99"),
    ("FR", "Lyon", "69002", "Rue de la République 12"),
    ("FR", "Lille", "59000", "Rue Faidherbe 3"),
    ("FR", "Marseille", "13001", "La Canebière 20"),
    ("GB", "London", "SW1A 1AA", "10 Whitehall"),
    ("GB", "Manchester", "M1 1AE", "1 Piccadilly"),
    ("GB", "Leeds", "LS1 4DY", "20 Park Row"),
    ("ES", "Madrid", "28013", "Calle Gran Vía 28"),
    ("ES", "Barcelona", "08002", "Carrer de Ferran 1"),
    ("ES", "Valencia", "46002", "Carrer de Colón 15"),
    ("IT", "Milano", "20121", "Via Dante 7"),
    ("IT", "Roma", "00187", "Via del Corso 100"),
    ("IT", "Torino", "10121", "Via Roma 50"),
    ("PL", "Warszawa", "00-001", "ul. Marszałkowska 10"),
    ("PL", "Kraków", "31-001", "Rynek Główny 1"),
    ("SE", "Stockholm", "111 52", "Drottninggatan 20"),
    ("SE", "Göteborg", "411 06", "Kungsgatan 12"),
    ("CH", "Zürich", "8001", "Bahnhofstrasse 1"),
    ("CH", "Genève", "1204", "Rue du Rhône 10"),
    ("AT", "Wien", "1010", "Kärntner Straße 5"),
    ("IE", "Dublin", "D02 X285", "1 Grafton Street"),
    ("DK", "København", "1050", "Strøget 3"),
    ("CZ", "Praha", "110 00", "Václavské náměstí 1"),
    ("US", "New York", "10001", "350 Fifth Avenue"),
]
ACCESS_CYCLE = ("fiber", "fiber", "copper", "fiber", "4g", "wireless", "5g")
BANDWIDTHS = {  # what each access type sells (rules/price_list.yaml refuses more)
    "fiber": (100, 200, 500, 1000),
    "copper": (20, 50, 100, 100),
    "4g": (50, 100, 200, 300),
    "wireless": (100, 200, 500, 1000),
    "5g": (300, 500, 1000, 2000),
}
CARRIER_PRICES = {"budgetary": 0.6, "firm": 0.64}
"""What the demo's carriers answer, as a share of the site's list price."""


def unused_reference(ctx: Context, base: str) -> str:
    """The demo's RFP reference, numbered on when the demo ran before in this folder (an RFP
    reference names one bid)."""
    from sqlmodel import select

    from orchestrator.store.db import reading
    from orchestrator.store.models import Opportunity

    with reading(ctx.engine) as session:
        taken = set(session.exec(select(Opportunity.rfp_reference)).all())
    reference, number = base, 1
    while reference in taken:
        number += 1
        reference = f"{base}-{number}"
    return reference


def write_demo_inputs(folder: Path, ctx: Context) -> tuple[Path, Path]:
    """The files a bid manager would receive or prepare: the opportunity and its sites."""
    folder.mkdir(parents=True, exist_ok=True)
    today = ctx.clock().date()
    opportunity = {
        "account": {"name": "Nordlicht Logistics Group", "tier": "top"},
        "title": "Pan-European managed WAN and video conferencing",
        "source": "rfp",
        "rfp_reference": unused_reference(ctx, f"NLG-RFP-{today.year}-017"),
        "submission_deadline": (today + timedelta(days=45)).isoformat(),
        "decision_date": (today + timedelta(days=75)).isoformat(),
        "estimated_revenue": {"short_term": 420000, "medium_term": 780000, "long_term": 1150000},
        "currency": "EUR",
        "team": DEMO_TEAM,
        "bants": {
            "budget_eur": 2_000_000,
            "authority": "decision_maker",
            "need": "clear",
            "timeframe_months": 6,
            "sales_ready": True,
        },
        "services": ["managed_network", "video_conferencing"],
        "strategy": "QoS and SLA-led: guaranteed latency between warehouses, 99.95% availability",
        "service_strategy": "qos",
        "win_themes": [
            "guaranteed latency between every warehouse",
            "one service desk in four languages",
        ],
        "strategic_fit": "high",
    }
    opportunity_file = folder / "opportunity.yaml"
    opportunity_file.write_text(yaml.safe_dump(opportunity, sort_keys=False), encoding="utf-8")
    sites_file = folder / "sites.csv"
    with sites_file.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            [
                *("site_id", "name", "street", "postcode", "city", "country"),
                *("bandwidth_mbps", "access", "contact_name", "contact_phone"),
            ]
        )
        for number, (country, city, postcode, street) in enumerate(DEMO_SITES, start=1):
            access = ACCESS_CYCLE[number % len(ACCESS_CYCLE)]
            writer.writerow(
                [
                    f"S{number:03d}",
                    f"Nordlicht {city} warehouse",
                    street,
                    postcode,
                    city,
                    country,
                    BANDWIDTHS[access][number % 4],
                    access,
                    f"{city} site lead",
                    _sample_phone(country),
                ]
            )
    return opportunity_file, sites_file


def _sample_phone(country: str) -> str:
    """A valid number of the country (phonenumbers' example): the site contact's phone that
    provisioning will call, as the order sheet needs one per site."""
    import phonenumbers

    number = phonenumbers.example_number(country)
    if number is None:
        return ""
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def run_demo(ctx: Context, out: Path, console: Console, runner: FlowRunner | None = None) -> str:
    """Run the whole demo and print where every artefact went; return the bid's id.

    Every automated step goes through the flow runner, so with Prefect each is a flow run
    that the UI of `bid server` shows afterwards, with the deadline board and the Bid Control Plan.
    """
    flow_runner = runner or InlineRunner()

    def run(ctx: Context, ref: str) -> list[services.StepResult]:
        steps = flow_runner.run_lifecycle(ctx, ref, "demo")
        drain(ctx, flow_runner)  # the documents of its moves; what the answers carry on
        return steps

    inputs = out / "bid-demo"
    opportunity_file, sites_file = write_demo_inputs(inputs, ctx)
    console.print(f"[bold]1. Intake[/]: {esc(opportunity_file)} and {esc(sites_file)}")
    ref = create_opportunity(ctx, parse_opportunity(opportunity_file, ctx.clock().date()), "demo")
    count = import_sites(ctx, ref, parse_sites(sites_file), "demo")
    console.print(f"   created {ref} with {count} sites")

    def carry(label: str) -> None:
        for step in run(ctx, ref):
            console.print(f"   {label}: {esc(step.message)}")

    carry("pre-qualification")
    bid_manager = DEMO_TEAM["bid_manager"]["email"]
    decided = services.decide(
        ctx, ref, outcome="bid", by=bid_manager, reason="strategic account, strong fit"
    )
    console.print(f"[bold]2. Go/no-go[/]: {esc(decided.message)}")
    answer_the_questionnaire(ctx, ref, inputs, console)
    carry("production")
    _play_the_carriers(ctx, ref, inputs, console)
    carry("production")
    console.print(f"[bold]3. Governance[/]: what the approvers see (bid approval show {ref})")
    print_summary(approval_view(ctx, ref), console)
    console.print("   approvals by the right people (automated in the demo)")
    with reading(ctx.engine) as session:
        opportunity = services.get_opportunity(session, ref)
        areas = [a.area for a in services.current_approvals(session, opportunity)]
        version = opportunity.proposal_hash
    for area in areas:
        granted = services.approve(
            ctx, ref, area=area, by=APPROVER_BY_AREA[area], proposal_hash=version
        )
        console.print(f"   {esc(granted.message)}")
    carry("submission")
    sent = submit_offer(
        ctx,
        ref,
        by=bid_manager,
        channel="portal",
        reference=f"NLG e-procurement receipt {ref}",
    )
    console.print(f"   bid submit: {esc(sent.message)}")
    services.record_result(
        ctx, ref, won=True, reason="best QoS guarantees and transition plan", by=bid_manager
    )
    console.print("[bold]4. Customer decision[/]: won")
    ordered = set_order_details(
        ctx,
        ref,
        by=bid_manager,
        legal_entity="Nordlicht Logistics Group GmbH",
        billing_entity="Nordlicht Logistics Shared Services GmbH",
        purchase_order=f"PO-NLG-{ctx.clock().year}-0042",
        contract_start=ctx.clock().date() + timedelta(days=90),
    )
    console.print(f"   bid order details: {esc(ordered.message)}")
    carry("contract")
    _print_artefacts(ctx, ref, console)
    waiting = _second_bid(ctx, inputs, run, console)
    watched = flow_runner.watch_deadlines(ctx)
    console.print(
        f"   deadline watch: {watched['open']} open milestone(s), {watched['queued']} warning(s) "
        "queued (bid deadlines)"
    )
    console.print(
        f"   try: bid status {waiting}; bid decide {waiting} --outcome bid "
        f"--by {DEMO_TEAM['management']['email']} --reason 'worth it'"
    )
    _print_funnel(ctx, console)
    _portfolio_and_packs(ctx, inputs, console)
    from orchestrator.runtime import prefect_env

    target = None if isinstance(flow_runner, InlineRunner) else prefect_env.active()
    if target is None:
        console.print(
            "\nThe steps above ran in this process. To see them as Prefect flow runs, with the "
            "bid-deadlines board and the Bid Control Plan: [bold]bid demo --keep-server[/] "
            "(or [bold]bid server[/], then open the printed URL)."
        )
        console.print(
            "The bid workspace, once [bold]bid server[/] runs in this folder: "
            f"http://127.0.0.1:{DEFAULT_WEB_PORT}/bids/{ref} (or the free port it names); sign "
            "in with [bold]bid people link EMAIL[/] or [bold]bid people token EMAIL[/]."
        )
    else:
        if target.mode == prefect_env.PrefectMode.LOCAL and target.api_url:
            from orchestrator.runtime import service

            info = service.read_info(ctx.settings)
            if info is not None and info.workspace_url:
                console.print(
                    f"\nThe bid workspace (sign in with a token: bid people token EMAIL, or a "
                    f"link: bid people link EMAIL): {info.workspace_url}/bids/{ref}",
                    highlight=False,
                )
            console.print(
                "\nEvery step above ran as a Prefect flow run. The runs, the bid-deadlines board "
                f"and the Bid Control Plan are in the UI of this folder's service: "
                f"{target.api_url.removesuffix('/api')}\n"
                f"   (its password: the line in {ctx.settings.data_dir / 'prefect-auth'}; "
                "bid server status shows it; bid server stop stops it; "
                "bid server runs it in the foreground)",
                highlight=False,
            )
        else:
            console.print(
                "\nEvery step above ran as a Prefect flow run. To see the runs, the "
                "bid-deadlines board and the Bid Control Plan: run [bold]bid server[/] and open "
                "the printed URL."
            )
    return ref


DEMO_QUESTIONNAIRE = (
    ("1.1", "Network", "Describe the proposed network architecture and how sites connect.", "M"),
    ("1.2", "Network", "Can critical sites have redundant access and automatic failover?", "M"),
    ("1.3", "Network", "Does the network prioritise voice and video traffic (QoS)?", "M"),
    ("2.1", "Service levels", "State the availability per site and the service credits.", "M"),
    ("2.2", "Support", "Describe your service desk, its hours and languages.", "O"),
    ("3.1", "Transition", "Describe the migration approach and the project plan.", "M"),
)
"""The customer's questionnaire in the demo: each row has an answer in the starter library."""


def answer_the_questionnaire(ctx: Context, ref: str, folder: Path, console: Console) -> None:
    """The customer's questionnaire imported, answered from the starter answer library (the
    first pass `bid rfp suggest --accept` gives, at the calibrated threshold), the mandatory
    answers reviewed by the solution consultant (`bid rfp review`: the design freeze waits for
    it), and the answers written back into a copy of the customer's file (`bid rfp export`)."""
    from orchestrator.bid.answers.library import import_library
    from orchestrator.bid.answers.rfp import accept_suggestions, export_rows, import_questionnaire
    from orchestrator.bid.answers.rfp_review import review_requirement
    from orchestrator.decisions.rfp_rules import load_rfp_rules
    from orchestrator.documents.questionnaire import write_answers
    from orchestrator.intake.answer_library import parse_library
    from orchestrator.intake.questionnaire import parse_questionnaire

    bid_manager = DEMO_TEAM["bid_manager"]["email"]
    rules = load_rfp_rules(ctx.settings.rules_dir)
    questionnaire = folder / "questionnaire.csv"
    with questionnaire.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["Req ID", "Section", "Requirement", "Mandatory"])
        writer.writerows(DEMO_QUESTIONNAIRE)
    imported = import_questionnaire(
        ctx, ref, parse_questionnaire(questionnaire, rules), actor=bid_manager
    )
    starter = parse_library(ctx.settings.rules_dir / "answer_library.yaml", ctx.clock().date())
    library = import_library(ctx, starter, by="demo")  # the shipped starter library
    answered = accept_suggestions(ctx, ref, by=bid_manager)
    reviewer = DEMO_TEAM["solution_consultant"]["email"]
    mandatory = {row[0] for row in DEMO_QUESTIONNAIRE if row[3] == "M"}
    reviewed = [
        review_requirement(ctx, ref, req_id, by=reviewer).requirement
        for req_id in answered.answered
        if req_id in mandatory
    ]
    answers = folder / "questionnaire-answered.csv"
    write_answers(export_rows(ctx, ref), rules, answers)
    console.print(
        f"   questionnaire: {imported.added} requirements from {esc(questionnaire.name)}; "
        f"{library.added + library.updated + library.unchanged} answers in the starter library "
        f"(bid rfp library import --starter); {len(answered.answered)} answered from it "
        f"(bid rfp suggest {ref} --accept); {len(reviewed)} mandatory answers reviewed by "
        f"{reviewer} (bid rfp review); answers in {esc(answers)} (bid rfp export)"
    )


def _answer(ctx: Context, qrf: Path, answer: Path, kind: str) -> int:
    """A carrier fills in the QRF's CSV: its price (a share of the list price, in its own
    currency) for every site, valid for six months."""
    from orchestrator.commercial.quotes import catalogue_for
    from orchestrator.decisions.catalogue import customer_price

    catalogue = catalogue_for(ctx.settings.rules_dir)
    valid_until = (ctx.clock().date() + timedelta(days=182)).isoformat()
    with qrf.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    for row in rows:
        price = customer_price(
            catalogue.prices, {}, row["service"], row["access"], int(row["bandwidth_mbps"])
        )
        rate = catalogue.fx.rates[row["currency"]]
        share = CARRIER_PRICES[kind]
        row.update(
            kind=kind,
            monthly_cost=f"{price.monthly * share / rate:.2f}",
            one_off_cost=f"{price.one_off * share / rate:.2f}",
            valid_until=valid_until,
        )
        if "provider_reference" in row:  # a carrier's own quote number, quoted back on order
            row["provider_reference"] = f"{row.get('provider', 'Q')[:3].upper()}-{row['site_id']}"
        if "delivery_days" in row:
            row["delivery_days"] = "30"
    answer.parent.mkdir(parents=True, exist_ok=True)
    with answer.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return len(rows)


def _play_the_carriers(ctx: Context, ref: str, folder: Path, console: Console) -> None:
    """Bid production as people do it: QRFs sent, the carriers answer budgetary then firm
    quotes (the filled-in QRF CSVs), the design frozen, the approval summary shown."""
    from orchestrator.bid.producing.production import freeze_design
    from orchestrator.bid.producing.quotes import import_quotes
    from orchestrator.bid.producing.sourcing import send_quote_requests

    sales_support = DEMO_TEAM["sales_support"]["email"]
    for kind in ("budgetary", "firm"):
        sent = send_quote_requests(ctx, ref, actor=sales_support)
        console.print(
            f"   bid qrf: {len(sent.requests)} QRFs and internal quote tasks for {kind} quotes "
            f"({sent.recorded} recorded; replies due by "
            f"{max(r.reply_by for r in sent.requests).isoformat()})"
        )
        qrf_dir = ctx.output_dir_for(ref) / "qrf"
        answered = 0
        for qrf in sorted(qrf_dir.glob("*.csv")):
            if qrf.name == "unsourced.csv":
                continue
            answer = folder / "answers" / f"{qrf.stem}-{kind}.csv"
            _answer(ctx, qrf, answer, kind)
            answered += import_quotes(ctx, ref, answer, actor=sales_support).imported
        console.print(f"   the carriers answered: {answered} {kind} quotes imported")
    frozen = freeze_design(
        ctx, ref, by=DEMO_TEAM["solution_consultant"]["email"], note="design for submission"
    )
    console.print(f"   bid freeze: {frozen.message}")


def _second_bid(
    ctx: Context,
    folder: Path,
    run: Callable[[Context, str], list[services.StepResult]],
    console: Console,
) -> str:
    """A major-account RFP left waiting for its go/no-go, so the deadline board has a bid."""
    spec = yaml.safe_load((folder / "opportunity.yaml").read_text(encoding="utf-8"))
    spec.update(
        account={"name": "Brabant Retail", "tier": "major"},
        title="Store connectivity refresh",
        rfp_reference=unused_reference(ctx, f"BR-RFP-{ctx.clock().year}-004"),
        estimated_revenue={"short_term": 150000, "medium_term": 200000, "long_term": 0},
        team={
            role: DEMO_TEAM[role]
            for role in ("account_manager", "operations", "finance", "legal", "management")
        },
        services=["managed_network"],
        strategy="cost transparency: a fixed price per store",
        strategic_fit="medium",
    )
    second = folder / "opportunity-2.yaml"
    second.write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
    ref = create_opportunity(ctx, parse_opportunity(second, ctx.clock().date()), "demo")
    import_sites(ctx, ref, parse_sites(folder / "sites.csv"), "demo")
    steps = run(ctx, ref)
    console.print(
        f"[bold]5. Waiting for you[/]: {ref} (Brabant Retail, major account) from "
        f"{esc(second)}: {esc(steps[-1].message) if steps else 'created'}"
    )
    return ref


def _print_artefacts(ctx: Context, ref: str, console: Console) -> None:
    from orchestrator.bid.reports.queries import status

    drain(ctx)  # every document of the moves, before they are listed
    final = status(ctx, ref)
    console.print(f"[bold]Done[/]: {ref} is [bold]{final.state}[/]")
    console.print(f"   database:  {esc(ctx.settings.database_url)}")
    console.print(f"   documents: {esc(ctx.output_dir_for(ref))}")
    folders: dict[str, list[str]] = {}
    for path in final.documents:
        folders.setdefault(str(Path(path).parent), []).append(Path(path).name)
    for folder, names in folders.items():
        if len(names) > 6:
            kinds = sorted({Path(name).suffix for name in names})
            console.print(f"     - {esc(folder)}/: {len(names)} files ({', '.join(kinds)})")
        else:
            for name in names:
                console.print(f"     - {esc(folder)}/{esc(name)}")
    with reading(ctx.engine) as session:
        from sqlmodel import func, select

        messages = session.exec(select(func.count()).select_from(OutboxMessage)).one()
    console.print(f"   notifications: {messages} in the outbox (bid outbox)")
    console.print(f"   audit trail:   bid history {ref}   decisions: bid explain {ref}")


DEMO_ACCOUNTS = [
    # name, tier, parent, country, owner, customer profile, service level, potential EUR/year
    ("Nordlicht Holding", "top", "", "NL", "ann.martens@example.com", "relationship_driven",
     "premium", "3000000"),
    ("Nordlicht Logistics Group", "top", "Nordlicht Holding", "BE", "ann.martens@example.com",
     "quality_driven", "premium", "1200000"),
    ("Nordlicht Retail", "middle_market", "Nordlicht Holding", "NL", "ann.martens@example.com",
     "cost_driven", "standard", "260000"),
    ("Brabant Retail", "major", "", "NL", "ann.martens@example.com", "cost_driven", "enhanced",
     "350000"),
]  # fmt: skip
"""The study's example: a contract won with one company of a holding opens the door to the
holding's other companies (account show lists them as openings)."""


def _portfolio_and_packs(ctx: Context, folder: Path, console: Console) -> None:
    """Accounts as records (imported), the portfolio, and the two meeting packs."""
    from orchestrator.bid.customers.accounts import import_accounts
    from orchestrator.cli.packs import make_qualification, make_weekly
    from orchestrator.decisions.portfolio_rules import load_portfolio_rules
    from orchestrator.funnel.accounts import account_view
    from orchestrator.funnel.portfolio import build_portfolio, draw_portfolio
    from orchestrator.intake.accounts import parse_accounts

    rules = load_portfolio_rules(ctx.settings.rules_dir)
    accounts_file = folder / "accounts.csv"
    with accounts_file.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            [
                "name",
                "tier",
                "parent",
                "country",
                "owner",
                "customer_profile",
                "service_level",
                "potential_revenue_eur",
            ]
        )
        writer.writerows(DEMO_ACCOUNTS)
    imported = import_accounts(
        ctx, parse_accounts(accounts_file, rules), file=str(accounts_file), actor="demo"
    )
    console.print(
        f"[bold]6. Portfolio[/]: {esc(accounts_file)} imported ({len(imported.created)} new, "
        f"{len(imported.updated)} updated)"
    )
    today = ctx.clock().date()
    with reading(ctx.engine) as session:
        portfolio = build_portfolio(session, rules, today)
        view = account_view(session, "Nordlicht Logistics Group", today)
    chart = draw_portfolio(portfolio, rules, folder / "portfolio.png")
    for contract in view.contracts:
        console.print(
            f"   contract {contract.ref} from {contract.opportunity}: "
            f"{contract.monthly_recurring:,.2f} {contract.currency} a month, "
            f"{contract.start_date} to {contract.end_date} ({contract.term_months} months)"
        )
    if view.openings:
        console.print(
            "   openings in the Nordlicht group: " + ", ".join(esc(n) for n in view.openings)
        )
    console.print(
        f"   {len(portfolio.positions)} accounts, {len(portfolio.suggestions)} tier move(s) "
        f"suggested; chart {esc(chart)} (bid portfolio, bid portfolio review)"
    )
    packs = folder / "packs"
    console.print(
        "[bold]7. Meeting packs[/] (bid pack weekly-top-accounts, bid pack qualification)"
    )
    for label, make in (
        ("weekly top-account update", make_weekly),
        ("qualification meeting", make_qualification),
    ):
        files, told = make(ctx, packs)
        console.print(f"   {label}: {esc(files.summary)}")
        console.print(
            f"      {esc(files.html)}"
            + (f" and {esc(files.pdf)}" if files.pdf else " (no Chromium: no PDF)")
            + f"; Slack summary queued for {len(told)} attendee(s)"
        )


def _print_funnel(ctx: Context, console: Console) -> None:

    from orchestrator.cli.funnel import print_funnel
    from orchestrator.decisions.funnel_rules import quarter_of
    from orchestrator.funnel.measure import funnel_report

    now = ctx.clock()
    with reading(ctx.engine) as session:
        report = funnel_report(session, ctx.settings.rules_dir, quarter_of(now.date()), now=now)
    console.print()
    print_funnel(console, report)
    console.print("   (bid funnel, bid forecast, bid report monthly --out DIR)")
