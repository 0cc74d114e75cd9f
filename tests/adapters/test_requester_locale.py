"""The requester's locale reaches the pipeline (Person.locale) where the helpdesk gives it with the ticket:
Zendesk side-loads the users with ``include=users``, so no extra request (which Portuguese a draft speaks)."""

from __future__ import annotations

import json

import responses

from tests.conftest import load_fixture


@responses.activate
def test_zendesk_passes_the_side_loaded_requesters_locale():
    from adapters.zendesk import ZendeskAdapter
    from app.settings import load_settings

    s = load_settings({"ZENDESK_URL": "https://acme.zendesk.com", "ZENDESK_EMAIL": "a@b.c", "ZENDESK_API_TOKEN": "t"})
    show = json.loads(load_fixture("zendesk", "api_ticket_show.json"))
    requester = str(show["ticket"]["requester_id"])
    for u in show["users"]:
        if str(u["id"]) == requester:
            u["locale"] = "pt-BR"
    responses.get("https://acme.zendesk.com/api/v2/tickets/1.json", json=show)
    responses.get("https://acme.zendesk.com/api/v2/tickets/1/comments.json", json={"comments": [], "meta": {}})
    assert ZendeskAdapter(s.zendesk).fetch_ticket("1").requester.locale == "pt-BR"
    for u in show["users"]:
        u["locale"] = "<script>"  # not a language tag: nothing
    responses.replace(responses.GET, "https://acme.zendesk.com/api/v2/tickets/1.json", json=show)
    assert ZendeskAdapter(s.zendesk).fetch_ticket("1").requester.locale is None
