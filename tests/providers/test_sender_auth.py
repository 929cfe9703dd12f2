"""Sender authentication of an account's sender domain: SPF, DKIM and DMARC asked of the
loopback DNS server, the provider's own domain status asked of the ESP sandbox, the checklist
stored per account."""

from __future__ import annotations

import pytest

from providers.models import SenderAuthResult
from providers.sandbox.dns import SERVFAIL, TIMEOUT
from providers.sandbox.mandrill_senders import sending_domain_set
from providers.sandbox.sendgrid_domains import domain_authenticate
from providers.services.sender_auth import sender_auth_check
from tests.conftest import TEST_KEYS

pytestmark = pytest.mark.django_db

DOMAIN = "shop.example"
SG_DKIM = {
    "s1._domainkey.shop.example": {"CNAME": ["s1.domainkey.u1.wl.sendgrid.net."]},
    "s2._domainkey.shop.example": {"CNAME": ["s2.domainkey.u1.wl.sendgrid.net."]},
}
MANDRILL_DKIM = {
    "mte1._domainkey.shop.example": {"CNAME": ["dkim1.mandrillapp.com."]},
    "mte2._domainkey.shop.example": {"CNAME": ["dkim2.mandrillapp.com."]},
}


def by_key(result: SenderAuthResult) -> dict[str, dict]:
    return {i["key"]: i for i in result.items}


def check(account) -> tuple[SenderAuthResult, dict[str, dict]]:
    result = sender_auth_check(account_id=account.pk)
    return result, by_key(result)


@pytest.fixture
def sendgrid(make_account, esp_sandbox):
    account = make_account("sendgrid", from_email=f"returns@{DOMAIN}")
    domain_authenticate(esp_sandbox, TEST_KEYS["sendgrid"], DOMAIN)
    return account


def zone(*, spf="v=spf1 include:sendgrid.net ~all", dmarc="v=DMARC1; p=reject", extra=None):
    records = {DOMAIN: {"TXT": [spf]} if spf else {}, **SG_DKIM, **(extra or {})}
    if dmarc:
        records[f"_dmarc.{DOMAIN}"] = {"TXT": [dmarc]}
    return records


def test_a_fully_authenticated_sendgrid_domain_passes_every_item(sendgrid, esp_sandbox, dns_zone):
    dns_zone.set_zone(zone())

    result, items = check(sendgrid)

    assert result.state == "pass"
    assert result.domain == DOMAIN
    assert [i["key"] for i in result.items] == [
        "spf",
        "spf_lookups",
        "dkim",
        "dmarc",
        "dmarc_alignment",
        "provider",
    ]
    assert {i["state"] for i in result.items} == {"pass"}
    assert "include:sendgrid.net" in items["spf"]["found"]
    assert items["spf_lookups"]["found"] == "1 of 10 DNS lookups."
    assert "s1._domainkey.shop.example" in items["dkim"]["found"]
    assert items["provider"]["found"] == "domain authentication 1 is valid"
    # Asked of the loopback server, the exact names.
    asked = set(dns_zone.queries)
    assert ("shop.example", "TXT") in asked
    assert ("_dmarc.shop.example", "TXT") in asked
    assert ("s2._domainkey.shop.example", "CNAME") in asked
    # And of SendGrid, the domain authentication list for this domain.
    calls = [r for r in esp_sandbox.records("sendgrid") if r["path"] == "/v3/whitelabel/domains"]
    assert len(calls) == 1
    assert calls[0]["method"] == "GET"


def test_spf_without_the_provider_include_fails_with_the_record_to_publish(sendgrid, dns_zone):
    dns_zone.set_zone(zone(spf="v=spf1 include:_spf.google.com -all"))

    result, items = check(sendgrid)

    assert result.state == "fail"
    assert items["spf"]["state"] == "fail"
    assert items["spf"]["publish"] == [
        {
            "type": "TXT",
            "host": DOMAIN,
            "value": "v=spf1 include:_spf.google.com include:sendgrid.net -all",
        }
    ]


def test_no_spf_record_fails_with_a_new_record(sendgrid, dns_zone):
    dns_zone.set_zone(zone(spf=None))

    _, items = check(sendgrid)

    assert items["spf"]["state"] == "fail"
    assert items["spf"]["found"] == "No SPF record at shop.example."
    assert items["spf"]["publish"] == [
        {"type": "TXT", "host": DOMAIN, "value": "v=spf1 include:sendgrid.net ~all"}
    ]
    assert "spf_lookups" not in items


def test_more_than_ten_spf_lookups_fails(sendgrid, dns_zone):
    includes = " ".join(f"include:s{n}.example" for n in range(6))
    nested = {f"s{n}.example": {"TXT": ["v=spf1 a mx -all"]} for n in range(6)}
    dns_zone.set_zone(zone(spf=f"v=spf1 include:sendgrid.net {includes} -all", extra=nested))

    _, items = check(sendgrid)

    assert items["spf"]["state"] == "pass"
    assert items["spf_lookups"]["state"] == "fail"
    assert items["spf_lookups"]["found"].startswith("11 DNS lookups")


def test_two_spf_records_fail(sendgrid, dns_zone):
    records = zone()
    records[DOMAIN] = {"TXT": ["v=spf1 include:sendgrid.net ~all", "v=spf1 mx -all"]}
    dns_zone.set_zone(records)

    _, items = check(sendgrid)

    assert items["spf"]["state"] == "fail"
    assert "2 SPF records" in items["spf"]["found"]


def test_sendgrid_dkim_missing_names_the_cnames_sendgrid_reported(sendgrid, dns_zone):
    records = zone()
    del records["s2._domainkey.shop.example"]
    dns_zone.set_zone(records)

    _, items = check(sendgrid)

    assert items["dkim"]["state"] == "fail"
    assert items["dkim"]["publish"] == [
        {
            "type": "CNAME",
            "host": "s2._domainkey.shop.example",
            "value": "s2.domainkey.u1.wl.sendgrid.net",
        }
    ]


def test_sendgrid_dkim_pointing_at_another_user_fails(sendgrid, dns_zone):
    records = zone()
    records["s1._domainkey.shop.example"] = {"CNAME": ["s1.domainkey.u999.wl.sendgrid.net."]}
    dns_zone.set_zone(records)

    _, items = check(sendgrid)

    assert items["dkim"]["state"] == "fail"
    assert "points at s1.domainkey.u999.wl.sendgrid.net" in items["dkim"]["found"]


def test_sendgrid_domain_not_valid_lists_the_records_sendgrid_waits_for(
    make_account, esp_sandbox, dns_zone
):
    account = make_account("sendgrid", from_email=f"returns@{DOMAIN}")
    domain_authenticate(esp_sandbox, TEST_KEYS["sendgrid"], DOMAIN, invalid=("mail_cname",))
    dns_zone.set_zone(zone())

    _, items = check(account)

    assert items["provider"]["state"] == "fail"
    assert items["provider"]["publish"] == [
        {"type": "CNAME", "host": "em1000.shop.example", "value": "u1.wl.sendgrid.net"}
    ]


def test_sendgrid_domain_not_authenticated_at_all(make_account, dns_zone):
    account = make_account("sendgrid", from_email=f"returns@{DOMAIN}")
    dns_zone.set_zone(zone())

    _, items = check(account)

    assert items["provider"]["state"] == "fail"
    assert "not authenticated in SendGrid" in items["provider"]["found"]
    # Without SendGrid's records, any s1/s2 CNAME will do.
    assert items["dkim"]["state"] == "pass"


@pytest.mark.parametrize(
    ("dmarc", "state", "found"),
    [
        ("v=DMARC1; p=none; rua=mailto:d@shop.example", "warn", "p=none (monitoring only)"),
        ("v=DMARC1; p=quarantine", "pass", "p=quarantine."),
        ("v=DMARC1; p=bogus", "fail", "p=bogus is not a policy"),
    ],
)
def test_dmarc_policy(sendgrid, dns_zone, dmarc, state, found):
    dns_zone.set_zone(zone(dmarc=dmarc))

    _, items = check(sendgrid)

    assert items["dmarc"]["state"] == state
    assert found in items["dmarc"]["found"]


def test_dmarc_missing_fails_with_the_record_to_publish(sendgrid, dns_zone):
    dns_zone.set_zone(zone(dmarc=None))

    result, items = check(sendgrid)

    assert result.state == "fail"
    assert items["dmarc"]["state"] == "fail"
    assert items["dmarc"]["publish"] == [
        {"type": "TXT", "host": "_dmarc.shop.example", "value": "v=DMARC1; p=none"}
    ]
    assert "dmarc_alignment" not in items


def test_dmarc_of_a_subdomain_falls_back_to_the_organisational_domain(
    make_account, esp_sandbox, dns_zone
):
    account = make_account("mailchimp_marketing", from_email="news@mail.shop.example")
    dns_zone.set_zone({"_dmarc.shop.example": {"TXT": ["v=DMARC1; p=reject"]}})

    _, items = check(account)

    assert items["dmarc"]["state"] == "pass"
    assert "(inherited from _dmarc.shop.example)" in items["dmarc"]["found"]


def test_strict_dmarc_alignment_is_a_warning(sendgrid, dns_zone):
    dns_zone.set_zone(zone(dmarc="v=DMARC1; p=reject; aspf=s; adkim=r"))

    result, items = check(sendgrid)

    assert items["dmarc_alignment"]["state"] == "warn"
    assert items["dmarc_alignment"]["found"] == "adkim=r, aspf=s (strict)."
    assert "SPF never aligns strictly" in items["dmarc_alignment"]["note"]
    assert result.state == "warn"


def test_a_dns_timeout_is_could_not_check_not_a_failure(sendgrid, dns_zone):
    records = zone()
    records[f"_dmarc.{DOMAIN}"] = TIMEOUT
    dns_zone.set_zone(records)

    result, items = check(sendgrid)

    assert items["dmarc"]["state"] == "unknown"
    assert items["dmarc"]["found"].startswith("Could not check: no DNS answer")
    assert items["spf"]["state"] == "pass"
    assert result.state == "unknown"


def test_servfail_is_could_not_check(sendgrid, dns_zone):
    records = zone()
    records[DOMAIN] = SERVFAIL
    dns_zone.set_zone(records)

    _, items = check(sendgrid)

    assert items["spf"]["state"] == "unknown"
    assert "SERVFAIL" in items["spf"]["found"]


def test_mandrill_dkim_cnames_and_sending_domain_status(make_account, esp_sandbox, dns_zone):
    account = make_account("mailchimp_transactional", from_email=f"returns@{DOMAIN}")
    sending_domain_set(esp_sandbox, TEST_KEYS["mailchimp_transactional"], DOMAIN)
    dns_zone.set_zone(
        {
            DOMAIN: {"TXT": ["v=spf1 include:spf.mandrillapp.com ~all"]},
            f"_dmarc.{DOMAIN}": {"TXT": ["v=DMARC1; p=quarantine"]},
            **MANDRILL_DKIM,
        }
    )

    result, items = check(account)

    assert result.state == "pass", result.items
    assert items["provider"]["label"] == "Mailchimp Transactional domain authentication"
    assert items["provider"]["found"] == "valid for signing"
    calls = esp_sandbox.records("mandrill")
    assert [c["path"] for c in calls] == ["/api/1.3/senders/domains.json"]


def test_mandrill_legacy_dkim_key_passes(make_account, esp_sandbox, dns_zone):
    account = make_account("mailchimp_transactional", from_email=f"returns@{DOMAIN}")
    dns_zone.set_zone(
        {
            DOMAIN: {"TXT": ["v=spf1 include:spf.mandrillapp.com ~all"]},
            "mandrill._domainkey.shop.example": {"TXT": ["v=DKIM1; k=rsa; p=MIGfMA0GCSq"]},
        }
    )

    _, items = check(account)

    assert items["dkim"]["state"] == "pass"
    assert "mandrill._domainkey" in items["dkim"]["found"]


def test_mandrill_dkim_missing_publishes_the_cnames(make_account, esp_sandbox, dns_zone):
    account = make_account("mailchimp_transactional", from_email=f"returns@{DOMAIN}")
    sending_domain_set(
        esp_sandbox, TEST_KEYS["mailchimp_transactional"], DOMAIN, dkim=False, verified=False
    )
    dns_zone.set_zone({DOMAIN: {"TXT": ["v=spf1 include:spf.mandrillapp.com ~all"]}})

    _, items = check(account)

    assert items["dkim"]["state"] == "fail"
    assert items["dkim"]["publish"] == [
        {"type": "CNAME", "host": "mte1._domainkey.shop.example", "value": "dkim1.mandrillapp.com"},
        {"type": "CNAME", "host": "mte2._domainkey.shop.example", "value": "dkim2.mandrillapp.com"},
    ]
    assert items["provider"]["state"] == "fail"
    assert "DKIM not valid" in items["provider"]["found"]
    assert "not verified" in items["provider"]["found"]
    verify = [r for r in items["provider"]["publish"] if r["value"].startswith("mandrill_verify.")]
    assert verify
    assert verify[0]["host"] == DOMAIN


def test_mailchimp_marketing_checks_dmarc_only_and_says_so(make_account, esp_sandbox, dns_zone):
    account = make_account("mailchimp_marketing", from_email=f"news@{DOMAIN}")
    dns_zone.set_zone({f"_dmarc.{DOMAIN}": {"TXT": ["v=DMARC1; p=reject"]}})

    result, items = check(account)

    assert set(items) == {"dmarc", "dmarc_alignment"}
    assert result.state == "pass"
    assert "only the From domain's DMARC is checked" in result.note
    assert esp_sandbox.records("mailchimp") == []


def test_smtp_relay_of_a_known_provider_is_checked_for_its_include(make_account, dns_zone):
    account = make_account("smtp", from_email=f"returns@{DOMAIN}", smtp_host="smtp.sendgrid.net")
    dns_zone.set_zone(zone(spf="v=spf1 include:spf.mandrillapp.com ~all"))

    _, items = check(account)

    assert items["spf"]["state"] == "fail"
    assert "SendGrid (SMTP relay smtp.sendgrid.net) is not allowed" in items["spf"]["found"]
    assert "provider" not in items


def test_smtp_relay_unknown_needs_only_an_spf_record(make_account, dns_zone):
    account = make_account("smtp", from_email=f"returns@{DOMAIN}")
    dns_zone.set_zone(zone(spf="v=spf1 ip4:192.0.2.1 -all"))

    result, items = check(account)

    assert items["spf"]["state"] == "pass"
    assert items["spf"]["found"].endswith("(an SPF record exists)")
    assert items["dkim"]["state"] == "warn"
    assert "SPF is checked for a record's presence only" in result.note


def test_a_provider_that_cannot_be_reached_is_could_not_check(sendgrid, esp_sandbox, dns_zone):
    from providers.sandbox.core import Fault

    esp_sandbox.faults.add("*", Fault("500", times=1))
    dns_zone.set_zone(zone())

    _, items = check(sendgrid)

    assert items["provider"]["state"] == "unknown"
    assert items["provider"]["found"].startswith("Could not ask SendGrid")


def test_the_latest_result_replaces_the_previous(sendgrid, dns_zone):
    dns_zone.set_zone(zone(dmarc=None))
    check(sendgrid)
    dns_zone.set_zone(zone())

    result, _ = check(sendgrid)

    assert SenderAuthResult.objects.filter(account=sendgrid).count() == 1
    assert SenderAuthResult.objects.get(account=sendgrid).state == result.state == "pass"


def test_the_daily_schedule_checks_every_active_account(
    make_account, dns_zone, django_capture_on_commit_callbacks
):
    from django_q.models import Schedule

    from config.task_guard import is_task_entry_point
    from providers.tasks import check_sender_auth_all

    schedule = Schedule.objects.get(func="providers.tasks.check_sender_auth_all")
    active = make_account("smtp")
    make_account("smtp", is_active=False)
    dns_zone.set_zone(zone())

    with django_capture_on_commit_callbacks(execute=True):
        queued = check_sender_auth_all()

    assert (schedule.schedule_type, schedule.repeats) == ("D", -1)
    assert is_task_entry_point(schedule.func)
    assert queued == 1
    assert list(SenderAuthResult.objects.values_list("account_id", "state")) == [
        (active.pk, "warn")  # an unknown relay: SPF present, DKIM selector unknown
    ]


def test_a_dns_that_never_answers_is_given_up_after_two_timeouts(sendgrid, dns_zone):
    dns_zone.set_zone(zone() | {DOMAIN: TIMEOUT, "s1._domainkey.shop.example": TIMEOUT})

    result, items = check(sendgrid)

    assert result.state == "unknown"
    assert items["spf"]["state"] == items["dkim"]["state"] == items["dmarc"]["state"] == "unknown"
    # _dmarc answers, but after two timeouts (SPF, DKIM) it is not asked.
    assert items["dmarc"]["found"].startswith("Could not check: not asked for _dmarc")
    assert ("_dmarc.shop.example", "TXT") not in dns_zone.queries


def test_the_provider_include_may_come_through_an_include_of_ours(sendgrid, dns_zone):
    ours = {"_spf.shop.example": {"TXT": ["v=spf1 include:sendgrid.net ~all"]}}
    dns_zone.set_zone(zone(spf="v=spf1 include:_spf.shop.example -all", extra=ours))

    _, items = check(sendgrid)

    assert items["spf"]["state"] == "pass"
    assert items["spf_lookups"]["found"] == "2 of 10 DNS lookups."
