"""Reading odd messages without the database: no Message-ID, HTML only, broken headers, a MAILER-DAEMON mail
without a report, a report that only says "delayed"; merge fields on a whitelisted context."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from integrations.email import merge, parse


def test_a_message_without_an_id_gets_a_stable_one() -> None:
    raw = b"From: a@b.example\r\nSubject: x\r\n\r\nbody\r\n"
    msg = parse.parse(raw)
    assert parse.message_id(msg, raw) == parse.message_id(parse.parse(raw), raw)
    assert parse.message_id(msg, raw).endswith("@no-message-id.invalid")


def test_html_only_text_and_odd_headers() -> None:
    raw = (
        b"From: =?utf-8?q?Ann=C3=A9?= <ANNE@Example.COM>, broken<<\r\nTo: undisclosed-recipients:;\r\n"
        b"Cc: b@example.com, b@example.com\r\nSubject: =?utf-8?b?0J/RgNC40LLQtdGC?=\r\nDate: not a date\r\n"
        b"Content-Type: text/html; charset=utf-8\r\n\r\n<p>Hello <b>there</b></p>\x00\r\n"
    )
    msg = parse.parse(raw)
    assert parse.addresses(msg, "From") == ["anne@example.com"]
    assert parse.addresses(msg, "To", "Cc") == ["b@example.com"]
    assert parse.subject(msg) == "Привет"
    assert parse.date(msg) is None
    assert parse.body_text(msg, 100) == "Hello there"


def test_bounces() -> None:
    daemon = b"From: MAILER-DAEMON@mx.example\r\nSubject: failure\r\nIn-Reply-To: <orig@x>\r\n\r\nfailed\r\n"
    msg = parse.parse(daemon)
    assert parse.is_bounce(msg)
    found = parse.bounce_of(msg)
    assert found is not None and found.original_ids == ["orig@x"]
    delayed = (
        b"From: postmaster@mx.example\r\nContent-Type: multipart/report; report-type=delivery-status; "
        b'boundary="B"\r\n\r\n--B\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx\r\n\r\n'
        b"Final-Recipient: rfc822; a@b.example\r\nAction: delayed\r\nStatus: 4.4.1\r\n\r\n--B--\r\n"
    )
    msg = parse.parse(delayed)
    assert parse.is_bounce(msg) and parse.bounce_of(msg) is None
    assert not parse.is_bounce(parse.parse(b"From: anna@client.example\r\n\r\nhi\r\n"))


def test_merge_fields_reach_only_the_whitelisted_values() -> None:
    values = {"contact": {"first_name": "Ann"}, "company": {"name": ""}}
    assert merge.render("Hi {{ contact.first_name|upper }}{% if company.name %}!{% endif %}", values) == "Hi ANN"
    assert merge.render("{{ contact.email }}{{ user.password }}", values) == ""
    for bad in ("{% load static %}", "{% include 'x.html' %}", "{% debug %}", "{{ a.__dict__ }}", "{% for %}"):
        with pytest.raises(ValidationError):
            merge.template_check(bad)
