"""Reading a K3 model's fields: keys in any case, basedata as `{"FNumber": …}`, ids, texts.

A model (the `Model` of a Save) is the ERP's own input language, as its bills are posted in
process by the simulator and the tests too; the wire envelope around it (formid, data,
parameters, Numbers, Ids) is read by the adapter (`api/k3.py`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fake_systems.common.wire import WireValueError, parse_int
from fake_systems.erp.models import K3Error, MsgCode


def lower_keys(mapping: Mapping[str, Any]) -> dict[str, Any]:
    """K3 field keys are case-insensitive: look them up lower-cased."""
    return {str(key).lower(): value for key, value in mapping.items()}


def basedata_number(value: Any) -> str | None:
    """`{"FNumber": "X"}` → "X"; None when the field is absent or empty; ValueError if malformed."""
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise ValueError("basedata field is not an object")
    number = lower_keys(value).get("fnumber")
    if number is None or (isinstance(number, str) and not number.strip()):
        return None
    if not isinstance(number, str | int) or isinstance(number, bool):
        raise ValueError("FNumber is not text")
    return str(number).strip()


def text(value: Any) -> str | None:
    """A scalar field as stripped text; None when absent, empty or not a scalar."""
    if value is None or isinstance(value, Mapping | list):
        return None
    stripped = str(value).strip()
    return stripped or None


def id_list(values: Any) -> list[Any]:
    """`Ids` arrive as "1,2,3" (as K3's own SDK sends them) or as a JSON list."""
    if values is None or values == "":
        return []
    if isinstance(values, str):
        return [part.strip() for part in values.split(",") if part.strip()]
    if isinstance(values, list):
        return values
    return [values]


def parse_fid(value: Any) -> int | None:
    """FID 0, "" or absent means a new document, as in K3."""
    if value is None or value == "" or isinstance(value, bool):
        return None
    try:
        fid = parse_int(value)
    except WireValueError:
        shown = str(value)[:40]
        raise K3Error.one(MsgCode.PARAMETER_ERROR, f"内码[{shown}]格式不正确", "FID") from None
    return fid if fid > 0 else None
