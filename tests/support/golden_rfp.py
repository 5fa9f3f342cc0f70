"""A golden RFP: a customer's questionnaire, sites in three countries and carrier quotes.

`build_golden` makes the bid, imports the questionnaire, answers it from the starter answer
library (and one requirement in our own words), sets the service strategy and renders every
document the bid team sends: QRFs, the proposal with its compliance annex, the Bid Control
Plan, the submission letter and, after a win, the order sheet.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import openpyxl
from sqlalchemy import Engine
from sqlmodel import Session

from orchestrator.bid.answers.library import import_library
from orchestrator.bid.answers.rfp import (
    accept_suggestions,
    answer_requirement,
    import_questionnaire,
)
from orchestrator.bid.facts import get_opportunity
from orchestrator.bid.producing.quotes import import_quotes
from orchestrator.bid.producing.terms import set_deviations
from orchestrator.config import load_settings
from orchestrator.decisions.rfp_rules import load_rfp_rules
from orchestrator.documents.renderer import DocxDocuments
from orchestrator.intake.answer_library import parse_library
from orchestrator.intake.questionnaire import parse_questionnaire
from orchestrator.lifecycle.table import State
from orchestrator.ports import ProducedDocuments
from orchestrator.store.db import open_database, transaction
from orchestrator.store.models import Opportunity, Person, TeamMember
from tests.factories_sites import (
    SALES_SUPPORT,
    context_on,
    make_opportunity,
    quote_rows,
    site_specs,
    write_quotes,
)

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
COUNTRIES = ("DE", "FR", "BE")
SITES = 9
BID_MANAGER = "bea@example.com"
EVIL = "{{ 7*7 }} {% if true %}x{% endif %}"

QUESTIONNAIRE = [
    ("Req ID", "Section", "Requirement", "Mandatory"),
    (
        "1.1",
        "Network",
        "Describe the proposed network architecture and how sites connect.",
        "Y",
    ),
    ("1.2", "Network", "Can the solution provide redundant access and automatic failover?", "Y"),
    ("1.3", "Network", "Does the network prioritise voice and video traffic (QoS)?", "N"),
    (
        "2.1",
        "Service levels",
        "State the availability per site and the service credits.",
        "Y",
    ),
    ("2.2", "Support", "Describe your service desk and its hours.", "Y"),
    ("3.1", "Security", "How is the managed router protected and patched?", "N"),
    ("4.1", "Transition", "Describe the migration approach and the project plan.", "Y"),
    ("5.1", "Commercial", f"Confirm prices are fixed for the contract term. {EVIL}", "Y"),
    ("6.1", "Legal", "Do you accept our terms and conditions? List any deviations.", "Y"),
]
DEVIATION = "liability capped at 12 months of fees"
"""The deviation legal approved: the proposal's terms and the legal answer both carry it."""
LEGAL_ANSWER = "We accept your terms and conditions; deviations are listed in our offer."


@dataclass
class Golden:
    engine: Engine
    ref: str
    out: Path
    renderer: DocxDocuments
    bid: ProducedDocuments
    letter: ProducedDocuments
    sheet: ProducedDocuments
    questionnaire: Path


def write_questionnaire(path: Path) -> Path:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "Requirements"
    sheet.append(["Acme Logistics — WAN tender RFP-2026-17"])
    for row in QUESTIONNAIRE:
        sheet.append(list(row))
    book.save(path)
    return path


def render(engine: Engine, renderer: DocxDocuments, ref: str, out: Path) -> ProducedDocuments:
    with transaction(engine) as session:
        opportunity = get_opportunity(session, ref)
        return renderer.bid_documents(session, opportunity, out)


def build_golden(tmp: Path, *, strategy: str = "sla") -> Golden:
    settings = load_settings()
    engine = open_database(f"sqlite:///{tmp}/golden.db")
    opportunity = make_opportunity(
        engine, sites=SITES, countries=COUNTRIES, state="bid_production", strategy="Win on SLA"
    )
    ref = opportunity.ref
    with Session(engine) as session:
        person = Person(
            name="Bea Bidman", email=BID_MANAGER, roles=["bid_manager", "library_editor"]
        )
        session.add(person)
        session.flush()
        session.add(
            TeamMember(
                opportunity_id=opportunity.id or 0, person_id=person.id or 0, role="bid_manager"
            )
        )
        row = session.get(Opportunity, opportunity.id)
        assert row is not None
        row.service_strategy = strategy
        row.win_themes = ["one service desk for every country", "credits when we miss a target"]
        session.add(row)
        session.commit()
    ctx = context_on(engine, now=NOW, out=tmp / "published")
    import_quotes(
        ctx,
        ref,
        write_quotes(tmp / "quotes.csv", quote_rows(site_specs(SITES, COUNTRIES))),
        actor=SALES_SUPPORT,
    )
    rules = load_rfp_rules(settings.rules_dir)
    questionnaire = write_questionnaire(tmp / "customer-questionnaire.xlsx")
    import_questionnaire(ctx, ref, parse_questionnaire(questionnaire, rules), actor=BID_MANAGER)
    starter = parse_library(settings.rules_dir / "answer_library.yaml", NOW.date())
    import_library(ctx, starter, by=BID_MANAGER)
    accept_suggestions(ctx, ref, min_score=rules.library.min_score, by=BID_MANAGER)
    answer_requirement(
        ctx,
        ref,
        "5.1",
        by=BID_MANAGER,
        text=f"Prices are fixed for the whole term. {EVIL}",
        compliance="comply",
    )
    answer_requirement(ctx, ref, "6.1", by=BID_MANAGER, text=LEGAL_ANSWER, compliance="comply")
    set_deviations(ctx, ref, [DEVIATION], by=BID_MANAGER)
    renderer = DocxDocuments(settings.templates_dir, settings.rules_dir, clock=lambda: NOW)
    out = tmp / "out"
    bid = render(engine, renderer, ref, out)
    with transaction(engine) as session:
        opp = get_opportunity(session, ref)
        letter = renderer.submission_package(session, opp, out)
        opp.state = State.CONTRACT_PREPARATION
        session.add(opp)
    with transaction(engine) as session:
        opp = get_opportunity(session, ref)
        sheet = renderer.order_sheet(session, opp, out)
    return Golden(engine, ref, out, renderer, bid, letter, sheet, questionnaire)
