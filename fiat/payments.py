"""ISO 20022 files of the cash-out: the payment file out (pain.001.001.03, built with lxml and
validated with xmlschema against the ISO XSD vendored in ``fiat/xsd/``) and bank statements in
(camt.053.001.02 read with lxml — pycamt is installed but flattens away the return reason and
charges we need — or the bank's CSV).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cache
from pathlib import Path

import xmlschema
from lxml import etree

from core.errors import DomainError

PAIN_NS = "urn:iso:std:iso:20022:tech:xsd:pain.001.001.03"
XSD = Path(__file__).resolve().parent / "xsd" / "pain.001.001.03.xsd"
SERVICE_LEVEL = {"SWIFT": "URGP", "CHATS": "URGP", "FPS": "NURG"}


@cache
def pain001_schema() -> xmlschema.XMLSchema:
    return xmlschema.XMLSchema(str(XSD))


def _money(value: Decimal) -> str:
    return f"{value.quantize(Decimal('0.01')):f}"


def pain001_build(*, message_id: str, created_at, debtor: dict, orders: list) -> bytes:
    """The pain.001.001.03 document for ``orders`` (one currency), deterministic for its inputs.
    ``debtor``: name, iban or account number, bic of the client-money bank account."""

    def sub(parent, tag, text=None):
        node = etree.SubElement(parent, f"{{{PAIN_NS}}}{tag}")
        if text is not None:
            node.text = str(text)
        return node

    root = etree.Element(f"{{{PAIN_NS}}}Document", nsmap={None: PAIN_NS})
    init = sub(root, "CstmrCdtTrfInitn")
    header = sub(init, "GrpHdr")
    sub(header, "MsgId", message_id)
    sub(header, "CreDtTm", created_at.strftime("%Y-%m-%dT%H:%M:%S"))
    sub(header, "NbOfTxs", len(orders))
    sub(header, "CtrlSum", _money(sum((o.amount for o in orders), Decimal(0))))
    sub(sub(header, "InitgPty"), "Nm", debtor["name"][:140])
    for index, order in enumerate(orders, start=1):
        account = order.bank_account
        info = sub(init, "PmtInf")
        sub(info, "PmtInfId", f"{message_id}-{index}"[:35])
        sub(info, "PmtMtd", "TRF")
        sub(info, "NbOfTxs", 1)
        sub(info, "CtrlSum", _money(order.amount))
        sub(sub(sub(info, "PmtTpInf"), "SvcLvl"), "Cd", SERVICE_LEVEL.get(account.rail, "NURG"))
        sub(info, "ReqdExctnDt", created_at.strftime("%Y-%m-%d"))
        sub(sub(info, "Dbtr"), "Nm", debtor["name"][:140])
        debtor_id = sub(sub(info, "DbtrAcct"), "Id")
        if debtor.get("iban"):
            sub(debtor_id, "IBAN", debtor["iban"])
        else:
            sub(sub(debtor_id, "Othr"), "Id", debtor["account_number"])
        sub(sub(sub(info, "DbtrAgt"), "FinInstnId"), "BIC", debtor["bic"])
        sub(info, "ChrgBr", order.charge_bearer)
        tx = sub(info, "CdtTrfTxInf")
        sub(sub(tx, "PmtId"), "EndToEndId", order.end_to_end_id)
        amount = sub(sub(tx, "Amt"), "InstdAmt", _money(order.amount))
        amount.set("Ccy", order.currency)
        agent = sub(sub(tx, "CdtrAgt"), "FinInstnId")
        if account.bic:
            sub(agent, "BIC", account.bic)
        else:
            member = sub(agent, "ClrSysMmbId")
            sub(sub(member, "ClrSysId"), "Cd", "HKNCC")
            sub(member, "MmbId", account.bank_code)
        creditor = sub(tx, "Cdtr")
        sub(creditor, "Nm", account.holder_name[:140])
        sub(sub(creditor, "PstlAdr"), "Ctry", account.bank_country)
        creditor_id = sub(sub(tx, "CdtrAcct"), "Id")
        if account.iban:
            sub(creditor_id, "IBAN", account.iban)
        else:
            other = sub(creditor_id, "Othr")
            sub(other, "Id", account.account_number or account.fps_id)
            if account.fps_id:
                sub(sub(other, "SchmeNm"), "Prtry", "FPS")
        sub(sub(tx, "RmtInf"), "Ustrd", f"Withdrawal FW{order.pk}")
    xml = etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)
    pain001_validate(xml)
    return xml


def pain001_validate(xml: bytes) -> None:
    """Raise ``validation_error`` unless ``xml`` is valid against the ISO XSD."""
    errors = list(pain001_schema().iter_errors(io.BytesIO(xml)))
    if errors:
        raise DomainError("validation_error", f"The payment file is not valid pain.001.001.03: {errors[0].reason}",
                          field="file")


# --- statements ----------------------------------------------------------------------------------

@dataclass
class Line:
    amount: Decimal
    credit: bool
    end_to_end_id: str = ""
    return_reason: str = ""
    charge: Decimal = Decimal(0)
    bank_reference: str = ""
    info: str = ""


@dataclass
class Statement:
    statement_id: str
    currency: str
    closing_balance: Decimal | None
    lines: list[Line] = field(default_factory=list)


def _text(node, path: str, ns: dict) -> str:
    found = node.find(path, ns)
    return (found.text or "").strip() if found is not None and found.text else ""


def camt053_parse(data: bytes) -> Statement:
    """One camt.053 statement: id, currency, closing balance (CLBD), entries with their end-to-end
    ids, return reason (RtrInf/Rsn/Cd) and charges."""
    try:
        root = etree.fromstring(data, parser=etree.XMLParser(resolve_entities=False, no_network=True))
    except etree.XMLSyntaxError as exc:
        raise DomainError("validation_error", f"Not an XML statement: {exc}", field="file") from None
    namespace = root.nsmap.get(None, "")
    if "camt.053" not in namespace:
        raise DomainError("validation_error", "Not a camt.053 statement.", field="file")
    ns = {"c": namespace}
    stmt = root.find(".//c:Stmt", ns)
    if stmt is None:
        raise DomainError("validation_error", "The statement has no Stmt.", field="file")
    closing = None
    currency = ""
    for balance in stmt.findall("c:Bal", ns):
        if _text(balance, "c:Tp/c:CdOrPrtry/c:Cd", ns) == "CLBD":
            amount = balance.find("c:Amt", ns)
            closing = Decimal(amount.text.strip())
            currency = amount.get("Ccy", "")
            if _text(balance, "c:CdtDbtInd", ns) == "DBIT":
                closing = -closing
    result = Statement(statement_id=_text(stmt, "c:Id", ns), currency=currency, closing_balance=closing)
    for entry in stmt.findall("c:Ntry", ns):
        amount = entry.find("c:Amt", ns)
        charge = Decimal(0)
        for charge_amount in entry.findall(".//c:Chrgs//c:Amt", ns):
            charge += Decimal(charge_amount.text.strip())
        result.currency = result.currency or amount.get("Ccy", "")
        result.lines.append(Line(
            amount=Decimal(amount.text.strip()), credit=_text(entry, "c:CdtDbtInd", ns) == "CRDT",
            end_to_end_id=_text(entry, ".//c:Refs/c:EndToEndId", ns),
            return_reason=_text(entry, ".//c:RtrInf/c:Rsn/c:Cd", ns), charge=charge,
            bank_reference=_text(entry, "c:AcctSvcrRef", ns),
            info=_text(entry, ".//c:AddtlNtryInf", ns) or _text(entry, "c:AddtlNtryInf", ns)))
    if not result.statement_id:
        raise DomainError("validation_error", "The statement has no Id.", field="file")
    return result


CSV_COLUMNS = ("statement_id", "currency", "type", "amount", "end_to_end_id", "return_reason", "charge",
               "bank_reference", "info")


def bank_csv_parse(data: bytes) -> Statement:
    """The bank's CSV: one row per line (type CRDT/DBIT) and one row of type CLBD (closing balance)."""
    try:
        rows = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))
    except UnicodeDecodeError:
        raise DomainError("validation_error", "The CSV is not UTF-8.", field="file") from None
    if not rows or set(CSV_COLUMNS) - set(rows[0]):
        raise DomainError("validation_error", f"The CSV needs the columns {', '.join(CSV_COLUMNS)}.", field="file")
    result = Statement(statement_id=rows[0]["statement_id"].strip(), currency=rows[0]["currency"].strip(),
                       closing_balance=None)
    for row in rows:
        kind = row["type"].strip().upper()
        amount = Decimal(row["amount"].strip())
        if kind == "CLBD":
            result.closing_balance = amount
            continue
        result.lines.append(Line(amount=amount, credit=kind == "CRDT", end_to_end_id=row["end_to_end_id"].strip(),
                                 return_reason=row["return_reason"].strip(),
                                 charge=Decimal(row["charge"].strip() or "0"),
                                 bank_reference=row["bank_reference"].strip(), info=row["info"].strip()))
    return result
