"""API calls per processed ticket, per helpdesk (fewer is better: every call spends rate budget).

Drives the real adapters (fetch_ticket + write_back of a typical plan) against the stateful fake
helpdesks of the contract suite (``responses``; nothing leaves the machine) and counts the
requests each platform receives.

    python -m bench.api_calls
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

import responses

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pipeline.models import Outcome, Plan, TicketEvent  # noqa: E402
from tests.adapters.test_contract import KITS, MemorySteps, Waits, make, note_for  # noqa: E402

SCENARIOS = {
    "typical": "4-message thread; plan: note + 2 new tags + 1 field + priority",
    "with macro": "same plan + a macro / canned response applied",
    "long thread": "250-message thread, typical plan",
    "retried job": "the same event again after every step was done",
}


def run(kit, scenario: str) -> Counter:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        fake, adapter = make(kit, rsps, Waits(), n_messages=250 if scenario == "long thread" else 4)
        html, text, mk = note_for("bench-1")
        plan = Plan(intent="wismo", tags=["ai-intent-wismo", "ai-lang-en"], fields={kit.field_id: "refund"},
                    priority="high", macro=kit.macro_id if scenario == "with macro" else None, macro_mode="apply")
        out = Outcome(event=TicketEvent(platform=kit.name, event_id="bench-1", ticket_id=fake.tid),
                      ticket_id=fake.tid, plan=plan, note_html=html, note_text=text, marker=mk)
        steps = MemorySteps()
        if scenario == "retried job":
            adapter.write_back(adapter.fetch_ticket(fake.tid), out, steps)
            fake.calls.clear()
        adapter.write_back(adapter.fetch_ticket(fake.tid), out, steps)
        return Counter(c.method for c in fake.calls)


def main() -> None:
    names = [k.name for k in KITS]
    print("API calls per processed ticket (fetch + write_back), by scenario")
    print(f"{'scenario':<14}" + "".join(f"{n:>26}" for n in names))
    for scenario, what in SCENARIOS.items():
        cells = []
        for kit in KITS:
            c = run(kit, scenario)
            detail = " ".join(f"{c[m]}{m}" for m in ("GET", "PUT", "POST") if c[m])
            cells.append(f"{sum(c.values())} ({detail})")
        print(f"{scenario:<14}" + "".join(f"{x:>26}" for x in cells) + f"   {what}")
    print("""
Why:
  zendesk    read: ticket (+users side-loaded) + 1 comments page per 100; write: note PUT, tags PUT
             (the tags endpoint adds; tags never go in a ticket update), one ticket PUT for fields+priority(+group).
  gorgias    read: ticket (custom_fields relationship) + 1 messages page per 100 (when the ticket object
             embeds its messages, the read is 1 call); write: note POST, tags POST (adds), one PUT per custom
             field (the bulk PUT would delete the others), one ticket PUT for priority(+team).
  freshdesk  read: ticket (requester included) + 1 conversations page per 100; write: note POST, then one
             ticket PUT for tags+fields+priority(+group) preceded by a fresh GET because PUT replaces the tags.
  Unchanged values (tags already there, same field value, same priority) are not written; a retried job
  re-reads the ticket and writes nothing (step log + the note's marker in the thread).""")


if __name__ == "__main__":
    main()
