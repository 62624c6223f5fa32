"""Inpatient admissions for the ``aki-48h`` task: comorbidities, drugs, vitals, labs and serial creatinine.

The latent risk of acute kidney injury (AKI) is a logistic function of what the record shows before the index time
(age, chronic kidney disease, diabetes, heart failure, sepsis, nephrotoxic drugs, low blood pressure, baseline
creatinine) plus the site's case-mix shift, so a model can learn it from recorded features. Serial creatinine after
the index time follows the latent state; the outcome is then read off the recorded values with the KDIGO creatinine
criteria (:func:`kdigo_aki`), the way a hospital would establish it.

References
----------
Kidney Disease: Improving Global Outcomes (KDIGO) Acute Kidney Injury Work Group. KDIGO Clinical Practice
Guideline for Acute Kidney Injury. Kidney Int Suppl. 2012;2:1-138 (section 2.1.1).
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

import numpy as np

CREATININE_UMOL_PER_MGDL = 88.4
"""Conversion factor of serum creatinine from mg/dL to umol/L."""

# key: (SNOMED CT code, English display, Chinese display)
CONDITIONS = {
    "diabetes": ("44054006", "Diabetes mellitus type 2", "2型糖尿病"),
    "hypertension": ("38341003", "Hypertensive disorder", "高血压"),
    "ckd": ("709044004", "Chronic kidney disease", "慢性肾脏病"),
    "heart_failure": ("84114007", "Heart failure", "心力衰竭"),
    "sepsis": ("91302008", "Sepsis", "脓毒症"),
    "pneumonia": ("233604007", "Pneumonia", "肺炎"),
}
# key: (WHO ATC code, English name, Chinese name, nephrotoxic, dosage text)
MEDICATIONS = {
    "vancomycin": ("J01XA01", "Vancomycin", "万古霉素", True, "1 g IV every 12 hours"),
    "gentamicin": ("J01GB03", "Gentamicin", "庆大霉素", True, "5 mg/kg IV once daily"),
    "ibuprofen": ("M01AE01", "Ibuprofen", "布洛芬", True, "400 mg orally every 8 hours"),
    "iohexol": ("V08AB02", "Iohexol (iodinated contrast)", "碘海醇", True, "100 mL IV once"),
    "furosemide": ("C03CA01", "Furosemide", "呋塞米", False, "40 mg IV twice daily"),
    "lisinopril": ("C09AA03", "Lisinopril", "赖诺普利", False, "10 mg orally once daily"),
    "metformin": ("A10BA02", "Metformin", "二甲双胍", False, "500 mg orally twice daily"),
    "ceftriaxone": ("J01DD04", "Ceftriaxone", "头孢曲松", False, "2 g IV once daily"),
    "omeprazole": ("A02BC01", "Omeprazole", "奥美拉唑", False, "20 mg orally once daily"),
    "amlodipine": ("C08CA01", "Amlodipine", "氨氯地平", False, "5 mg orally once daily"),
}


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


@dataclass(frozen=True, slots=True, kw_only=True)
class Vitals:
    when: dt.datetime
    heart_rate: int
    systolic: int
    diastolic: int
    temperature_c: float
    respiratory_rate: int
    spo2: int


@dataclass(frozen=True, slots=True, kw_only=True)
class AkiCourse:
    """One simulated admission; creatinine values are in the site's unit, as recorded."""

    admit: dt.datetime
    index_time: dt.datetime
    discharge: dt.datetime
    reason: str
    conditions: tuple[str, ...]
    medications: tuple[tuple[str, dt.datetime], ...]
    creatinine: tuple[tuple[dt.datetime, float], ...]
    urea: tuple[tuple[dt.datetime, float], ...]
    potassium: tuple[tuple[dt.datetime, float], ...]
    vitals: tuple[Vitals, ...]
    latent_aki: bool
    outcome: bool  # KDIGO read off the recorded creatinine


def kdigo_aki(creatinine: list[tuple[float, float]], index_hours: float, *, unit: str) -> bool:
    """KDIGO creatinine criteria within 48 h after the index time.

    Parameters
    ----------
    creatinine : list of (hours, value)
        Serum creatinine measurements, time in hours on any common clock, value in ``unit``.
    index_hours : float
        Index (prediction) time on the same clock.
    unit : {"mg/dL", "umol/L"}

    Returns
    -------
    bool
        True if a value in (index, index + 48 h] is at least 0.3 mg/dL above, or at least 1.5 times, the
        baseline, the lowest value at or before the index time. False when there is no baseline.
    """
    factor = 1.0 if unit == "mg/dL" else CREATININE_UMOL_PER_MGDL
    before = [v for t, v in creatinine if t <= index_hours]
    if not before:
        return False
    base = min(before)
    for t, v in creatinine:
        if index_hours < t <= index_hours + 48.0:
            if v - base >= 0.3 * factor - 1e-9 or v >= 1.5 * base - 1e-9:
                return True
    return False


def simulate_admission(
    rng: np.random.Generator, *, age: int, sex: str, admit: dt.datetime, risk_shift: float, unit: str
) -> AkiCourse:
    """Draw one inpatient admission with its serial creatinine and KDIGO outcome."""
    a = (age - 60) / 10.0
    cond = set()
    if rng.random() < _sigmoid(-1.5 + 0.3 * a):
        cond.add("diabetes")
    if rng.random() < _sigmoid(-0.5 + 0.5 * a):
        cond.add("hypertension")
    if rng.random() < _sigmoid(-2.2 + 0.45 * a + 0.8 * ("diabetes" in cond) + 0.5 * ("hypertension" in cond)):
        cond.add("ckd")
    if rng.random() < _sigmoid(-2.8 + 0.6 * a):
        cond.add("heart_failure")
    sepsis = rng.random() < 0.14
    if sepsis:
        cond.add("sepsis")
    if rng.random() < 0.2:
        cond.add("pneumonia")
    reason = "sepsis" if sepsis else ("pneumonia" if "pneumonia" in cond else str(rng.choice(
        ("chest pain", "fall", "abdominal pain", "elective surgery", "dyspnoea", "gastrointestinal bleeding"))))

    base = (0.92 if sex == "M" else 0.72) * math.exp(rng.normal(0.0, 0.13))
    if "ckd" in cond:
        base *= rng.uniform(1.6, 3.0)

    def has(p: float) -> bool:
        return bool(rng.random() < p)

    meds = {
        "vancomycin": has(0.10 + 0.35 * sepsis),
        "gentamicin": has(0.05 + 0.15 * sepsis),
        "ibuprofen": has(0.14),
        "iohexol": has(0.12),
        "furosemide": has(0.08 + 0.45 * ("heart_failure" in cond)),
        "lisinopril": has(0.08 + 0.35 * ("hypertension" in cond)),
        "metformin": has(0.7 * ("diabetes" in cond)),
        "ceftriaxone": has(0.2 + 0.4 * ("pneumonia" in cond)),
        "omeprazole": has(0.3),
        "amlodipine": has(0.45 * ("hypertension" in cond)),
    }
    index_time = admit + dt.timedelta(hours=float(rng.uniform(8.0, 24.0)))
    index_h = (index_time - admit).total_seconds() / 3600.0
    med_list = tuple(
        (k, admit + dt.timedelta(hours=float(rng.uniform(0.5, index_h - 0.5)))) for k, on in meds.items() if on
    )

    sbp_level = rng.normal(128.0 - 24.0 * sepsis + 8.0 * ("hypertension" in cond), 13.0)
    vitals = []
    t = 0.5
    while t < index_h:
        vitals.append(Vitals(
            when=admit + dt.timedelta(hours=t),
            heart_rate=int(round(rng.normal(80.0 + 20.0 * sepsis, 9.0))),
            systolic=int(round(sbp_level + rng.normal(0.0, 9.0))),
            diastolic=int(round(0.6 * sbp_level + rng.normal(0.0, 6.0))),
            temperature_c=round(float(36.7 + 1.3 * sepsis + rng.normal(0.0, 0.35)), 1),
            respiratory_rate=int(round(rng.normal(16.0 + 6.0 * sepsis, 2.0))),
            spo2=int(min(100, round(rng.normal(97.0 - 3.0 * sepsis - 2.0 * ("pneumonia" in cond), 1.5)))),
        ))
        t += float(rng.uniform(4.0, 8.0))
    sbp_min = min(v.systolic for v in vitals)

    nephro = meds["vancomycin"] * 0.9 + meds["gentamicin"] * 1.0 + meds["ibuprofen"] * 0.6 + meds["iohexol"] * 0.7
    logit = (-3.1 + risk_shift + 0.25 * a + 0.9 * ("ckd" in cond) + 0.4 * ("diabetes" in cond)
             + 0.4 * ("heart_failure" in cond) + 1.2 * sepsis + nephro + 0.3 * meds["furosemide"]
             + 0.3 * meds["lisinopril"] + 0.04 * max(0.0, 110.0 - sbp_min) + 0.6 * math.log(base / 0.85))
    latent = bool(rng.random() < _sigmoid(logit))

    factor = 1.0 if unit == "mg/dL" else CREATININE_UMOL_PER_MGDL

    def record(mgdl: float) -> float:
        return round(mgdl, 2) if unit == "mg/dL" else float(round(mgdl * factor))

    creat = [(admit + dt.timedelta(hours=0.3), record(base * math.exp(rng.normal(0.0, 0.04))))]
    creat.append((index_time - dt.timedelta(minutes=20), record(base * math.exp(rng.normal(0.0, 0.04)))))
    onset = float(rng.uniform(0.0, 44.0))
    rise = float(rng.uniform(0.55, 1.4))
    drift = float(rng.normal(0.0, 0.03))
    for k in range(1, 7):
        th = 12.0 * k + float(rng.uniform(-2.0, 2.0))
        level = base * math.exp(rng.normal(0.0, 0.045) + drift * th / 24.0)
        if latent and th > onset:
            level *= 1.0 + rise * (1.0 - math.exp(-(th - onset) / 10.0))
        creat.append((index_time + dt.timedelta(hours=th), record(level)))

    bun = 14.0 * (base ** 0.8) * math.exp(rng.normal(0.0, 0.2)) + 6.0 * sepsis
    urea = [(admit + dt.timedelta(hours=0.3), round(bun, 1) if unit == "mg/dL" else round(bun / 2.8, 1))]
    potassium = [(admit + dt.timedelta(hours=0.3), round(float(rng.normal(4.1 + 0.35 * ("ckd" in cond), 0.4)), 1))]

    hours = [((t - admit).total_seconds() / 3600.0, v) for t, v in creat]
    outcome = kdigo_aki(hours, index_h, unit=unit)
    discharge = index_time + dt.timedelta(hours=float(rng.uniform(80.0, 240.0)))
    return AkiCourse(
        admit=admit, index_time=index_time, discharge=discharge, reason=reason,
        conditions=tuple(k for k in CONDITIONS if k in cond), medications=med_list, creatinine=tuple(creat),
        urea=tuple(urea), potassium=tuple(potassium), vitals=tuple(vitals), latent_aki=latent, outcome=outcome,
    )
