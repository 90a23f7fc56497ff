"""Reply bodies in the shapes that mail clients write, with the text a person would call the reply.

Written for this project after the layouts of Gmail, Outlook (desktop and web), Apple Mail,
Thunderbird and the mobile clients, in several languages. Each case is the decoded body of one
reply (plain text, and for some an HTML body too), the reply's own text and its signature.
Used by the tests of ``ses_mail.replies`` and by ``bench/reply_text_bench.py``.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ReplyCase:
    name: str
    client: str
    language: str
    text: str
    reply: str
    signature: str | None = None
    html: str | None = None


CASES: tuple[ReplyCase, ...] = (
    ReplyCase(
        "gmail-en",
        "Gmail",
        "en",
        "Thanks, the new toner fixed it.\n\n"
        "On Tue, Dec 1, 2026 at 10:02 AM Support <support@mail.example.com> wrote:\n\n"
        "> Hello Dana,\n>\n> Try replacing the toner.\n>\n> Support\n",
        "Thanks, the new toner fixed it.",
        html=(
            '<div dir="ltr">Thanks, the new toner fixed it.</div><br>'
            '<div class="gmail_quote"><div dir="ltr" class="gmail_attr">On Tue, Dec 1, 2026 at '
            "10:02 AM Support &lt;support@mail.example.com&gt; wrote:<br></div>"
            '<blockquote class="gmail_quote" style="margin:0px 0px 0px 0.8ex">Hello Dana,<br><br>'
            "Try replacing the toner.<br><br>Support</blockquote></div>"
        ),
    ),
    ReplyCase(
        "gmail-en-wrapped-attribution",
        "Gmail",
        "en",
        "Could you send me the invoice again? I can't find it.\n\n"
        "On Tue, Dec 1, 2026 at 10:02 AM Customer Support Team of Example Corporation <\n"
        "support@mail.example.com> wrote:\n\n> Your invoice is attached.\n",
        "Could you send me the invoice again? I can't find it.",
    ),
    ReplyCase(
        "gmail-de",
        "Gmail",
        "de",
        "Danke, das hat geholfen.\n\n"
        "Am Di., 1. Dez. 2026 um 10:02 Uhr schrieb Support <support@mail.example.com>:\n\n"
        "> Hallo Dana,\n> bitte den Toner tauschen.\n",
        "Danke, das hat geholfen.",
    ),
    ReplyCase(
        "gmail-fr",
        "Gmail",
        "fr",
        "Merci, tout fonctionne maintenant.\n\n"
        "Le mar. 1 déc. 2026 à 10:02, Support <support@mail.example.com> a écrit :\n\n"
        "> Bonjour,\n> Essayez de remplacer le toner.\n",
        "Merci, tout fonctionne maintenant.",
    ),
    ReplyCase(
        "gmail-es",
        "Gmail",
        "es",
        "Gracias, ya funciona.\n\n"
        "El mar, 1 dic 2026 a las 10:02, Support (<support@mail.example.com>) escribió:\n\n"
        "> Hola,\n> Pruebe a cambiar el tóner.\n",
        "Gracias, ya funciona.",
    ),
    ReplyCase(
        "gmail-nl",
        "Gmail",
        "nl",
        "Bedankt, het werkt weer.\n\n"
        "Op di 1 dec 2026 om 10:02 schreef Support <support@mail.example.com>:\n\n"
        "> Hallo,\n> Vervang de toner.\n",
        "Bedankt, het werkt weer.",
    ),
    ReplyCase(
        "gmail-it",
        "Gmail",
        "it",
        "Grazie, ora funziona.\n\n"
        "Il giorno mar 1 dic 2026 alle ore 10:02 Support <support@mail.example.com> ha "
        "scritto:\n\n> Buongiorno,\n> Sostituisca il toner.\n",
        "Grazie, ora funziona.",
    ),
    ReplyCase(
        "gmail-ja",
        "Gmail",
        "ja",
        "ありがとうございます。解決しました。\n\n"
        "2026年12月1日(火) 10:02 Support <support@mail.example.com>:\n\n"
        "> トナーを交換してください。\n",
        "ありがとうございます。解決しました。",
    ),
    ReplyCase(
        "gmail-pl",
        "Gmail",
        "pl",
        "Dziękuję, działa.\n\n"
        "wt., 1 gru 2026 o 10:02 Support <support@mail.example.com> napisał(a):\n\n"
        "> Dzień dobry,\n> Proszę wymienić toner.\n",
        "Dziękuję, działa.",
    ),
    ReplyCase(
        "outlook-desktop-en",
        "Outlook",
        "en",
        "Hi,\n\nThe printer is still jammed after the update.\n\nRegards,\nRobin\n\n"
        "From: Support <support@mail.example.com>\nSent: Tuesday, December 1, 2026 10:02 AM\n"
        "To: Robin <robin@contoso.example>\nSubject: RE: [Ticket 42] Printer jam\n\n"
        "Hello Robin,\nPlease install the update.\n",
        "Hi,\n\nThe printer is still jammed after the update.",
        "Regards,\nRobin",
        html=(
            '<html><body><div class="WordSection1"><p class="MsoNormal">Hi,</p>'
            '<p class="MsoNormal">The printer is still jammed after the update.</p>'
            '<p class="MsoNormal">Regards,<br>Robin</p>'
            '<div style="border:none;border-top:solid #E1E1E1 1.0pt;padding:3.0pt 0in 0in 0in">'
            '<p class="MsoNormal"><b>From:</b> Support &lt;support@mail.example.com&gt;<br>'
            "<b>Sent:</b> Tuesday, December 1, 2026 10:02 AM<br><b>To:</b> Robin<br>"
            "<b>Subject:</b> RE: [Ticket 42] Printer jam</p></div>"
            '<p class="MsoNormal">Hello Robin,<br>Please install the update.</p>'
            "</div></body></html>"
        ),
    ),
    ReplyCase(
        "outlook-original-message",
        "Outlook",
        "en",
        "Approved.\n\n-----Original Message-----\nFrom: Support <support@mail.example.com>\n"
        "Sent: Tuesday, December 1, 2026 10:02 AM\nTo: Robin\nSubject: Approval needed\n\n"
        "Please approve the order.\n",
        "Approved.",
    ),
    ReplyCase(
        "outlook-de",
        "Outlook",
        "de",
        "Hallo,\n\nder Drucker druckt wieder.\n\nViele Grüße\nKim\n\n"
        "Von: Support <support@mail.example.com>\nGesendet: Dienstag, 1. Dezember 2026 10:02\n"
        "An: Kim <kim@firma.example>\nBetreff: AW: [Ticket 42] Drucker\n\nHallo Kim,\n",
        "Hallo,\n\nder Drucker druckt wieder.",
        "Viele Grüße\nKim",
    ),
    ReplyCase(
        "outlook-fr",
        "Outlook",
        "fr",
        "Bonjour,\n\nC'est réglé, merci.\n\nCordialement,\nCamille\n\n"
        "De : Support <support@mail.example.com>\nEnvoyé : mardi 1 décembre 2026 10:02\n"
        "À : Camille <camille@societe.example>\nObjet : RE: [Ticket 42] Imprimante\n\nBonjour,\n",
        "Bonjour,\n\nC'est réglé, merci.",
        "Cordialement,\nCamille",
    ),
    ReplyCase(
        "outlook-underscore-separator",
        "Outlook on the web",
        "en",
        "Yes, Thursday works for me.\n\n"
        "________________________________\n"
        "From: Support <support@mail.example.com>\nSent: Tuesday, December 1, 2026 10:02\n"
        "To: Alex\nSubject: Visit\n\nWould Thursday suit you?\n",
        "Yes, Thursday works for me.",
    ),
    ReplyCase(
        "apple-mail-en",
        "Apple Mail",
        "en",
        "It arrived this morning, thank you.\n\n"
        "> On 1 Dec 2026, at 10:02, Support <support@mail.example.com> wrote:\n>\n"
        "> Your parcel is on its way.\n",
        "It arrived this morning, thank you.",
        html=(
            '<html><body dir="auto">It arrived this morning, thank you.<br>'
            '<div dir="ltr"><br><blockquote type="cite">On 1 Dec 2026, at 10:02, Support '
            "&lt;support@mail.example.com&gt; wrote:<br><br></blockquote></div>"
            '<blockquote type="cite"><div dir="ltr">Your parcel is on its way.</div>'
            "</blockquote></body></html>"
        ),
    ),
    ReplyCase(
        "iphone-signature",
        "iOS Mail",
        "en",
        "Great, see you then.\n\nSent from my iPhone\n\n"
        "> On Dec 1, 2026, at 10:02 AM, Support <support@mail.example.com> wrote:\n>\n"
        "> The technician comes at 9.\n",
        "Great, see you then.",
        "Sent from my iPhone",
    ),
    ReplyCase(
        "thunderbird-en",
        "Thunderbird",
        "en",
        "I attached the log file.\n\n"
        "On 12/1/26 10:02 AM, Support wrote:\n> Please send us the log file.\n",
        "I attached the log file.",
        html=(
            '<html><body><p>I attached the log file.</p><div class="moz-cite-prefix">On 12/1/26'
            ' 10:02 AM, Support wrote:<br></div><blockquote type="cite"'
            ' cite="mid:ack-42@mail.example.com">Please send us the log file.</blockquote>'
            "</body></html>"
        ),
    ),
    ReplyCase(
        "thunderbird-dash-signature",
        "Thunderbird",
        "en",
        "Done, the order is confirmed.\n\n-- \nJo Example\nExample Ltd.\n\n"
        "On 12/1/26 10:02 AM, Support wrote:\n> Please confirm the order.\n",
        "Done, the order is confirmed.",
        "-- \nJo Example\nExample Ltd.",
    ),
    ReplyCase(
        "android-gmail-sv",
        "Gmail for Android",
        "sv",
        "Tack, det fungerar nu.\n\n"
        "Den tis 1 dec. 2026 10:02 skrev Support <support@mail.example.com>:\n\n"
        "> Hej,\n> Byt tonern.\n",
        "Tack, det fungerar nu.",
    ),
    ReplyCase(
        "no-quote",
        "any",
        "en",
        "Hello, my printer is on fire. Please help.\n",
        "Hello, my printer is on fire. Please help.",
    ),
    ReplyCase(
        "bottom-post-inline",
        "mutt",
        "en",
        "On Tue, Dec 01, 2026 at 10:02:00AM +0000, Support wrote:\n"
        "> Which model do you have?\n\nThe X-200.\n",
        "The X-200.",
    ),
    ReplyCase(
        "yahoo-en",
        "Yahoo Mail",
        "en",
        "Please cancel my subscription.\n\n"
        "On Tuesday, December 1, 2026 at 10:02:00 AM GMT, Support <support@mail.example.com>"
        " wrote:\n\n Your subscription renews tomorrow.\n",
        "Please cancel my subscription.",
    ),
)
