"""Date shifting (DICOM DA/DT/TM, FHIR date/dateTime/instant) and age bands.

A patient's dates all move by the same whole number of days, so intervals
between them are kept (PS3.15 E.3.6, Retain Longitudinal Temporal Information
with Modified Dates). Precision is kept: a value given to the year or month
is shifted as the middle of that year (July 1) or month (the 15th) and written
back at its original precision. Times of day and time zones are unchanged by a
whole-day shift. A value that cannot be parsed is reported as ``None`` so the
caller can remove it rather than keep an unshifted date.
"""

from __future__ import annotations

import datetime as _dt
import re

__all__ = ["shift_da", "shift_dt", "shift_fhir_date", "age_band", "age_in_years"]

_FHIR = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2})(T.*)?)?)?$")
_DICOM_DT = re.compile(r"^(\d{4})(\d{2})?(\d{2})?(.*)$")


def _shift_parts(year: int, month: int | None, day: int | None, days: int) -> tuple[int, int, int] | None:
    try:
        if day is not None:
            d = _dt.date(year, month or 1, day)
        elif month is not None:
            d = _dt.date(year, month, 15)
        else:
            d = _dt.date(year, 7, 1)
        d = d + _dt.timedelta(days=days)
    except (ValueError, OverflowError):
        return None
    return d.year, d.month, d.day


def shift_da(value: str, days: int) -> str | None:
    """Shift a DICOM DA value (``YYYYMMDD``; a ``-`` range of two) by ``days``.

    Examples
    --------
    >>> shift_da("20200301", -1)
    '20200229'
    >>> shift_da("2020030", -1) is None
    True
    """
    value = value.strip()
    if "-" in value:
        parts = value.split("-")
        if len(parts) != 2:
            return None
        out = [shift_da(p, days) if p else "" for p in parts]
        return None if None in out else "-".join(out)  # type: ignore[arg-type]
    if len(value) == 8 and value.isdigit():
        r = _shift_parts(int(value[:4]), int(value[4:6]), int(value[6:8]), days)
    elif len(value) == 10 and value[4] == "." and value[7] == ".":  # ACR-NEMA YYYY.MM.DD
        try:
            r = _shift_parts(int(value[:4]), int(value[5:7]), int(value[8:10]), days)
        except ValueError:
            return None
    else:
        return None
    return None if r is None else f"{r[0]:04d}{r[1]:02d}{r[2]:02d}"


def shift_dt(value: str, days: int) -> str | None:
    """Shift a DICOM DT value (``YYYY[MM[DD[HH[MM[SS[.F]]]]]][&ZZXX]``) keeping precision.

    Examples
    --------
    >>> shift_dt("20200301123000.5+0100", -1)
    '20200229123000.5+0100'
    >>> shift_dt("2020", -10)
    '2020'
    """
    value = value.strip()
    m = _DICOM_DT.match(value)
    if not m:
        return None
    year, month, day, rest = m.groups()
    if rest and (month is None or day is None):
        # a time zone may follow a partial date
        if not re.fullmatch(r"[+-]\d{4}", rest):
            return None
    if rest and not re.fullmatch(r"(\d{2}(\d{2}(\d{2}(\.\d{1,6})?)?)?)?([+-]\d{4})?", rest):
        return None
    r = _shift_parts(int(year), int(month) if month else None, int(day) if day else None, days)
    if r is None:
        return None
    out = f"{r[0]:04d}"
    if month:
        out += f"{r[1]:02d}"
    if day:
        out += f"{r[2]:02d}"
    return out + rest


def shift_fhir_date(value: str, days: int) -> str | None:
    """Shift a FHIR ``date``/``dateTime``/``instant`` string by ``days``, keeping precision.

    Examples
    --------
    >>> shift_fhir_date("2002-07-15", -3)
    '2002-07-12'
    >>> shift_fhir_date("2019-03-01T10:00:00-05:00", -1)
    '2019-02-28T10:00:00-05:00'
    >>> shift_fhir_date("2019-03", -30)
    '2019-02'
    """
    m = _FHIR.match(value)
    if not m:
        return None
    year, month, day, rest = m.groups()
    r = _shift_parts(int(year), int(month) if month else None, int(day) if day else None, days)
    if r is None:
        return None
    out = f"{r[0]:04d}"
    if month:
        out += f"-{r[1]:02d}"
    if day:
        out += f"-{r[2]:02d}"
    return out + (rest or "")


def age_in_years(birth: _dt.date, at: _dt.date) -> int:
    """Completed years between ``birth`` and ``at``.

    Examples
    --------
    >>> age_in_years(_dt.date(2000, 3, 1), _dt.date(2020, 2, 29))
    19
    """
    return at.year - birth.year - ((at.month, at.day) < (birth.month, birth.day))


def age_band(age: int | None, bands: tuple[int, ...]) -> str:
    """The band label for an age in years, e.g. ``"40-49"`` or ``"90+"``; ``"unknown"`` for None/negative.

    Examples
    --------
    >>> [age_band(a, (0, 18, 65)) for a in (0, 17, 18, 64, 65, 120, None)]
    ['0-17', '0-17', '18-64', '18-64', '65+', '65+', 'unknown']
    """
    if age is None or age < 0:
        return "unknown"
    label = "unknown"
    for i, low in enumerate(bands):
        if age >= low:
            label = f"{low}+" if i == len(bands) - 1 else f"{low}-{bands[i + 1] - 1}"
    return label
