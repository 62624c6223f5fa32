"""Fictional people and identifiers: names, resident ID numbers, phone numbers, addresses, MRNs.

Everything is drawn from a seeded :class:`numpy.random.Generator`; nothing here names a real person on purpose.
The 18-digit resident identity numbers follow GB 11643-1999: a six-digit administrative division code, the birth
date, a three-digit sequence (odd for men, even for women) and an ISO 7064 MOD 11-2 check character.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np

# (pinyin, hanzi). Common surnames; given-name syllables split by the sex they are more usual for.
_SURNAMES = (
    ("Wang", "王"), ("Li", "李"), ("Zhang", "张"), ("Liu", "刘"), ("Chen", "陈"), ("Yang", "杨"), ("Huang", "黄"),
    ("Zhao", "赵"), ("Wu", "吴"), ("Zhou", "周"), ("Xu", "徐"), ("Sun", "孙"), ("Ma", "马"), ("Zhu", "朱"),
    ("Hu", "胡"), ("Guo", "郭"), ("He", "何"), ("Lin", "林"), ("Luo", "罗"), ("Zheng", "郑"), ("Jin", "金"),
    ("Ye", "叶"), ("Shen", "沈"), ("Jiang", "蒋"), ("Shao", "邵"), ("Lou", "楼"), ("Ying", "应"), ("Fang", "方"),
)
_GIVEN_M = (
    ("Wei", "伟"), ("Qiang", "强"), ("Lei", "磊"), ("Jun", "军"), ("Yong", "勇"), ("Jie", "杰"), ("Tao", "涛"),
    ("Ming", "明"), ("Chao", "超"), ("Gang", "刚"), ("Jian", "建"), ("Guo", "国"), ("Zhi", "志"), ("Hai", "海"),
    ("Hao", "浩"), ("Yu", "宇"), ("Bin", "斌"), ("Peng", "鹏"), ("Hui", "辉"), ("Long", "龙"),
)
_GIVEN_F = (
    ("Fang", "芳"), ("Na", "娜"), ("Min", "敏"), ("Jing", "静"), ("Li", "丽"), ("Yan", "艳"), ("Juan", "娟"),
    ("Xiu", "秀"), ("Xia", "霞"), ("Ping", "平"), ("Ying", "英"), ("Hua", "华"), ("Xiao", "晓"), ("Hong", "红"),
    ("Ling", "玲"), ("Ting", "婷"), ("Lin", "琳"), ("Qian", "倩"), ("Yue", "月"), ("Lan", "兰"),
)
_WEST_FAMILY = (
    "Smith", "Miller", "Schmidt", "Rossi", "Dubois", "Novak", "Jensen", "Kowalski", "Garcia", "Brennan",
    "Andersson", "Moreau", "Fischer", "Costa", "Walsh", "Horvath", "Larsen", "Keller", "Duarte", "Morgan",
)
_WEST_GIVEN_M = ("James", "Lucas", "Marco", "Pierre", "Jan", "Erik", "Thomas", "Daniel", "Felix", "Oliver")
_WEST_GIVEN_F = ("Anna", "Sophie", "Maria", "Claire", "Eva", "Laura", "Emma", "Julia", "Nora", "Helena")

_DISTRICTS = (("Dongcheng", "东城"), ("Xicheng", "西城"), ("Nanhu", "南湖"), ("Beishan", "北山"), ("Jiangbin", "江滨"))
_ROADS = (
    ("Jiefang", "解放"), ("Zhongshan", "中山"), ("Renmin", "人民"), ("Wenhua", "文化"), ("Qingchun", "青春"),
    ("Yanan", "延安"), ("Fengqi", "凤起"), ("Huancheng", "环城"), ("Xueyuan", "学院"), ("Heping", "和平"),
    ("Xinhua", "新华"), ("Chaohui", "潮汇"),
)
# Birthplace division codes used for patients born outside the site's city.
_OTHER_REGIONS = ("110105", "310104", "320106", "340104", "360102", "350203", "430102", "510107", "330191",
                  "330391", "330591", "330791")
_MOBILE_PREFIXES = ("130", "131", "132", "135", "136", "137", "138", "139", "150", "151", "152", "158", "159",
                    "177", "180", "181", "186", "187", "188", "189", "199")
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"


def resident_id_check_char(first17: str) -> str:
    """Check character of a GB 11643-1999 resident identity number from its first 17 digits (ISO 7064 MOD 11-2)."""
    total = sum(int(d) * w for d, w in zip(first17, _ID_WEIGHTS, strict=True))
    return _ID_CHECK[total % 11]


@dataclass(frozen=True, slots=True, kw_only=True)
class PersonName:
    """A name in romanised and (for Chinese names) ideographic form."""

    family: str
    given: str
    family_local: str = ""
    given_local: str = ""

    @property
    def text(self) -> str:
        """Romanised display form, e.g. ``"Zhang Wei"``."""
        return f"{self.family} {self.given}"

    @property
    def local(self) -> str:
        """Ideographic form without separator, e.g. ``"张伟"``; empty for Western names."""
        return f"{self.family_local}{self.given_local}"

    def dicom(self, charset: str) -> str:
        """DICOM PN value; with an ideographic component group where the character set can carry it."""
        alpha = f"{self.family}^{self.given}"
        if self.family_local and charset in ("ISO_IR 192", "GB18030"):
            return f"{alpha}={self.family_local}^{self.given_local}"
        return alpha

    def tokens(self) -> tuple[str, ...]:
        out = [self.text, f"{self.family}^{self.given}"]
        if self.family_local:
            out += [self.local, f"{self.family_local}^{self.given_local}"]
        return tuple(out)


@dataclass(frozen=True, slots=True, kw_only=True)
class Person:
    """A patient (or contact) with the identifiers a hospital record carries."""

    name: PersonName
    sex: str  # "M" or "F"
    birth_date: dt.date
    resident_id: str  # 18 characters; Western patients carry a passport number instead
    passport: str
    mobile: str
    address_local: str
    address_en: str
    district: str
    district_local: str
    postal_code: str
    mrn: str
    contact: PersonName
    contact_mobile: str

    @property
    def chinese(self) -> bool:
        return bool(self.name.family_local)

    @property
    def address(self) -> str:
        """The address as the hospital records it (Chinese for Chinese patients)."""
        return self.address_local if self.chinese else self.address_en


def _pick(rng: np.random.Generator, seq):
    return seq[int(rng.integers(len(seq)))]


def chinese_name(rng: np.random.Generator, sex: str) -> PersonName:
    fam, fam_l = _pick(rng, _SURNAMES)
    pool = _GIVEN_M if sex == "M" else _GIVEN_F
    n_syl = 1 if rng.random() < 0.35 else 2
    parts = [_pick(rng, pool) for _ in range(n_syl)]
    given = "".join(p[0] for p in parts).capitalize()
    return PersonName(family=fam, given=given, family_local=fam_l, given_local="".join(p[1] for p in parts))


def western_name(rng: np.random.Generator, sex: str) -> PersonName:
    given = _pick(rng, _WEST_GIVEN_M if sex == "M" else _WEST_GIVEN_F)
    return PersonName(family=_pick(rng, _WEST_FAMILY), given=given)


def mobile_number(rng: np.random.Generator) -> str:
    return _pick(rng, _MOBILE_PREFIXES) + "".join(str(d) for d in rng.integers(0, 10, size=8))


def resident_id(rng: np.random.Generator, region: str, birth: dt.date, sex: str) -> str:
    seq = int(rng.integers(0, 499)) * 2 + (1 if sex == "M" else 2)  # odd for men, even for women, never 000
    first17 = f"{region}{birth:%Y%m%d}{seq:03d}"
    return first17 + resident_id_check_char(first17)


def make_person(
    rng: np.random.Generator,
    *,
    sex: str,
    birth_date: dt.date,
    western: bool,
    mrn: str,
    city: str,
    city_local: str,
    region: str,
) -> Person:
    """Draw a fictional person with every identifier a hospital record carries."""
    name = western_name(rng, sex) if western else chinese_name(rng, sex)
    born_here = rng.random() < 0.7
    rid = "" if western else resident_id(rng, region if born_here else _pick(rng, _OTHER_REGIONS), birth_date, sex)
    passport = f"P{int(rng.integers(10**7, 10**8))}" if western else ""
    d_en, d_local = _pick(rng, _DISTRICTS)
    r_en, r_local = _pick(rng, _ROADS)
    num, bld, room = int(rng.integers(1, 999)), int(rng.integers(1, 30)), int(rng.integers(101, 2800))
    contact_sex = "F" if sex == "M" else "M"
    contact = western_name(rng, contact_sex) if western else chinese_name(rng, contact_sex)
    if not western:  # a spouse usually keeps her or his own surname; a child shares it
        if rng.random() < 0.4:
            contact = PersonName(family=name.family, given=contact.given, family_local=name.family_local,
                                 given_local=contact.given_local)
    return Person(
        name=name,
        sex=sex,
        birth_date=birth_date,
        resident_id=rid,
        passport=passport,
        mobile=mobile_number(rng),
        address_local=f"{city_local}市{d_local}区{r_local}路{num}号{bld}幢{room}室",
        address_en=f"{num} {r_en} Rd, Bldg {bld} Rm {room}, {d_en}, {city}",
        district=d_en,
        district_local=d_local,
        postal_code=f"3{int(rng.integers(10000, 20000)):05d}",
        mrn=mrn,
        contact=contact,
        contact_mobile=mobile_number(rng),
    )
