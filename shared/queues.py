"""Queue ids: which unit's queue a case is in, as the router, intake, metrics and the console spell it.

A queue id is ``<kind>:<body>``, the kind being a ``UnitKind``:

- ``street:<区>/<街乡镇>``, e.g. ``street:大兴区/西红门镇`` (直派 to a street, town or township);
- ``district:<区>``, e.g. ``district:大兴区`` (the district sub-centre, 分中心);
- ``department:<name>``, e.g. ``department:市民政局`` (a 委办局, as the dispatch catalogue names it);
- ``manual:<why>``: ``manual:dispatch`` (人工派单) or ``manual:classification`` (人工分拣).

``QueueId.parse`` is the one place the text is split; ``str(queue)`` writes it back unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass

from shared.events import UnitKind

SEPARATOR = ":"
PLACE_SEPARATOR = "/"
# Display names of the manual queues (what an operator sees as the unit).
MANUAL_UNIT_NAMES = {
    "dispatch": "人工派单 (manual dispatch)",
    "classification": "人工分拣 (manual classification)",
}


def qualified_street(district: str, street: str) -> str:
    """'区/街乡镇': a street/town named with its district, as street queues, catalogue rules and areas write it."""
    return f"{district}{PLACE_SEPARATOR}{street}"


def split_qualified_street(text: str) -> tuple[str, str | None]:
    """(district, street) of '区/街乡镇'; (text, None) for a bare name."""
    district, slash, street = text.partition(PLACE_SEPARATOR)
    return (district, street) if slash else (text, None)


class QueueIdError(ValueError):
    """The text is not a queue id; the message says what was expected."""


@dataclass(frozen=True, slots=True)
class QueueId:
    """A parsed queue id: its unit kind and what follows ``<kind>:``."""

    kind: UnitKind
    body: str

    def __post_init__(self) -> None:
        if not self.body or self.body != self.body.strip():
            raise QueueIdError(f"bad queue id {str(self)!r}: nothing (or blanks around the name) after '{self.kind}:'")
        if self.kind is UnitKind.street:
            district, slash, street = self.body.partition(PLACE_SEPARATOR)
            if not slash or not district or not street or PLACE_SEPARATOR in street:
                raise QueueIdError(f"bad queue id {str(self)!r}: expected 'street:<区>/<街乡镇>'")
        elif self.kind is UnitKind.district and PLACE_SEPARATOR in self.body:
            raise QueueIdError(f"bad queue id {str(self)!r}: expected 'district:<区>'")

    @classmethod
    def parse(cls, text: str) -> QueueId:
        """The queue id ``text`` spells; ``QueueIdError`` names what is wrong with a bad one."""
        prefix, colon, body = str(text).partition(SEPARATOR)
        try:
            kind = UnitKind(prefix)
        except ValueError:
            kind = None
        if not colon or kind is None:
            kinds = ", ".join(f"'{k.value}:'" for k in UnitKind)
            raise QueueIdError(f"bad queue id {text!r}: expected one of {kinds} followed by the unit")
        return cls(kind, body)

    @classmethod
    def try_parse(cls, text: str) -> QueueId | None:
        """The queue id, or None when ``text`` is not one."""
        try:
            return cls.parse(text)
        except QueueIdError:
            return None

    @classmethod
    def for_street(cls, district: str, street: str) -> QueueId:
        return cls(UnitKind.street, qualified_street(district, street))

    @classmethod
    def for_district(cls, district: str) -> QueueId:
        return cls(UnitKind.district, district)

    @classmethod
    def for_department(cls, name: str) -> QueueId:
        return cls(UnitKind.department, name)

    @classmethod
    def for_manual(cls, why: str) -> QueueId:
        return cls(UnitKind.manual, why)

    def __str__(self) -> str:
        return f"{self.kind.value}{SEPARATOR}{self.body}"

    @property
    def district(self) -> str | None:
        """The 区 of a street or district queue."""
        if self.kind is UnitKind.street:
            return split_qualified_street(self.body)[0]
        return self.body if self.kind is UnitKind.district else None

    @property
    def street(self) -> str | None:
        """The 街乡镇 of a street queue."""
        return split_qualified_street(self.body)[1] if self.kind is UnitKind.street else None

    @property
    def department(self) -> str | None:
        """The 委办局 of a department queue."""
        return self.body if self.kind is UnitKind.department else None

    @property
    def label(self) -> str:
        """The short name: the street/town of a street queue, else the body (西红门镇, 大兴区, 市民政局)."""
        street = self.street
        return self.body if street is None else street

    @property
    def unit_name(self) -> str:
        """The unit's display name as an assignment carries it: 大兴区西红门镇, 大兴区分中心, 市民政局, 人工派单 …"""
        if self.kind is UnitKind.street:
            return f"{self.district}{self.street}"
        if self.kind is UnitKind.district:
            return f"{self.body}分中心"
        if self.kind is UnitKind.manual:
            return MANUAL_UNIT_NAMES.get(self.body, str(self))
        return self.body


MANUAL_DISPATCH = QueueId.for_manual("dispatch")
MANUAL_CLASSIFICATION = QueueId.for_manual("classification")
MANUAL_DISPATCH_QUEUE = str(MANUAL_DISPATCH)
MANUAL_CLASSIFICATION_QUEUE = str(MANUAL_CLASSIFICATION)
DEPARTMENT_PREFIX = f"{UnitKind.department.value}{SEPARATOR}"


def kind_of(queue_id: str) -> UnitKind | None:
    """The unit kind of a queue id, or None when the text is not one."""
    queue = QueueId.try_parse(queue_id)
    return None if queue is None else queue.kind


def queue_label(queue_id: str) -> str:
    """The short display name of a queue id (``street:大兴区/西红门镇`` -> 西红门镇); the text itself when not one."""
    queue = QueueId.try_parse(queue_id)
    return queue_id if queue is None else queue.label


# Priorities (``Assignment.priority``, 1 = most urgent): a life-or-safety call (gas, fire, a person trapped,
# a burst main, violence) is dispatched at URGENT_PRIORITY and read first in every queue.
URGENT_PRIORITY = 1
URGENT = "urgent"
NORMAL = "normal"


def priority_label(priority: int | None) -> str:
    """'urgent' for a life-or-safety case (priority 1), 'normal' otherwise (unknown counts as normal)."""
    return URGENT if priority is not None and priority <= URGENT_PRIORITY else NORMAL


def is_urgent(priority: int | None) -> bool:
    """Whether a case of this priority is urgent (read first in its queue, on short deadlines)."""
    return priority_label(priority) == URGENT
