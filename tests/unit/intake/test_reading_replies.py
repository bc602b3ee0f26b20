"""Reading an e-mail reply: the customer's own words, without what they quoted or signed."""

from __future__ import annotations

from email.message import EmailMessage

import pytest

from tactica.channels.inbound_smtp import html_to_text, own_words, read_mail

QUOTED = "> Dear c01,\n> Gold card is waiting.\n> Reply YES to take it."


@pytest.mark.parametrize(
    ("text", "words"),
    [
        # Gmail, English; the attribution line wrapped in two, as long ones are.
        (
            f"Yes please!\n\nOn Mon, 24 Nov 2026 at 12:00, Bank <o@bank.example> wrote:\n{QUOTED}",
            "Yes please!",
        ),
        (
            f"Tell me more\n\nOn Mon, 24 Nov 2026 at 12:00, Bank Offers <o@bank.example>\n"
            f"wrote:\n{QUOTED}",
            "Tell me more",
        ),
        # Outlook: a separator line, or a From/Sent block, and no '>' at all.
        (
            "STOP\n\n-----Original Message-----\n"
            "From: Bank\nSent: Monday\nSubject: Gold\n\nDear c01",
            "STOP",
        ),
        (
            "YES\n\nFrom: Bank <o@bank.example>\nSent: Monday, November 24, 2026 12:00 PM\n"
            "To: c01\nSubject: Gold\n\nDear c01",
            "YES",
        ),
        # Chinese clients.
        (f"退订\n\n在 2026年11月24日 12:00，Bank <o@bank.example> 写道：\n{QUOTED}", "退订"),
        (
            "好的，我要\n\n发自我的iPhone\n\n------------------ 原始邮件 ------------------\n"
            '发件人: "Bank"<o@bank.example>\n发送时间: 2026年11月24日\n\n您好',
            "好的，我要",
        ),
        (
            "想了解一下\n\n发件人: Bank <o@bank.example>\n发送时间: 2026年11月24日 12:00\n"
            "收件人: c01\n主题: Gold",
            "想了解一下",
        ),
        # Russian clients.
        (f"Стоп\n\n24 нояб. 2026 г., в 12:00, Bank <o@bank.example> пишет:\n{QUOTED}", "Стоп"),
        (
            f"Да, интересно\n\nпн, 24 нояб. 2026 г. в 12:00, Bank <o@bank.example>:\n{QUOTED}",
            "Да, интересно",
        ),
        ("Хочу\n\n-------- Исходное сообщение --------\nОт: Bank\nДата: 24.11.2026", "Хочу"),
        ("Ответ\n\nОтправлено с iPhone", "Ответ"),
        # Signatures.
        ("Yes\n-- \nJohn Smith\nACME Ltd", "Yes"),
        ("Sure thing\n\nSent from my iPhone", "Sure thing"),
        # Written below the quote (bottom-posting), or between quoted lines.
        (f"On Mon, 24 Nov 2026, Bank wrote:\n{QUOTED}\n\nYES", "YES"),
        ("> Reply YES to take it.\nYES\n", "YES"),
        # Nothing quoted: all of it.
        ("Is there an annual fee?\nThanks", "Is there an annual fee?\nThanks"),
    ],
)
def test_own_words(text: str, words: str) -> None:
    assert own_words(text) == words


def test_html_is_read_as_its_text_without_the_quoted_block() -> None:
    html = (
        "<html><head><style>p { color: red }</style></head><body>"
        '<div dir="ltr">Yes &amp; thanks<br>Ana</div><br>'
        '<div class="gmail_quote"><div class="gmail_attr">On Mon, Bank wrote:</div>'
        "<blockquote>Dear c01, Gold card</blockquote></div></body></html>"
    )
    assert html_to_text(html) == "Yes & thanks\nAna"


def _reply(**parts: str) -> EmailMessage:
    m = EmailMessage()
    m["From"] = "Ana Lima <C01@Example.com>"
    m["To"] = "Bank <replies+abc@bank.example>"
    m["Subject"] = "Re:  Your Gold card"
    m["Message-ID"] = "<reply-1@mail.example>"
    m["In-Reply-To"] = "<tactica.aaa@bank.example>"
    m["References"] = "<first@bank.example> <tactica.aaa@bank.example>"
    m.set_content(parts.get("plain", "Yes please\n\n> quoted"))
    if "html" in parts:
        m.add_alternative(parts["html"], subtype="html")
    return m


def test_a_mail_is_read_with_its_ids_and_addresses() -> None:
    mail = read_mail(bytes(_reply()), rcpt_tos=["replies+abc@bank.example"])
    assert mail.message_id == "<reply-1@mail.example>"
    assert mail.sender == "C01@Example.com"
    assert mail.recipients == ("replies+abc@bank.example",)
    assert mail.subject == "Re: Your Gold card"
    assert mail.text == "Yes please"
    assert mail.in_reply_to == ("<tactica.aaa@bank.example>",)
    assert mail.references == ("<tactica.aaa@bank.example>", "<first@bank.example>")
    assert not mail.automatic


def test_the_plain_part_is_preferred_and_html_alone_is_read() -> None:
    both = _reply(plain="Plain words", html="<p>HTML words</p>")
    assert read_mail(bytes(both)).text == "Plain words"
    only_html = EmailMessage()
    only_html["From"] = "c01@example.com"
    only_html.set_content("<p>Да, <b>хочу</b></p><blockquote>старое</blockquote>", subtype="html")
    assert read_mail(bytes(only_html)).text == "Да, хочу"


def test_a_mail_without_message_id_gets_one_from_its_bytes() -> None:
    m = _reply()
    del m["Message-ID"]
    first, again = read_mail(bytes(m)), read_mail(bytes(m))
    assert first.message_id == again.message_id
    assert first.message_id.startswith("<sha256.")


def test_auto_replies_and_bounces_are_marked_automatic() -> None:
    auto = _reply(plain="I am out of the office until Monday. STOP by my desk later.")
    auto["Auto-Submitted"] = "auto-replied"
    assert read_mail(bytes(auto)).automatic
    assert read_mail(bytes(_reply()), mail_from="<>").automatic
    assert not read_mail(bytes(_reply()), mail_from="c01@example.com").automatic
