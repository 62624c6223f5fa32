"""The hospitals of the clinical validation centre: codes, names and what makes each site's data different.

Sixteen partner hospitals ``H01`` .. ``H16`` and a public development site ``DEV`` (whose labelled data vendors may
use to build and smoke-test models). The hospitals, their names and their cities are fictional, set in a
Zhejiang-like province. Each :class:`SiteProfile` describes how the site acquires images (:class:`ImagingProfile`),
what its patients and clinical records look like (:class:`ClinicalProfile`) and how it established the reference
labels (:class:`ReferenceStandard`). :mod:`datasets.synthetic` plays each site's export from its profile.

Importing this module is cheap: it builds a few small records and imports nothing heavy.

Examples
--------
>>> from datasets.sites import SITES, get_site
>>> get_site("H01").code
'H01'
>>> len([code for code in SITES if code.startswith("H")])
16
>>> get_site("DEV").public
True
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Mapping

from datasets.exceptions import UnknownSiteError

__all__ = [
    "ImagingProfile",
    "ClinicalProfile",
    "ReferenceStandard",
    "SiteProfile",
    "SITES",
    "SITE_CODES",
    "HOSPITAL_CODES",
    "DEV_CODE",
    "get_site",
    "EXPLICIT_VR_LITTLE_ENDIAN",
    "IMPLICIT_VR_LITTLE_ENDIAN",
    "DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN",
]

EXPLICIT_VR_LITTLE_ENDIAN = "1.2.840.10008.1.2.1"
IMPLICIT_VR_LITTLE_ENDIAN = "1.2.840.10008.1.2"
DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN = "1.2.840.10008.1.2.1.99"
_TRANSFER_SYNTAXES = (EXPLICIT_VR_LITTLE_ENDIAN, IMPLICIT_VR_LITTLE_ENDIAN, DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN)
_CHARSETS = ("ISO_IR 192", "GB18030", "ISO_IR 100")


def _check_fraction(owner: str, name: str, value: float) -> None:
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{owner}.{name} must lie in [0, 1]; got {value!r}.")


@dataclass(frozen=True, slots=True, kw_only=True)
class ImagingProfile:
    """How a site acquires and stores chest radiographs.

    Parameters
    ----------
    modality : {"CR", "DX"}
        DICOM Modality; selects CR Image Storage or Digital X-Ray Image Storage - For Presentation.
    manufacturer, model_name : str
        DICOM Manufacturer and ManufacturerModelName.
    bits_stored : int
        Detector bit depth (BitsStored); pixels are stored in 16 bits.
    field_of_view_mm : float
        Side of the square detector area imaged; PixelSpacing is this divided by the image size. A smaller field
        shows the chest larger and partly cropped.
    photometric_interpretation : {"MONOCHROME1", "MONOCHROME2"}
        MONOCHROME1 stores high values as dark.
    transfer_syntax_uid : str
        Explicit VR little endian, implicit VR little endian or deflated explicit VR little endian.
    specific_character_set : str
        ``"ISO_IR 192"`` (UTF-8), ``"GB18030"`` or ``"ISO_IR 100"`` (Latin-1: romanised names only).
    lut_center, lut_width, contrast_gamma : float
        The site's image processing: a sigmoid of the attenuation centred at ``lut_center`` with width
        ``lut_width``, then a power ``contrast_gamma``.
    noise_sigma : float
        Standard deviation of pixel noise as a fraction of the display range.
    nonuniformity : float
        Amplitude of low-frequency gain non-uniformity (heel effect, scatter, detector calibration).
    blur_mm : float
        Gaussian blur of the imaging chain (focal spot, scintillator), in mm.
    burned_in_fraction : float
        Fraction of images with patient text burned into the pixels (BurnedInAnnotation YES).
    ap_fraction : float
        Fraction of AP (bedside) rather than PA views.
    """

    modality: str
    manufacturer: str
    model_name: str
    bits_stored: int
    field_of_view_mm: float
    photometric_interpretation: str
    transfer_syntax_uid: str
    specific_character_set: str
    lut_center: float
    lut_width: float
    contrast_gamma: float
    noise_sigma: float
    nonuniformity: float
    blur_mm: float
    burned_in_fraction: float
    ap_fraction: float

    def __post_init__(self) -> None:
        if self.modality not in ("CR", "DX"):
            raise ValueError(f"ImagingProfile.modality must be 'CR' or 'DX'; got {self.modality!r}.")
        if not 8 <= self.bits_stored <= 16:
            raise ValueError(f"ImagingProfile.bits_stored must be 8..16; got {self.bits_stored!r}.")
        if self.photometric_interpretation not in ("MONOCHROME1", "MONOCHROME2"):
            raise ValueError(
                "ImagingProfile.photometric_interpretation must be 'MONOCHROME1' or 'MONOCHROME2'; "
                f"got {self.photometric_interpretation!r}."
            )
        if self.transfer_syntax_uid not in _TRANSFER_SYNTAXES:
            raise ValueError(
                f"ImagingProfile.transfer_syntax_uid must be one of {_TRANSFER_SYNTAXES}; "
                f"got {self.transfer_syntax_uid!r}."
            )
        if self.specific_character_set not in _CHARSETS:
            raise ValueError(
                f"ImagingProfile.specific_character_set must be one of {_CHARSETS}; "
                f"got {self.specific_character_set!r}."
            )
        for name in ("field_of_view_mm", "lut_width", "contrast_gamma"):
            if not getattr(self, name) > 0:
                raise ValueError(f"ImagingProfile.{name} must be positive; got {getattr(self, name)!r}.")
        for name in ("noise_sigma", "nonuniformity", "blur_mm"):
            if getattr(self, name) < 0:
                raise ValueError(f"ImagingProfile.{name} must be >= 0; got {getattr(self, name)!r}.")
        _check_fraction("ImagingProfile", "burned_in_fraction", self.burned_in_fraction)
        _check_fraction("ImagingProfile", "ap_fraction", self.ap_fraction)


@dataclass(frozen=True, slots=True, kw_only=True)
class ClinicalProfile:
    """Who the site's patients are and how its clinical records are coded.

    Parameters
    ----------
    pneumonia_prevalence : float
        Probability that a chest radiograph of the ``cxr-pneumonia`` task shows pneumonia.
    aki_risk_shift : float
        Additive shift of the log-odds of acute kidney injury (case mix beyond the recorded features).
    age_mean, age_sd : float
        Age distribution (years) of adult patients.
    female_fraction : float
        Share of female patients.
    western_name_fraction : float
        Share of patients with Western (rather than Chinese) names.
    creatinine_unit : {"mg/dL", "umol/L"}
        Unit of serum creatinine and, with it, LOINC 2160-0 (mass) or 14682-9 (moles).
    creatinine_coding : {"loinc", "local"}
        ``"local"``: the laboratory codes creatinine only with its own code and a Chinese display text.
    temperature_unit : {"Cel", "[degF]"}
        UCUM unit of body temperature.
    blood_pressure_style : {"panel", "separate"}
        Blood pressure as one LOINC 85354-9 panel with components or as separate systolic/diastolic Observations.
    """

    pneumonia_prevalence: float
    aki_risk_shift: float
    age_mean: float
    age_sd: float
    female_fraction: float
    western_name_fraction: float
    creatinine_unit: str
    creatinine_coding: str
    temperature_unit: str
    blood_pressure_style: str

    def __post_init__(self) -> None:
        for name in ("pneumonia_prevalence", "female_fraction", "western_name_fraction"):
            _check_fraction("ClinicalProfile", name, getattr(self, name))
        if self.creatinine_unit not in ("mg/dL", "umol/L"):
            raise ValueError(
                f"ClinicalProfile.creatinine_unit must be 'mg/dL' or 'umol/L'; got {self.creatinine_unit!r}."
            )
        if self.creatinine_coding not in ("loinc", "local"):
            raise ValueError(
                f"ClinicalProfile.creatinine_coding must be 'loinc' or 'local'; got {self.creatinine_coding!r}."
            )
        if self.temperature_unit not in ("Cel", "[degF]"):
            raise ValueError(
                f"ClinicalProfile.temperature_unit must be 'Cel' or '[degF]'; got {self.temperature_unit!r}."
            )
        if self.blood_pressure_style not in ("panel", "separate"):
            raise ValueError(
                "ClinicalProfile.blood_pressure_style must be 'panel' or 'separate'; "
                f"got {self.blood_pressure_style!r}."
            )
        if not 18 <= self.age_mean <= 95 or self.age_sd <= 0:
            raise ValueError(
                f"ClinicalProfile age must have mean in 18..95 and positive sd; got {self.age_mean}, {self.age_sd}."
            )


@dataclass(frozen=True, slots=True, kw_only=True)
class ReferenceStandard:
    """How a site established its reference labels.

    Parameters
    ----------
    cxr_readers : int
        Number of radiologists who read each chest radiograph independently.
    cxr_adjudication : str
        How disagreements were resolved.
    aki_method : str
        How the acute kidney injury label was established.
    label_noise : float
        Probability that a reference label disagrees with the truth (the reference standard is imperfect).
    """

    cxr_readers: int
    cxr_adjudication: str
    aki_method: str
    label_noise: float

    def __post_init__(self) -> None:
        if self.cxr_readers < 1:
            raise ValueError(f"ReferenceStandard.cxr_readers must be >= 1; got {self.cxr_readers!r}.")
        if not 0.0 <= self.label_noise <= 0.2:
            raise ValueError(f"ReferenceStandard.label_noise must lie in [0, 0.2]; got {self.label_noise!r}.")

    def describe(self, task: str) -> str:
        """One line saying how labels of ``task`` were established (written into the reference CSV)."""
        if task == "cxr-pneumonia":
            return f"{self.cxr_readers} radiologist(s); {self.cxr_adjudication}"
        return self.aki_method


@dataclass(frozen=True, slots=True, kw_only=True)
class SiteProfile:
    """One hospital of the clinical validation centre.

    Parameters
    ----------
    code : str
        ``"H01"`` .. ``"H16"`` or ``"DEV"``.
    name, name_local : str
        Fictional hospital name in English and in Chinese.
    city, city_local : str
        Fictional city.
    address : str
        Institution address (InstitutionAddress).
    region_code : str
        Six-digit administrative division code of the city (first digits of local resident ID numbers).
    index : int
        Stable position of the site (``DEV`` is 0, ``H01`` is 1, ...); seeds the site's random stream.
    public : bool
        True for the public development site.
    imaging, clinical, reference : ImagingProfile, ClinicalProfile, ReferenceStandard
        The site's profile.
    """

    code: str
    name: str
    name_local: str
    city: str
    city_local: str
    address: str
    region_code: str
    index: int
    public: bool
    imaging: ImagingProfile
    clinical: ClinicalProfile
    reference: ReferenceStandard

    def __post_init__(self) -> None:
        if not (self.code == "DEV" or (len(self.code) == 3 and self.code[0] == "H" and self.code[1:].isdigit())):
            raise ValueError(f"SiteProfile.code must be 'DEV' or 'H' followed by two digits; got {self.code!r}.")
        if len(self.region_code) != 6 or not self.region_code.isdigit():
            raise ValueError(f"SiteProfile.region_code must be six digits; got {self.region_code!r}.")


_CITIES = {
    # city: (local name, region code, districts as (English, Chinese))
    "Qiantang": ("钱塘", "330191"),
    "Yongning": ("甬宁", "330291"),
    "Oubin": ("瓯滨", "330391"),
    "Jiahe": ("嘉禾", "330491"),
    "Tiaoxi": ("苕溪", "330591"),
    "Jianhu": ("鉴湖", "330691"),
    "Wuzhou": ("婺州", "330791"),
    "Zhouhai": ("舟海", "330991"),
}

_READ2 = "two readers; a senior thoracic radiologist adjudicated disagreements"
_READ3 = "three readers; majority vote"
_READ1 = "single reader (clinical report)"
_KDIGO = "KDIGO creatinine criteria computed from serial creatinine; reviewed by a nephrologist"
_KDIGO_AUTO = "KDIGO creatinine criteria computed automatically from the laboratory system"

_E, _I, _D = EXPLICIT_VR_LITTLE_ENDIAN, IMPLICIT_VR_LITTLE_ENDIAN, DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN

# code, English name, Chinese name, city, street address,
# imaging: modality, manufacturer, model, bits, fov, photometric, syntax, charset, lut centre, lut width, gamma,
#          noise, nonuniformity, blur, burned-in fraction, AP fraction
# clinical: pneumonia prevalence, AKI shift, age mean, age sd, female, western names, creatinine unit, coding,
#           temperature unit, blood pressure style
# reference: readers, adjudication, AKI method, label noise
_TABLE = (
    ("DEV", "Xiling Lake Open Development Hospital", "西泠湖开放研发医院", "Qiantang", "88 Baidi Road",
     ("DX", "GE Healthcare", "Definium 656", 12, 430.0, "MONOCHROME2", _E, "ISO_IR 192", 0.42, 0.22, 1.0,
      0.015, 0.02, 1.0, 0.10, 0.10),
     (0.35, 0.0, 58.0, 16.0, 0.48, 0.30, "mg/dL", "loinc", "Cel", "panel"),
     (3, _READ3, _KDIGO, 0.01)),
    ("H01", "Qiantang First People's Hospital", "钱塘市第一人民医院", "Qiantang", "261 Jiefang Road",
     ("DX", "Siemens Healthineers", "Ysio Max", 12, 430.0, "MONOCHROME2", _E, "ISO_IR 192", 0.43, 0.23, 1.05,
      0.016, 0.02, 1.0, 0.15, 0.10),
     (0.30, 0.0, 60.0, 16.0, 0.50, 0.05, "mg/dL", "loinc", "Cel", "panel"),
     (2, _READ2, _KDIGO, 0.02)),
    ("H02", "Qiantang Hospital of Integrated Medicine", "钱塘市中西医结合医院", "Qiantang", "9 Wenhui Road",
     ("DX", "Philips", "DigitalDiagnost C90", 14, 427.0, "MONOCHROME2", _E, "ISO_IR 192", 0.41, 0.21, 0.95,
      0.014, 0.02, 0.9, 0.10, 0.08),
     (0.22, -0.2, 62.0, 15.0, 0.52, 0.02, "umol/L", "loinc", "Cel", "panel"),
     (2, _READ2, _KDIGO, 0.02)),
    ("H03", "Yongning Central Hospital", "甬宁市中心医院", "Yongning", "47 Zhongshan East Road",
     ("CR", "Fujifilm", "FCR Profect CS", 12, 430.0, "MONOCHROME2", _I, "ISO_IR 192", 0.42, 0.22, 1.0,
      0.018, 0.025, 1.2, 0.25, 0.12),
     (0.40, 0.2, 63.0, 15.0, 0.46, 0.02, "mg/dL", "loinc", "Cel", "separate"),
     (1, _READ1, _KDIGO_AUTO, 0.04)),
    ("H04", "Yongning Harbour District Hospital", "甬宁市港区医院", "Yongning", "3 Haitian Road",
     ("CR", "Fujifilm", "FCR Capsula XLII", 10, 430.0, "MONOCHROME1", _E, "ISO_IR 192", 0.50, 0.18, 1.4,
      0.06, 0.12, 2.4, 0.30, 0.25),
     (0.45, 0.4, 66.0, 14.0, 0.44, 0.01, "umol/L", "loinc", "Cel", "panel"),
     (1, _READ1, _KDIGO_AUTO, 0.05)),
    ("H05", "Oubin Medical University Affiliated Hospital", "瓯滨医科大学附属医院", "Oubin", "1 Nanbaixiang Road",
     ("DX", "United Imaging", "uDR 780i", 14, 432.0, "MONOCHROME2", _E, "ISO_IR 192", 0.42, 0.22, 1.0,
      0.015, 0.02, 1.0, 0.10, 0.10),
     (0.28, 0.0, 57.0, 17.0, 0.49, 0.03, "umol/L", "loinc", "Cel", "panel"),
     (3, _READ3, _KDIGO, 0.01)),
    ("H06", "Oubin People's Hospital", "瓯滨市人民医院", "Oubin", "108 Xinhe Street",
     ("CR", "Carestream", "DRX-Evolution", 12, 430.0, "MONOCHROME1", _E, "ISO_IR 192", 0.43, 0.22, 1.0,
      0.017, 0.02, 1.1, 0.20, 0.10),
     (0.33, 0.1, 61.0, 16.0, 0.50, 0.02, "mg/dL", "loinc", "[degF]", "separate"),
     (2, _READ2, _KDIGO, 0.02)),
    ("H07", "Jiahe Second Hospital", "嘉禾市第二医院", "Jiahe", "1518 Huancheng North Road",
     ("DX", "Canon", "CXDI-710C", 14, 428.0, "MONOCHROME2", _E, "ISO_IR 192", 0.41, 0.23, 1.0,
      0.016, 0.02, 1.0, 0.12, 0.10),
     (0.25, 0.1, 64.0, 15.0, 0.47, 0.01, "umol/L", "local", "Cel", "panel"),
     (2, _READ2, _KDIGO_AUTO, 0.03)),
    ("H08", "Jiahe Women and General Hospital", "嘉禾市妇女综合医院", "Jiahe", "56 Zhongyuan Road",
     ("DX", "United Imaging", "uDR 596i", 16, 345.0, "MONOCHROME2", _E, "ISO_IR 192", 0.45, 0.30, 1.2,
      0.04, 0.12, 1.6, 0.10, 0.15),
     (0.20, -0.4, 48.0, 15.0, 0.70, 0.02, "mg/dL", "loinc", "Cel", "panel"),
     (2, _READ2, _KDIGO, 0.02)),
    ("H09", "Tiaoxi Provincial Hospital", "苕溪省立医院", "Tiaoxi", "77 Renmin Road",
     ("DX", "Siemens Healthineers", "Multix Impact", 12, 430.0, "MONOCHROME2", _E, "GB18030", 0.42, 0.22, 1.0,
      0.015, 0.02, 1.0, 0.15, 0.10),
     (0.30, 0.0, 59.0, 16.0, 0.50, 0.0, "umol/L", "loinc", "Cel", "panel"),
     (3, _READ3, _KDIGO, 0.01)),
    ("H10", "Jianhu International Medical Centre", "鉴湖国际医疗中心", "Jianhu", "2 Binjiang Avenue",
     ("DX", "GE Healthcare", "Discovery XR656", 14, 430.0, "MONOCHROME2", _E, "ISO_IR 100", 0.42, 0.22, 1.0,
      0.015, 0.02, 1.0, 0.10, 0.08),
     (0.27, -0.1, 52.0, 17.0, 0.51, 0.65, "mg/dL", "loinc", "[degF]", "separate"),
     (2, _READ2, _KDIGO, 0.02)),
    ("H11", "Jianhu County Emergency Hospital", "鉴湖县急救医院", "Jianhu", "19 Qingyun Road",
     ("DX", "Canon", "CXDI-702C Wireless", 12, 360.0, "MONOCHROME2", _E, "ISO_IR 192", 0.47, 0.20, 1.3,
      0.05, 0.12, 2.0, 0.35, 0.85),
     (0.50, 0.5, 70.0, 13.0, 0.45, 0.01, "umol/L", "loinc", "Cel", "panel"),
     (1, _READ1, _KDIGO_AUTO, 0.05)),
    ("H12", "Wuzhou Central Hospital", "婺州市中心医院", "Wuzhou", "351 Bayi North Street",
     ("DX", "Philips", "DigitalDiagnost C50", 12, 430.0, "MONOCHROME2", _I, "ISO_IR 192", 0.43, 0.22, 1.0,
      0.016, 0.02, 1.0, 0.10, 0.10),
     (0.32, 0.0, 62.0, 16.0, 0.49, 0.02, "mg/dL", "loinc", "Cel", "panel"),
     (2, _READ2, _KDIGO, 0.02)),
    ("H13", "Wuzhou Mountain District Hospital", "婺州市山区医院", "Wuzhou", "8 Shuangxi Road",
     ("CR", "Agfa", "DX-G", 12, 400.0, "MONOCHROME1", _E, "ISO_IR 192", 0.52, 0.16, 1.35,
      0.04, 0.10, 2.2, 0.30, 0.20),
     (0.38, 0.3, 67.0, 13.0, 0.46, 0.0, "umol/L", "loinc", "Cel", "separate"),
     (1, _READ1, _KDIGO_AUTO, 0.05)),
    ("H14", "Zhouhai Island Hospital", "舟海市海岛医院", "Zhouhai", "23 Haibin Road",
     ("DX", "Fujifilm", "FDR Smart X", 12, 430.0, "MONOCHROME2", _E, "ISO_IR 192", 0.42, 0.22, 1.0,
      0.017, 0.02, 1.0, 0.15, 0.12),
     (0.29, 0.1, 63.0, 15.0, 0.48, 0.02, "mg/dL", "loinc", "Cel", "panel"),
     (2, _READ2, _KDIGO, 0.02)),
    ("H15", "Zhouhai Fishermen's Hospital", "舟海市渔民医院", "Zhouhai", "5 Yugang Road",
     ("DX", "Philips", "MobileDiagnost wDR", 10, 375.0, "MONOCHROME2", _D, "ISO_IR 192", 0.50, 0.18, 1.4,
      0.045, 0.10, 1.8, 0.25, 0.60),
     (0.42, 0.3, 65.0, 14.0, 0.40, 0.01, "umol/L", "loinc", "Cel", "panel"),
     (1, _READ1, _KDIGO_AUTO, 0.04)),
    ("H16", "Tiaoxi Red Cross Hospital", "苕溪红十字会医院", "Tiaoxi", "12 Huancheng West Road",
     ("DX", "Siemens Healthineers", "Ysio X.pree", 14, 430.0, "MONOCHROME2", _E, "ISO_IR 192", 0.42, 0.22, 1.0,
      0.015, 0.02, 1.0, 0.10, 0.10),
     (0.31, 0.0, 60.0, 16.0, 0.50, 0.04, "mg/dL", "loinc", "Cel", "panel"),
     (2, _READ2, _KDIGO, 0.02)),
)


def _build() -> Mapping[str, SiteProfile]:
    sites: dict[str, SiteProfile] = {}
    for index, (code, name, name_local, city, street, img, clin, ref) in enumerate(_TABLE):
        city_local, region = _CITIES[city]
        imaging = ImagingProfile(
            modality=img[0], manufacturer=img[1], model_name=img[2], bits_stored=img[3], field_of_view_mm=img[4],
            photometric_interpretation=img[5], transfer_syntax_uid=img[6], specific_character_set=img[7],
            lut_center=img[8], lut_width=img[9], contrast_gamma=img[10], noise_sigma=img[11],
            nonuniformity=img[12], blur_mm=img[13], burned_in_fraction=img[14], ap_fraction=img[15],
        )
        clinical = ClinicalProfile(
            pneumonia_prevalence=clin[0], aki_risk_shift=clin[1], age_mean=clin[2], age_sd=clin[3],
            female_fraction=clin[4], western_name_fraction=clin[5], creatinine_unit=clin[6],
            creatinine_coding=clin[7], temperature_unit=clin[8], blood_pressure_style=clin[9],
        )
        reference = ReferenceStandard(cxr_readers=ref[0], cxr_adjudication=ref[1], aki_method=ref[2],
                                      label_noise=ref[3])
        sites[code] = SiteProfile(
            code=code, name=name, name_local=name_local, city=city, city_local=city_local,
            address=f"{street}, {city}, Zhejiang-like Province, China", region_code=region, index=index,
            public=code == "DEV", imaging=imaging, clinical=clinical, reference=reference,
        )
    return MappingProxyType(sites)


SITES: Mapping[str, SiteProfile] = _build()
"""Every site by code, ``DEV`` first, then ``H01`` .. ``H16`` (read-only mapping)."""

SITE_CODES: tuple[str, ...] = tuple(SITES)
"""All site codes, ``DEV`` first."""

HOSPITAL_CODES: tuple[str, ...] = tuple(code for code in SITES if code != "DEV")
"""The sixteen partner hospitals ``H01`` .. ``H16``."""

DEV_CODE = "DEV"
"""Code of the public development site."""


def get_site(code: str) -> SiteProfile:
    """Return the profile of the site with ``code``.

    Parameters
    ----------
    code : str
        ``"H01"`` .. ``"H16"`` or ``"DEV"`` (case-insensitive, surrounding blanks ignored).

    Returns
    -------
    SiteProfile

    Raises
    ------
    UnknownSiteError
        If ``code`` names no registered site.

    Examples
    --------
    >>> get_site("h09").imaging.specific_character_set
    'GB18030'
    """
    key = code.strip().upper() if isinstance(code, str) else code
    try:
        return SITES[key]
    except (KeyError, TypeError):
        raise UnknownSiteError(
            f"unknown site code {code!r}; use one of {', '.join(SITE_CODES)}."
        ) from None
