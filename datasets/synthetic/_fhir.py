"""FHIR R4 resources as plain dicts, the way a hospital's bulk export would carry them (identified).

Resource ids are sequential per site and type (``pat-00001``), never derived from PHI. Every resource carries the
PHI a real record does: identifiers, names, telecom, addresses, narrative ``text.div``, ``note`` annotations and,
for ServiceRequest, a ``contained`` Practitioner.
"""

from __future__ import annotations

import datetime as dt
from html import escape

from datasets.sites import SiteProfile
from datasets.synthetic._aki import CONDITIONS, MEDICATIONS, AkiCourse, Vitals
from datasets.synthetic._identity import Person, PersonName

LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
UCUM = "http://unitsofmeasure.org"
ATC = "http://www.whocc.no/atc"
V2_0203 = "http://terminology.hl7.org/CodeSystem/v2-0203"
ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
OBS_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
DICOM_DCM = "http://dicom.nema.org/resources/ontology/DCM"
XHTML = "http://www.w3.org/1999/xhtml"
_TZ = dt.timezone(dt.timedelta(hours=8))


def fhir_time(t: dt.datetime) -> str:
    """FHIR dateTime/instant in China Standard Time, seconds precision."""
    return t.replace(tzinfo=_TZ, microsecond=0).isoformat()


def site_system(site: SiteProfile, what: str) -> str:
    """Identifier system URI of one of the site's own numbering schemes (fictional domain)."""
    return f"http://{site.code.lower()}.hospital.example/fhir/sid/{what}"


def _div(*paragraphs: str) -> dict:
    body = "".join(f"<p>{escape(p)}</p>" for p in paragraphs)
    return {"status": "generated", "div": f'<div xmlns="{XHTML}">{body}</div>'}


def _name(name: PersonName, use: str = "official") -> list[dict]:
    out = []
    if name.family_local:
        out.append({"use": use, "text": name.local, "family": name.family_local, "given": [name.given_local]})
        out.append({"use": "usual", "text": name.text, "family": name.family, "given": [name.given]})
    else:
        out.append({"use": use, "text": name.text, "family": name.family, "given": [name.given]})
    return out


def _ref(kind: str, rid: str, display: str | None = None) -> dict:
    out = {"reference": f"{kind}/{rid}"}
    if display:
        out["display"] = display
    return out


def patient(site: SiteProfile, person: Person, rid: str) -> dict:
    identifiers = [{
        "use": "usual",
        "type": {"coding": [{"system": V2_0203, "code": "MR"}]},
        "system": site_system(site, "mrn"),
        "value": person.mrn,
    }]
    if person.resident_id:
        identifiers.append({
            "use": "official",
            "type": {"coding": [{"system": V2_0203, "code": "NI"}], "text": "Resident identity card"},
            "system": "http://clinval.example/fhir/sid/cn-resident-identity-card",
            "value": person.resident_id,
        })
    else:
        identifiers.append({
            "type": {"coding": [{"system": V2_0203, "code": "PPN"}]},
            "system": "http://clinval.example/fhir/sid/passport",
            "value": person.passport,
        })
    display = person.name.local or person.name.text
    return {
        "resourceType": "Patient",
        "id": rid,
        "text": _div(f"{display} ({person.name.text}), MRN {person.mrn}, born {person.birth_date.isoformat()}",
                     f"Address: {person.address}; mobile {person.mobile}"),
        "identifier": identifiers,
        "active": True,
        "name": _name(person.name),
        "telecom": [{"system": "phone", "value": person.mobile, "use": "mobile"}],
        "gender": "male" if person.sex == "M" else "female",
        "birthDate": person.birth_date.isoformat(),
        "address": [{
            "use": "home",
            "text": person.address,
            "line": [person.address_local if person.chinese else person.address_en.split(", ")[0]],
            "city": site.city_local if person.chinese else site.city,
            "district": person.district_local if person.chinese else person.district,
            "state": "Zhejiang-like Province",
            "postalCode": person.postal_code,
            "country": "CN",
        }],
        "contact": [{
            "relationship": [{"text": "emergency contact"}],
            "name": _name(person.contact)[0],
            "telecom": [{"system": "phone", "value": person.contact_mobile}],
        }],
        "managingOrganization": {"display": site.name},
    }


def encounter(site: SiteProfile, *, rid: str, patient_id: str, person: Person, visit: str, klass: str,
              start: dt.datetime, end: dt.datetime, reason: str, attending: PersonName) -> dict:
    displays = {"AMB": "ambulatory", "EMER": "emergency", "IMP": "inpatient encounter"}
    return {
        "resourceType": "Encounter",
        "id": rid,
        "text": _div(f"{displays[klass]} visit {visit} of {person.name.local or person.name.text}: {reason}"),
        "identifier": [{"use": "official", "system": site_system(site, "visit-number"), "value": visit}],
        "status": "finished",
        "class": {"system": ACT_CODE, "code": klass, "display": displays[klass]},
        "subject": _ref("Patient", patient_id),
        "participant": [{"individual": {"display": attending.local or attending.text}}],
        "period": {"start": fhir_time(start), "end": fhir_time(end)},
        "reasonCode": [{"text": reason}],
        "serviceProvider": {"display": site.name},
    }


def service_request(site: SiteProfile, *, rid: str, patient_id: str, encounter_id: str, person: Person,
                    accession: str, when: dt.datetime, referring: PersonName, referring_phone: str,
                    reason: str) -> dict:
    return {
        "resourceType": "ServiceRequest",
        "id": rid,
        "contained": [{
            "resourceType": "Practitioner",
            "id": "referrer",
            "name": _name(referring),
            "telecom": [{"system": "phone", "value": referring_phone, "use": "work"}],
        }],
        "identifier": [{
            "type": {"coding": [{"system": V2_0203, "code": "PLAC"}]},
            "system": site_system(site, "order"),
            "value": f"ORD{accession}",
        }],
        "status": "completed",
        "intent": "order",
        "code": {"coding": [{"system": site_system(site, "procedure"), "code": "XR-CHEST",
                             "display": "胸部X线摄影"}], "text": "Chest radiograph"},
        "subject": _ref("Patient", patient_id),
        "encounter": _ref("Encounter", encounter_id),
        "authoredOn": fhir_time(when),
        "requester": {"reference": "#referrer"},
        "reasonCode": [{"text": reason}],
        "note": [{"authorString": referring.text, "time": fhir_time(when),
                  "text": f"Please compare with prior films of {person.name.text} if available."}],
    }


def imaging_study(site: SiteProfile, *, rid: str, patient_id: str, encounter_id: str, request_id: str,
                  accession: str, study_uid: str, series_uid: str, sop_uid: str, sop_class: str,
                  when: dt.datetime, referring: PersonName, operator: PersonName, description: str) -> dict:
    return {
        "resourceType": "ImagingStudy",
        "id": rid,
        "identifier": [
            {"use": "official", "system": "urn:dicom:uid", "value": f"urn:oid:{study_uid}"},
            {"use": "usual", "type": {"coding": [{"system": V2_0203, "code": "ACSN"}]},
             "system": site_system(site, "accession"), "value": accession},
        ],
        "status": "available",
        "subject": _ref("Patient", patient_id),
        "encounter": _ref("Encounter", encounter_id),
        "started": fhir_time(when),
        "basedOn": [_ref("ServiceRequest", request_id)],
        "referrer": {"display": referring.local or referring.text},
        "numberOfSeries": 1,
        "numberOfInstances": 1,
        "description": description,
        "note": [{"authorString": operator.text, "text": f"Acquired at {site.name_local} ({site.name})."}],
        "series": [{
            "uid": series_uid,
            "number": 1,
            "modality": {"system": DICOM_DCM, "code": site.imaging.modality},
            "numberOfInstances": 1,
            "bodySite": {"system": SNOMED, "code": "51185008", "display": "Thoracic structure"},
            "performer": [{"actor": {"display": operator.local or operator.text}}],
            "instance": [{"uid": sop_uid, "sopClass": {"system": "urn:ietf:rfc:3986", "code": f"urn:oid:{sop_class}"},
                          "number": 1}],
        }],
    }


def diagnostic_report(site: SiteProfile, *, rid: str, patient_id: str, encounter_id: str, study_id: str,
                      person: Person, accession: str, when: dt.datetime, radiologist: PersonName,
                      impression: str, findings: str) -> dict:
    name = person.name.local or person.name.text
    return {
        "resourceType": "DiagnosticReport",
        "id": rid,
        "text": _div(f"Chest radiograph of {name} ({person.name.text}), MRN {person.mrn}, accession {accession}.",
                     f"Findings: {findings}", f"Impression: {impression}",
                     f"Reported by {radiologist.text}."),
        "identifier": [{"type": {"coding": [{"system": V2_0203, "code": "ACSN"}]},
                        "system": site_system(site, "accession"), "value": accession}],
        "status": "final",
        "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0074", "code": "RAD"}]}],
        "code": {"coding": [{"system": LOINC, "code": "18748-4", "display": "Diagnostic imaging study"}],
                 "text": "Chest radiograph report"},
        "subject": _ref("Patient", patient_id),
        "encounter": _ref("Encounter", encounter_id),
        "effectiveDateTime": fhir_time(when),
        "issued": fhir_time(when + dt.timedelta(minutes=47)),
        "performer": [{"display": site.name}],
        "resultsInterpreter": [{"display": radiologist.local or radiologist.text}],
        "imagingStudy": [_ref("ImagingStudy", study_id)],
        "conclusion": impression,
    }


def condition(site: SiteProfile, *, rid: str, patient_id: str, encounter_id: str, key: str,
              recorded: dt.datetime, note: str | None) -> dict:
    code, display, local = CONDITIONS[key]
    out = {
        "resourceType": "Condition",
        "id": rid,
        "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                                       "code": "active"}]},
        "verificationStatus": {"coding": [{
            "system": "http://terminology.hl7.org/CodeSystem/condition-ver-status", "code": "confirmed"}]},
        "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-category",
                                  "code": "encounter-diagnosis"}]}],
        "code": {"coding": [{"system": SNOMED, "code": code, "display": display}], "text": local},
        "subject": _ref("Patient", patient_id),
        "encounter": _ref("Encounter", encounter_id),
        "recordedDate": fhir_time(recorded),
    }
    if note:
        out["note"] = [{"text": note}]
    return out


def _category(code: str) -> list[dict]:
    return [{"coding": [{"system": OBS_CATEGORY, "code": code}]}]


def _quantity(value: float, unit: str) -> dict:
    return {"value": value, "unit": unit, "system": UCUM, "code": unit}


def lab_observation(site: SiteProfile, *, rid: str, patient_id: str, encounter_id: str, analyte: str,
                    when: dt.datetime, value: float) -> dict:
    """Creatinine, urea or potassium coded as the site's laboratory codes them."""
    unit_mg = site.clinical.creatinine_unit == "mg/dL"
    if analyte == "creatinine":
        unit = site.clinical.creatinine_unit
        if site.clinical.creatinine_coding == "local":
            code = {"coding": [{"system": site_system(site, "lab-code"), "code": "CR-S", "display": "肌酐(血清)"}],
                    "text": "肌酐"}
        elif unit_mg:
            code = {"coding": [{"system": LOINC, "code": "2160-0",
                                "display": "Creatinine [Mass/volume] in Serum or Plasma"}], "text": "Creatinine"}
        else:
            code = {"coding": [{"system": LOINC, "code": "14682-9",
                                "display": "Creatinine [Moles/volume] in Serum or Plasma"}], "text": "Creatinine"}
    elif analyte == "urea":
        if unit_mg:
            unit = "mg/dL"
            code = {"coding": [{"system": LOINC, "code": "3094-0",
                                "display": "Urea nitrogen [Mass/volume] in Serum or Plasma"}], "text": "BUN"}
        else:
            unit = "mmol/L"
            code = {"coding": [{"system": LOINC, "code": "22664-7",
                                "display": "Urea [Moles/volume] in Serum or Plasma"}], "text": "Urea"}
    else:
        unit = "mmol/L"
        code = {"coding": [{"system": LOINC, "code": "2823-3",
                            "display": "Potassium [Moles/volume] in Serum or Plasma"}], "text": "Potassium"}
    return {
        "resourceType": "Observation",
        "id": rid,
        "status": "final",
        "category": _category("laboratory"),
        "code": code,
        "subject": _ref("Patient", patient_id),
        "encounter": _ref("Encounter", encounter_id),
        "effectiveDateTime": fhir_time(when),
        "issued": fhir_time(when + dt.timedelta(minutes=55)),
        "valueQuantity": _quantity(value, unit),
    }


def vital_observations(site: SiteProfile, *, next_id, patient_id: str, encounter_id: str, v: Vitals,
                       nurse: PersonName) -> list[dict]:
    """The vital signs of one round as Observations, in the site's conventions."""

    def obs(code: str, display: str, **value) -> dict:
        return {
            "resourceType": "Observation",
            "id": next_id(),
            "status": "final",
            "category": _category("vital-signs"),
            "code": {"coding": [{"system": LOINC, "code": code, "display": display}], "text": display},
            "subject": _ref("Patient", patient_id),
            "encounter": _ref("Encounter", encounter_id),
            "effectiveDateTime": fhir_time(v.when),
            "performer": [{"display": nurse.local or nurse.text}],
            **value,
        }

    if site.clinical.temperature_unit == "Cel":
        temp = _quantity(v.temperature_c, "Cel")
    else:
        temp = _quantity(round(v.temperature_c * 9.0 / 5.0 + 32.0, 1), "[degF]")
    out = [
        obs("8867-4", "Heart rate", valueQuantity=_quantity(v.heart_rate, "/min")),
        obs("9279-1", "Respiratory rate", valueQuantity=_quantity(v.respiratory_rate, "/min")),
        obs("8310-5", "Body temperature", valueQuantity=temp),
        obs("2708-6", "Oxygen saturation in Arterial blood", valueQuantity=_quantity(v.spo2, "%")),
    ]
    if site.clinical.blood_pressure_style == "panel":
        out.append(obs("85354-9", "Blood pressure panel with all children optional", component=[
            {"code": {"coding": [{"system": LOINC, "code": "8480-6", "display": "Systolic blood pressure"}]},
             "valueQuantity": _quantity(v.systolic, "mm[Hg]")},
            {"code": {"coding": [{"system": LOINC, "code": "8462-4", "display": "Diastolic blood pressure"}]},
             "valueQuantity": _quantity(v.diastolic, "mm[Hg]")},
        ]))
    else:
        out.append(obs("8480-6", "Systolic blood pressure", valueQuantity=_quantity(v.systolic, "mm[Hg]")))
        out.append(obs("8462-4", "Diastolic blood pressure", valueQuantity=_quantity(v.diastolic, "mm[Hg]")))
    return out


def medication_request(site: SiteProfile, *, rid: str, patient_id: str, encounter_id: str, key: str,
                       when: dt.datetime, prescriber: PersonName) -> dict:
    atc, name, local, nephrotoxic, dosage = MEDICATIONS[key]
    out = {
        "resourceType": "MedicationRequest",
        "id": rid,
        "status": "active",
        "intent": "order",
        "medicationCodeableConcept": {"coding": [{"system": ATC, "code": atc, "display": name}], "text": local},
        "subject": _ref("Patient", patient_id),
        "encounter": _ref("Encounter", encounter_id),
        "authoredOn": fhir_time(when),
        "requester": {"display": prescriber.local or prescriber.text},
        "dosageInstruction": [{"text": dosage}],
    }
    if nephrotoxic:
        out["note"] = [{"authorString": prescriber.text, "text": "Nephrotoxic: monitor serum creatinine."}]
    return out


def inpatient_resources(site: SiteProfile, *, course: AkiCourse, patient_id: str, encounter_id: str,
                        next_id, attending: PersonName, nurse: PersonName) -> list[dict]:
    """Conditions, labs, vitals and medication requests of one admission (Encounter and Patient excluded)."""
    out: list[dict] = []
    for key in course.conditions:
        note = "Patient reports long history; see referral letter." if key in ("ckd", "diabetes") else None
        out.append(condition(site, rid=next_id("Condition"), patient_id=patient_id, encounter_id=encounter_id,
                             key=key, recorded=course.admit + dt.timedelta(hours=1), note=note))
    for key, when in course.medications:
        out.append(medication_request(site, rid=next_id("MedicationRequest"), patient_id=patient_id,
                                      encounter_id=encounter_id, key=key, when=when, prescriber=attending))
    for v in course.vitals:
        out.extend(vital_observations(site, next_id=lambda: next_id("Observation"), patient_id=patient_id,
                                      encounter_id=encounter_id, v=v, nurse=nurse))
    for analyte, series in (("urea", course.urea), ("potassium", course.potassium), ("creatinine", course.creatinine)):
        for when, value in series:
            out.append(lab_observation(site, rid=next_id("Observation"), patient_id=patient_id,
                                       encounter_id=encounter_id, analyte=analyte, when=when, value=value))
    return out
