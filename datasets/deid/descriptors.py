"""Clean Descriptors Option: keep only words from a safe vocabulary.

PS3.15 E.3.5 leaves the method of cleaning to the implementation. Our choice:
a descriptor (Study Description, Series Description, Image Comments, ...) is
split into words; a word survives only if it is in :data:`SAFE_VOCABULARY`
(imaging modality, anatomy, plane, sequence, contrast and technique terms,
case-insensitive) or is a short number with an optional unit (``5``, ``2.5MM``,
``T1``). Everything else (names, dates, IDs, accession numbers, words in any
other script) is dropped. If nothing survives, the element gets the Basic
Profile action. Cleaning is idempotent: a cleaned text cleans to itself.
"""

from __future__ import annotations

import re

__all__ = ["SAFE_VOCABULARY", "clean_descriptor"]

SAFE_VOCABULARY: frozenset[str] = frozenset(
    """
    CT MR MRI PET NM US CR DX MG XA RF SC OT SPECT CTA MRA DWI ADC DTI FLAIR SWI GRE FSE TSE SE IR STIR
    T1 T2 T1W T2W PD PDW MPRAGE SPGR BOLD PERFUSION DIFFUSION TOF LOCALIZER LOCALISER SCOUT TOPOGRAM
    SURVIEW PLANNING CALIBRATION PHANTOM QA TEST
    AXIAL AX SAGITTAL SAG CORONAL COR OBLIQUE OBL TRANSVERSE TRA 3D 2D MPR MIP MINIP VR RECON
    RECONSTRUCTION REFORMAT REFORMATTED PA AP LAT LATERAL LL RL LR SUPINE PRONE ERECT DECUBITUS
    UPRIGHT PORTABLE FRONTAL VIEW VIEWS
    HEAD BRAIN NECK CHEST THORAX LUNG LUNGS HEART CARDIAC CORONARY AORTA ABDOMEN ABD PELVIS SPINE
    CERVICAL THORACIC LUMBAR SACRUM LIVER KIDNEY KIDNEYS RENAL PANCREAS SPLEEN BREAST BREASTS
    PROSTATE KNEE HIP SHOULDER ANKLE WRIST ELBOW HAND FOOT LEG ARM EXTREMITY EXTREMITIES SKULL
    SINUS SINUSES ORBIT ORBITS FACE FACIAL TEMPORAL BONE BONES JOINT WHOLE BODY WB TORSO
    VASCULAR ANGIO ANGIOGRAPHY VENOGRAM ARTERIAL VENOUS PORTAL DELAYED EARLY LATE PHASE
    LEFT RIGHT BILATERAL LT RT BOTH UPPER LOWER
    CONTRAST NONCONTRAST NON WITH WITHOUT W WO W/O W/ C+ C- IV ORAL PRE POST ENHANCED UNENHANCED
    ROUTINE STANDARD PROTOCOL SCREENING DIAGNOSTIC FOLLOW UP FOLLOWUP STAGING BIOPSY GUIDED
    HIGH LOW RESOLUTION HR HRCT LOW-DOSE LDCT DOSE THIN THICK SLICE SLICES SECTION SERIES STUDY
    IMAGE IMAGES SOFT TISSUE LUNGWINDOW WINDOW KERNEL SHARP SMOOTH FILTER ITERATIVE FBP
    BONEWINDOW MEDIASTINUM MEDIASTINAL ATTENUATION CORRECTED AC NAC CORRECTION FDG PSMA DOTATATE
    STATIC DYNAMIC GATED FUSED FUSION EMISSION TRANSMISSION SUMMARY DERIVED PRIMARY ORIGINAL
    SECONDARY SCREEN SAVE SCREENSAVE MONOCHROME COLOR COLOUR RGB
    AND OF THE TO FOR IN ON BY
    """.split()
)

_NUMBER = re.compile(r"^\d{1,3}(?:\.\d{1,2})?(?:MM|CM|M|MS|S|KV|MA|MAS|DEG|SEC|MIN|T|X)?$")
_SPLIT = re.compile(r"[\s_,;:()\[\]{}\"'|^=*#]+")


def _word_is_safe(word: str) -> bool:
    up = word.upper()
    return up in SAFE_VOCABULARY or bool(_NUMBER.match(up))


def clean_descriptor(text: str) -> str:
    """Reduce a free-text descriptor to its safe-vocabulary words.

    Parameters
    ----------
    text : str
        The decoded descriptor value.

    Returns
    -------
    str
        The surviving words joined by single spaces (possibly empty).

    Examples
    --------
    >>> clean_descriptor("CT CHEST W/O CONTRAST for John Smith 20230101")
    'CT CHEST W/O CONTRAST for'
    >>> clean_descriptor("Thorax^1HRCT_Routine (Adult)")
    'Thorax Routine'
    >>> clean_descriptor("王小明 胸部") == ""
    True
    """
    words = []
    for raw in _SPLIT.split(text):
        word = raw.strip(".-+/\\")
        if not word:
            continue
        if _word_is_safe(raw):
            words.append(raw)
        elif _word_is_safe(word):
            words.append(word)
    return " ".join(words)
