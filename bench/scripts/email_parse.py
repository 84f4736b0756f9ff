"""Build MIME messages with the email package, serialize and parse them back."""
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import format_datetime, getaddresses, parseaddr
from datetime import datetime, timezone

raw = []
for i in range(30):
    msg = EmailMessage()
    msg["From"] = f"Sender {i} <sender{i}@example.org>"
    msg["To"] = ", ".join(f"R{j} <r{j}@example.com>" for j in range(i % 5 + 1))
    msg["Subject"] = f"Report #{i}: état des lieux ✓"
    msg["Date"] = format_datetime(datetime(2024, 1, i % 28 + 1, 9, i % 60, tzinfo=timezone.utc))
    msg.set_content(f"Hello,\n\nThis is report {i}.\n" + "Line of text.\n" * (i % 20))
    msg.add_alternative(f"<p>Report <b>{i}</b></p>", subtype="html")
    msg.add_attachment(bytes(range(256)) * (i % 4 + 1), maintype="application",
                       subtype="octet-stream", filename=f"data{i}.bin")
    raw.append(msg.as_bytes())

parser = BytesParser(policy=policy.default)
recipients = attachments = chars = 0
subjects = set()
for data in raw:
    msg = parser.parsebytes(data)
    recipients += len(getaddresses([msg["To"]]))
    subjects.add(msg["Subject"].split(":")[0])
    body = msg.get_body(preferencelist=("plain",))
    chars += len(body.get_content())
    for part in msg.iter_attachments():
        attachments += len(part.get_content())
print(len(raw), recipients, attachments, chars, len(subjects), parseaddr(msg["From"]))
