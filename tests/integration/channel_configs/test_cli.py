"""``tactica templates`` and ``tactica channels`` end to end on both databases."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import Tactica

CUSTOMERS = "id,first_name,language,msisdn,email\nc1,Ana,en,+351900000001,ana@x.org\n"


def test_templates_add_list_show_preview_remove(tactica: Tactica, tmp_path: Path) -> None:
    data = tmp_path / "customers.csv"
    data.write_text(CUSTOMERS)
    assert tactica("customers", "import", str(data)).code == 0
    assert tactica("offers", "create", "GOLD", "--name", "Gold deposit").code == 0
    r = tactica(
        "templates", "add", "deposit", "--channel", "sms", "--body",
        "Hi {{ customer.first_name }}, {{ offer.name }} awaits.",
    )  # fmt: skip
    assert r.code == 0, r.err
    assert "Template deposit (sms, en) created." in r.out
    assert "As written: GSM-7" in r.out
    ru = tmp_path / "ru.txt"
    ru.write_text("Здравствуйте, {{ customer.first_name }}!", encoding="utf-8")
    r = tactica(
        "templates", "add", "deposit", "--channel", "sms", "--language", "ru", "-f", str(ru)
    )
    assert r.code == 0, r.err
    r = tactica("templates", "list")
    assert r.code == 0 and "deposit" in r.out and "UCS-2" in r.out and "GSM-7" in r.out
    r = tactica("templates", "show", "deposit")
    assert "Здравствуйте, {{ customer.first_name }}!" in r.out
    r = tactica("templates", "preview", "deposit", "--channel", "sms", "--customer", "c1")
    assert r.code == 0, r.err
    assert "Hi Ana, Gold deposit awaits." in r.out and "GSM-7, 28 units, 1 segment" in r.out
    r = tactica(
        "templates", "preview", "deposit", "--channel", "sms", "--customer", "c1",
        "--language", "ru",
    )  # fmt: skip
    assert "Здравствуйте, Ana!" in r.out and "UCS-2" in r.out
    r = tactica("templates", "remove", "deposit", "--channel", "sms", "--language", "ru")
    assert r.code == 0 and "Removed template deposit (sms, ru)." in r.out
    assert "Здравствуйте" not in tactica("templates", "show", "deposit").out


def test_template_errors_are_clear(tactica: Tactica) -> None:
    r = tactica(
        "templates", "add", "w", "--channel", "sms", "--body", "Hi\n{{ customer.frist_name }}"
    )
    assert r.code == 2
    assert "template 'w' (sms, en): has problems" in r.err
    assert "body, line 2: unknown customer field 'frist_name'" in r.err
    r = tactica("templates", "add", "w", "--channel", "sms")
    assert r.code == 2 and "--body TEXT or --file PATH" in r.err
    r = tactica("templates", "show", "nope")
    assert r.code == 4 and "no template 'nope'" in r.err
    r = tactica("templates", "preview", "nope", "--channel", "sms", "--customer", "c1")
    assert r.code == 4


def test_email_preview_prints_a_signed_link(tactica: Tactica, tmp_path: Path) -> None:
    data = tmp_path / "customers.csv"
    data.write_text(CUSTOMERS)
    assert tactica("customers", "import", str(data)).code == 0
    r = tactica(
        "templates", "add", "hello", "--channel", "email", "--subject", "Hello [friend]",
        "--body", "Bye: {{ unsubscribe_url }}",
    )  # fmt: skip
    assert r.code == 0, r.err
    r = tactica("templates", "preview", "hello", "--channel", "email", "--customer", "c1")
    assert r.code == 0, r.err
    assert "Hello [friend]" in r.out
    assert "Bye: http://127.0.0.1:8000/unsubscribe/" in r.out


def test_channels_add_list_show_remove_never_print_secrets(tactica: Tactica) -> None:
    r = tactica(
        "channels", "add", "gateway", "--kind", "sms_http",
        "--set", "url=https://sms.example.com", "--set", "api_key=sk-SECRET-1",
        "--set", "batch_size=20", "--rate", "50", "--quiet", "21:00-08:00",
        "--timezone", "Europe/Lisbon", "--max-attempts", "3", "--cost", "0.05",
    )  # fmt: skip
    assert r.code == 0, r.err
    assert "Channel gateway (sms_http → sms) created." in r.out
    r = tactica(
        "channels", "add", "calls", "--kind", "call_centre", "--set", "folder=/srv/calls",
        "--daily-capacity", "400", "--disable",
    )  # fmt: skip
    assert r.code == 0, r.err
    listed = tactica("channels", "list")
    assert "gateway" in listed.out and "21:00-08:00 Europe/Lisbon" in listed.out
    assert "400" in listed.out and "0.05" in listed.out
    shown = tactica("channels", "show", "gateway")
    assert "********" in shown.out and "batch_size" in shown.out
    exported = tactica("export")
    for out in (listed, shown, exported):
        assert "sk-SECRET-1" not in out.out + out.err
    r = tactica("channels", "remove", "calls")
    assert r.code == 0 and "Removed channel calls." in r.out
    assert "calls" not in tactica("channels", "list").out


def test_channel_errors_are_clear(tactica: Tactica) -> None:
    r = tactica("channels", "add", "x", "--kind", "sms_http", "--set", "url=ftp://h")
    assert r.code == 2
    assert "settings.api_key: is required for kind sms_http" in r.err
    assert "settings.url: an http:// or https:// URL" in r.err
    r = tactica("channels", "add", "x", "--kind", "smtp", "--quiet", "late")
    assert r.code == 2 and "--quiet: quiet hours like 21:00-08:00" in r.err
    r = tactica("channels", "add", "x", "--kind", "webhook", "--set", "secret")
    assert r.code == 2 and "'secret' is not key=value" in r.err
    r = tactica("channels", "add", "x", "--kind", "webhook", "--cost", "cheap")
    assert r.code == 2 and "--cost: 'cheap' is not an amount" in r.err
    r = tactica("channels", "show", "nope")
    assert r.code == 4 and "no channel 'nope'" in r.err
