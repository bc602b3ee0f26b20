"""Templates and channels as YAML: apply, re-apply, export, apply the export again."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tactica.errors import InvalidInput
from tactica.services import as_code, channel_configs, templates
from tactica.store.db import Store

DOCS = """\
kind: Offer
code: GOLD
name: Gold deposit
---
kind: MessageTemplate
name: deposit
channel: email
language: en
subject: "{{ offer.name }} for you"
body: |
  Dear {{ customer.email }},

  {{ offer.name }} is waiting.
  Unsubscribe: {{ unsubscribe_url }}
---
kind: MessageTemplate
name: deposit
channel: sms
language: zh
body: "{{ offer.name }} 现已推出"
---
kind: Channel
name: mail
adapter: smtp
settings: {host: mail.example.com, port: 587, sender: offers@example.com, password: pw-1}
rate_per_second: 20
quiet_start: 21:00
quiet_end: "08:00"
timezone: Europe/Lisbon
cost_per_message: 0.001
---
kind: Channel
name: calls
adapter: call_centre
settings: {folder: /srv/calls, script: "Offer the deposit"}
daily_capacity: 400
enabled: false
"""


def _apply(store: Store, path: Path) -> list[tuple[str, str, str]]:
    with store.session() as s:
        done = as_code.apply_file(s, path, actor="t")
        s.commit()
    return [(a.kind, a.name, a.result) for a in done]


def test_apply_reapply_export_and_apply_the_export(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "dispatch.yaml"
    path.write_text(DOCS, encoding="utf-8")
    assert _apply(store, path) == [
        ("Offer", "GOLD", "created"),
        ("MessageTemplate", "deposit (email, en)", "created"),
        ("MessageTemplate", "deposit (sms, zh)", "created"),
        ("Channel", "mail", "created"),
        ("Channel", "calls", "created"),
    ]
    assert {r for _, _, r in _apply(store, path)} == {"unchanged"}
    with store.session() as s:
        mail = channel_configs.get_channel(s, "mail")
        assert (mail.quiet_start, mail.settings["password"]) == ("21:00", "pw-1")
        email = templates.get_template(s, "deposit", "email", "en")
        assert email.body.endswith("Unsubscribe: {{ unsubscribe_url }}\n")
        exported = as_code.export_documents(s)
    # Secrets never leave in clear; a body of several lines stays readable.
    assert "pw-1" not in exported and "password: '********'" in exported
    assert "body: |\n  Dear {{ customer.email }},\n" in exported
    docs = list(yaml.safe_load_all(exported))
    mail_doc = next(d for d in docs if d["kind"] == "Channel" and d["name"] == "mail")
    assert mail_doc["adapter"] == "smtp" and mail_doc["cost_per_message"] == "0.001"
    again = tmp_path / "export.yaml"
    again.write_text(exported, encoding="utf-8")
    # The export applies to the same workspace as no change, secrets kept.
    assert {r for _, _, r in _apply(store, again)} == {"unchanged"}
    with store.session() as s:
        assert channel_configs.get_channel(s, "mail").settings["password"] == "pw-1"


def test_a_masked_secret_is_refused_where_none_is_saved(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "masked.yaml"
    path.write_text(
        "kind: Channel\nname: hook\nadapter: webhook\n"
        "settings: {url: 'https://h.example.com', secret: '********'}\n"
    )
    with store.session() as s, pytest.raises(InvalidInput) as err:
        as_code.apply_file(s, path, actor="t")
    assert str(err.value) == (
        f"{path}, document 1 (Channel): channel 'hook': has problems:\n"
        "- settings.secret: '********' is the mask shown in place of a secret, not a secret; "
        "give the real value"
    )


def test_problems_name_file_document_and_field(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(
        DOCS.replace("{{ customer.email }}", "{{ customer.emial }}")
        + "---\nkind: Channel\nname: x\nadapter: pigeon\n"
    )
    with store.session() as s, pytest.raises(InvalidInput) as err:
        as_code.apply_file(s, path, actor="t")
    assert str(err.value).startswith(
        f"{path}, document 2 (MessageTemplate): template 'deposit' (email, en): has problems:\n"
        "- body, line 1: unknown customer field 'emial'"
    )
    path.write_text("kind: Channel\nname: x\nadapter: pigeon\n")
    with store.session() as s, pytest.raises(InvalidInput) as err:
        as_code.apply_file(s, path, actor="t")
    assert "adapter: unknown adapter 'pigeon'; adapters are: smtp, sms_http" in str(err.value)
    path.write_text("kind: MessageTemplate\nname: x\nchannel: sms\nbody: hi\nlang: en\n")
    with store.session() as s, pytest.raises(InvalidInput, match=r"unknown key\(s\) lang"):
        as_code.apply_file(s, path, actor="t")
    with store.session() as s:
        # All or nothing: the offer of the first file was not saved either.
        assert as_code.export_documents(s).count("kind: Offer") == 0
